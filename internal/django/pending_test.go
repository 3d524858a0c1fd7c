package django

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// Pending reads the fixture's migrations without a database and marks the
// operations a deploy would refuse, with the deploy's own analysis.
func TestPendingMarksUnsafe(t *testing.T) {
	python := findPython()
	if python == "" {
		t.Skip("no Python with Django here")
	}
	env := map[string]string{"DJANGO_SETTINGS_MODULE": "config.settings", "SHELF_DB": filepath.Join(t.TempDir(), "never-opened.sqlite3")}
	run := LocalRunner(python, "testdata/project", env)
	ms, err := Pending(context.Background(), run, []string{"shelf.0001_initial", "shelf.0002_seed", "contenttypes.0001_initial"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	unsafe := map[string]int{}
	for _, m := range ms {
		names = append(names, m.String())
		for _, op := range m.Operations {
			if op.Unsafe != "" {
				unsafe[m.String()]++
			}
		}
	}
	// Django's own apps' migrations are not the project's: left out.
	if got := strings.Join(names, " "); got != "shelf.0003_book_isbn_pages shelf.0004_rename_author shelf.0005_remove_year" {
		t.Errorf("pending = %s", got)
	}
	for _, m := range []string{"shelf.0003_book_isbn_pages", "shelf.0004_rename_author", "shelf.0005_remove_year"} {
		if unsafe[m] != 1 {
			t.Errorf("%s: %d unsafe operations, want 1 (%v)", m, unsafe[m], ms)
		}
	}
	if _, err := Pending(context.Background(), LocalRunner(python, "testdata/project", map[string]string{"DJANGO_SETTINGS_MODULE": "no.such"}), nil); err == nil {
		t.Errorf("settings that do not load: no error")
	}
}
