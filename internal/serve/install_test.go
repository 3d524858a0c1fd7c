package serve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// A failed nginx -t used to leave the new site's link dangling and
// Debian's default site gone, so the next reload or reboot failed for
// every site on the host. The undo puts back exactly what was there.
func TestNginxLinksAreUndoneExactly(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"sites-available", "sites-enabled"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sites-available/default", "debian")
	write("sites-available/hoist-shop", "new")
	write("sites-enabled/hoist-catchall", "a file someone put there")
	if err := os.Symlink("/etc/nginx/sites-available/default", filepath.Join(dir, "sites-enabled/default")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	ctx := context.Background()
	h := &remote.Host{Transport: remote.Local{}, Root: true}
	undo := filepath.Join(dir, "hoist-undo-shop")
	out, err := remote.Output(ctx, h, h.SudoScript(linkNginxScript, dir, undo, "hoist-shop", "hoist-catchall"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(out); strings.Join(got, " ") != "linked:hoist-shop linked:hoist-catchall default-removed" {
		t.Fatalf("link script said %q", out)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sites-enabled/default")); !os.IsNotExist(err) {
		t.Errorf("the default site is still enabled")
	}
	if _, err := remote.Output(ctx, h, h.SudoScript(unlinkNginxScript, dir, undo, "hoist-shop", "hoist-catchall", "default")); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, dir); after != before {
		t.Errorf("undo left\n%s\nwant\n%s", after, before)
	}
}

// tree lists a directory: each entry, with its link target or content.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(strings.TrimPrefix(p, dir))
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			b.WriteString(" -> " + target)
		} else if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.WriteString(": " + string(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
