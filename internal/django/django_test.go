package django

// These tests run the Python side for real: Debian's Django, a sqlite
// project in testdata/project, and releases laid out as on a host, driven
// through the local transport. The fixture app "shelf" has five migrations:
//
//	0001_initial          creates Book(title, author, year)
//	0002_seed             RunPython without a reverse: irreversible
//	0003_book_isbn_pages  adds isbn (nullable: safe) and pages (NOT NULL, one-off default: unsafe)
//	0004_rename_author    renames author to writer
//	0005_remove_year      drops year
//
// A release "upTo n" holds migrations 0001 to n, as successive deploys would.

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

const (
	r1 = "20260101T000001Z-aaaa001" // 0001, 0002
	r2 = "20260101T000002Z-aaaa002" // 0001 to 0003
	r3 = "20260101T000003Z-aaaa003" // 0001 to 0005
)

var findPython = sync.OnceValue(func() string {
	for _, p := range []string{os.Getenv("HOIST_PYTHON"), "/usr/bin/python3", "python3"} {
		if p != "" && exec.Command(p, "-c", "import django").Run() == nil {
			return p
		}
	}
	return ""
})

type fixture struct {
	t      *testing.T
	ctx    context.Context
	tr     remote.Local
	l      release.Layout
	python string
	db     string
}

// newFixture makes a deploy_to in a temporary directory: one venv that
// sees the system's Django, shared/ for the sqlite database.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	python := findPython()
	if python == "" {
		t.Skip("no python3 with Django here (apt-get install python3-django)")
	}
	t.Parallel()
	root := t.TempDir()
	f := &fixture{t: t, ctx: context.Background(), l: release.Layout{Root: root}, python: python}
	f.db = filepath.Join(f.l.Shared(), "db.sqlite3")
	if err := os.MkdirAll(f.l.Shared(), 0o755); err != nil {
		t.Fatal(err)
	}
	f.venv()
	return f
}

func (f *fixture) venv() {
	f.t.Helper()
	venv := filepath.Join(f.l.Venvs(), "test")
	if out, err := exec.Command(f.python, "-m", "venv", "--system-site-packages", "--without-pip", venv).CombinedOutput(); err != nil {
		f.t.Fatalf("make venv: %v\n%s", err, out)
	}
}

// release lays out release id holding the fixture's migrations up to
// number upTo, with its venv link and env file.
func (f *fixture) release(id string, upTo int) {
	f.t.Helper()
	dir := f.l.Release(id)
	if err := os.CopyFS(dir, os.DirFS("testdata/project")); err != nil {
		f.t.Fatal(err)
	}
	migrations := filepath.Join(dir, "shelf", "migrations")
	entries, err := os.ReadDir(migrations)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()[:min(4, len(e.Name()))]); err == nil && n > upTo {
			os.Remove(filepath.Join(migrations, e.Name()))
		}
	}
	if err := os.Symlink(filepath.Join(f.l.Venvs(), "test"), path.Join(dir, ".venv")); err != nil {
		f.t.Fatal(err)
	}
	if err := writeEnv(f.l, id, map[string]string{"SHELF_DB": f.db, "DJANGO_SETTINGS_MODULE": "config.settings"}); err != nil {
		f.t.Fatal(err)
	}
}

// Migrating from scratch is the slow part (Django's import, per call):
// each migrated state is made once, and tests start from a copy.
var (
	templateMu   sync.Mutex
	templates    = map[int]string{}
	templateDirs []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range templateDirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// migratedTo gives the fixture's database every migration up to upTo.
func (f *fixture) migratedTo(upTo int) {
	f.t.Helper()
	templateMu.Lock()
	defer templateMu.Unlock()
	tmpl, ok := templates[upTo]
	if !ok {
		dir, err := os.MkdirTemp("", "hoist-django-test-")
		if err != nil {
			f.t.Fatal(err)
		}
		t := &fixture{t: f.t, ctx: f.ctx, l: release.Layout{Root: dir}, python: f.python}
		t.db = filepath.Join(dir, "db.sqlite3")
		t.venv()
		t.release("20260101T000000Z-aaaa000", upTo)
		t.migrate("20260101T000000Z-aaaa000")
		tmpl = t.db
		templates[upTo] = tmpl
		templateDirs = append(templateDirs, dir)
	}
	data, err := os.ReadFile(tmpl)
	if err == nil {
		err = os.WriteFile(f.db, data, 0o644)
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

// threeReleases lays out r1, r2 and r3, as three deploys leave them.
func (f *fixture) threeReleases() {
	f.release(r1, 2)
	f.release(r2, 3)
	f.release(r3, 5)
}

func (f *fixture) migrate(id string, args ...string) {
	f.t.Helper()
	out, err := remote.Output(f.ctx, f.tr, release.Manage(f.l, id, "", append([]string{"migrate", "--noinput"}, args...)...))
	if err != nil {
		f.t.Fatalf("migrate %v with %s: %v\n%s", args, id, err, out)
	}
}

// sql changes the database behind Django's back, as a person with dbshell
// or a half-finished rollback would.
func (f *fixture) sql(stmt string) {
	f.t.Helper()
	script := "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()"
	if out, err := exec.Command(f.python, "-c", script, f.db, stmt).CombinedOutput(); err != nil {
		f.t.Fatalf("%s: %v\n%s", stmt, err, out)
	}
}

func (f *fixture) history(id string) History {
	f.t.Helper()
	h, err := ReadHistory(f.ctx, f.tr, f.l, id, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not name %q:\n%v", p, err)
		}
	}
}

func TestPlanMarksUnsafeOperations(t *testing.T) {
	f := newFixture(t)
	f.release(r3, 5)
	plan, err := Plan(f.ctx, f.tr, f.l, r3, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	unsafe := map[string][]string{}
	for _, m := range plan {
		names = append(names, m.String())
		for _, op := range m.Operations {
			unsafe[m.Name] = append(unsafe[m.Name], op.Unsafe)
		}
	}
	want := []string{"shelf.0001_initial", "shelf.0002_seed", "shelf.0003_book_isbn_pages", "shelf.0004_rename_author", "shelf.0005_remove_year"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("plan = %v, want %v", names, want)
	}
	for name, marks := range map[string][]string{
		"0001_initial":         {""},
		"0002_seed":            {"is irreversible"},
		"0003_book_isbn_pages": {"", "adds NOT NULL column book.pages"},
		"0004_rename_author":   {"renames column book.author to writer"},
		"0005_remove_year":     {"drops column book.year"},
	} {
		got := unsafe[name]
		if len(got) != len(marks) {
			t.Errorf("%s: %d operations, want %d", name, len(got), len(marks))
			continue
		}
		for i, m := range marks {
			if m == "" && got[i] != "" || !strings.Contains(got[i], m) {
				t.Errorf("%s operation %d: unsafe = %q, want %q", name, i, got[i], m)
			}
		}
	}

	f.migrate(r3)
	if plan, err := Plan(f.ctx, f.tr, f.l, r3, ""); err != nil || len(plan) != 0 {
		t.Errorf("after migrate: plan = %v, %v; want nothing", plan, err)
	}
	if err := f.history(r3).Problem(); err != nil {
		t.Errorf("a fully migrated release has a problem: %v", err)
	}
}

// Live r3 with every migration applied, rolled back to r1 over r2: the
// unapply targets are r1's newest migration, and afterwards the history is
// exactly r1's.
func TestRollbackAcrossTwoReleases(t *testing.T) {
	f := newFixture(t)
	f.threeReleases()
	f.migratedTo(5)

	from, to := f.history(r3), f.history(r1)
	if err := CheckSwitch(to, from); err != nil {
		t.Fatalf("switch r3 -> r1 refused: %v", err)
	}
	p, err := PlanRollback(from, to)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"shelf.0003_book_isbn_pages", "shelf.0004_rename_author", "shelf.0005_remove_year"}; !reflect.DeepEqual(p.Unapply, want) {
		t.Errorf("unapply = %v, want %v", p.Unapply, want)
	}
	if want := map[string]string{"shelf": "0002_seed"}; !reflect.DeepEqual(p.Targets, want) {
		t.Errorf("targets = %v, want %v", p.Targets, want)
	}
	if want := [][]string{{"migrate", "--noinput", "shelf", "0002_seed"}}; !reflect.DeepEqual(p.Calls(), want) {
		t.Errorf("calls = %v, want %v", p.Calls(), want)
	}
	if bad, err := Irreversible(f.ctx, f.tr, f.l, r3, "", p.Targets); err != nil || len(bad) != 0 {
		t.Fatalf("irreversible = %v, %v; want none", bad, err)
	}

	out, err := UnapplyRollback(f.ctx, f.tr, f.l, "", p)
	if err != nil {
		t.Fatalf("unapply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Unapplying shelf.0003_book_isbn_pages") {
		t.Errorf("Django's output does not show the unapply:\n%s", out)
	}
	after := f.history(r1)
	if want := []string{"shelf.0001_initial", "shelf.0002_seed"}; !reflect.DeepEqual(after.Applied, want) {
		t.Errorf("applied after = %v, want %v", after.Applied, want)
	}
	if err := after.Problem(); err != nil {
		t.Errorf("r1 after the rollback: %v", err)
	}
}

// The defect of issue 7: r3 rolled back to r2 without --migrate, then to
// r1 with --migrate. r2's code cannot undo 0004 and 0005: refuse, naming
// them, before anything changes.
func TestRollbackRefusesWhatLiveCodeLacks(t *testing.T) {
	f := newFixture(t)
	f.threeReleases()
	f.migratedTo(5)

	from, to := f.history(r2), f.history(r1)
	_, err := PlanRollback(from, to)
	mustContain(t, err, "shelf.0004_rename_author", "shelf.0005_remove_year", r2, "nothing was changed")
	mustContain(t, CheckSwitch(to, from), "shelf.0004_rename_author", "shelf.0005_remove_year")

	// rollback.go as it stands asks Irreversible with the live code: it
	// must list them too, so today's rollback refuses up front as well.
	bad, err := Irreversible(f.ctx, f.tr, f.l, r2, "", map[string]string{"shelf": "0002_seed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 || !strings.HasPrefix(bad[0], "shelf.0004_rename_author: not in this release's code, which cannot undo it") {
		t.Errorf("irreversible = %q, want 0004 and 0005 as unknown to r2", bad)
	}

	// status on r2 says what r2 lacks.
	mustContain(t, f.history(r2).Problem(), "applied but not in "+r2, "shelf.0004_rename_author")
}

func TestMigrationNoReleaseKnowsIsRefused(t *testing.T) {
	f := newFixture(t)
	f.release(r2, 3)
	f.release(r3, 5)
	f.migratedTo(3)
	f.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('shelf', '0099_by_hand', '2026-01-01 00:00:00')")

	from, to := f.history(r2), f.history(r3)
	mustContain(t, CheckSwitch(to, from), "shelf.0099_by_hand", r2, r3)
	_, err := PlanRollback(to, from)
	mustContain(t, err, "shelf.0099_by_hand")
	mustContain(t, to.Problem(), "shelf.0099_by_hand")
}

// 0003 recorded without 0002: Django's own check finds it, the plan no
// longer says "no migrations to apply", and status reports it.
func TestInconsistentHistoryIsDetected(t *testing.T) {
	f := newFixture(t)
	f.release(r2, 3)
	f.release(r3, 5)
	f.migratedTo(3)
	f.sql("DELETE FROM django_migrations WHERE app = 'shelf' AND name = '0002_seed'")

	h := f.history(r3)
	if !strings.Contains(h.Inconsistent, "shelf.0003_book_isbn_pages is applied before its dependency shelf.0002_seed") {
		t.Errorf("inconsistent = %q", h.Inconsistent)
	}
	_, err := Plan(f.ctx, f.tr, f.l, r3, "")
	mustContain(t, err, "inconsistent", "shelf.0002_seed", "migrate --fake")
	mustContain(t, CheckSwitch(h, f.history(r2)), "inconsistent")
	_, err = PlanRollback(h, f.history(r2))
	mustContain(t, err, "inconsistent", "nothing was changed")

	err = h.Problem()
	p, ok := err.(*HistoryProblem)
	if !ok {
		t.Fatalf("problem = %v, want a *HistoryProblem", err)
	}
	if want := []string{"shelf.0002_seed", "shelf.0004_rename_author", "shelf.0005_remove_year"}; !reflect.DeepEqual(p.Unapplied, want) {
		t.Errorf("unapplied = %v, want %v", p.Unapplied, want)
	}
}

func TestIrreversibleStopsRollbackPastIt(t *testing.T) {
	f := newFixture(t)
	r0 := "20260101T000000Z-aaaa000"
	f.release(r0, 1)
	f.release(r3, 5)
	f.migratedTo(5)

	p, err := PlanRollback(f.history(r3), f.history(r0))
	if err != nil {
		t.Fatal(err)
	}
	if p.Targets["shelf"] != "0001_initial" {
		t.Errorf("targets = %v", p.Targets)
	}
	bad, err := Irreversible(f.ctx, f.tr, f.l, r3, "", p.Targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "shelf.0002_seed:") {
		t.Errorf("irreversible = %q, want shelf.0002_seed", bad)
	}
}

// The unapply ran, but the history is not the target's: the verify step
// says what is left, and what was lost.
func TestVerifyRollbackNamesWhatIsLeft(t *testing.T) {
	f := newFixture(t)
	f.release(r2, 3)
	f.release(r3, 5)
	f.migratedTo(5)
	p, err := PlanRollback(f.history(r3), f.history(r2))
	if err != nil {
		t.Fatal(err)
	}
	// Only half done: 0005 undone, 0004 still there.
	f.migrate(r3, "shelf", "0004_rename_author")
	mustContain(t, VerifyRollback(f.history(r2), p), "still recorded as applied", "shelf.0004_rename_author")

	f.migrate(r3, "shelf", "0002_seed")
	mustContain(t, VerifyRollback(f.history(r2), p), "unapplied, though "+r2+" needs them: shelf.0003_book_isbn_pages")

	f.migrate(r3, "shelf", "0003_book_isbn_pages")
	if err := VerifyRollback(f.history(r2), p); err != nil {
		t.Errorf("verify after the right unapply: %v", err)
	}
}

func TestUnapplyRollbackAndShowMigrations(t *testing.T) {
	f := newFixture(t)
	f.release(r1, 2)
	f.release(r3, 5)
	if out, err := Migrate(f.ctx, f.tr, f.l, r3, ""); err != nil || !strings.Contains(out, "Applying shelf.0005_remove_year") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	p, err := PlanRollback(f.history(r3), f.history(r1))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Unapply) != 3 || p.Targets["shelf"] != "0002_seed" {
		t.Errorf("plan = %+v", p)
	}
	if out, err := UnapplyRollback(f.ctx, f.tr, f.l, "", p); err != nil {
		t.Fatalf("unapply: %v\n%s", err, out)
	}
	if out := ShowMigrations(f.ctx, f.tr, f.l, r3, "", "shelf"); !strings.Contains(out, "[X] 0002_seed") || !strings.Contains(out, "[ ] 0003_book_isbn_pages") {
		t.Errorf("showmigrations:\n%s", out)
	}
}

func TestSettingsAndChecks(t *testing.T) {
	f := newFixture(t)
	f.release(r1, 2)
	s, err := ReadSettings(f.ctx, f.tr, f.l, r1, "")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Debug || s.StaticFiles || s.HealthHost() != "shelf.test" || s.TrustsForwardedProto() {
		t.Errorf("settings = %+v", s)
	}
	// PrepareCmd reads the same settings in the same Django start as the
	// history, collects nothing without staticfiles, and saves the
	// settings, which ReadSettings then returns without starting Django.
	p, err := f.prepare(r1, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.CollectStatic != "" || !reflect.DeepEqual(p.Settings, s) || p.History == nil || p.History.Release != r1 || len(p.History.Known) == 0 {
		t.Errorf("prepare = %+v", p)
	}
	if err := os.WriteFile(f.l.SettingsFile(r1), []byte(`{"allowed_hosts": ["saved.test"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadSettings(f.ctx, f.tr, f.l, r1, ""); err != nil || s.HealthHost() != "saved.test" {
		t.Errorf("settings after prepare = %+v, %v; want the saved ones", s, err)
	}
	// DEBUG is on in the fixture: check --deploy fails with W018 and its
	// hint. r1 holds models newer than its migrations: makemigrations
	// --check reports it, without asking whether author was renamed.
	failures := RunChecks(f.ctx, releaseRunner(f.tr, f.l, r1), config.Checks{FailLevel: config.FailOnError}).Failures
	if len(failures) != 2 || failures[0].Check != "check --deploy" || failures[1].Check != "makemigrations --check" {
		t.Fatalf("failures = %+v", failures)
	}
	if text := failures[0].String(); !strings.Contains(text, "security.W018") || !strings.Contains(text, "hint: DEBUG is on") {
		t.Errorf("check --deploy failure:\n%s", text)
	}
	if text := failures[1].String(); !strings.Contains(text, "run python manage.py makemigrations") || strings.Contains(text, "EOFError") {
		t.Errorf("makemigrations --check failure:\n%s", text)
	}
	// A deploy runs the same checks in its build's Django start, before
	// collectstatic, and judges them the same way.
	p, err = f.prepare(r1, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if built := p.Report(config.Checks{FailLevel: config.FailOnError}).Failures; !reflect.DeepEqual(built, failures) {
		t.Errorf("checks in the build = %+v\nwant those of hoist check: %+v", built, failures)
	}
	if p, err := f.prepare(r1, false, false); err != nil || p.Checks != nil {
		t.Errorf("prepare without checks = %+v, %v; want no checks run", p.Checks, err)
	}
	// Settings that do not load: PrepareCmd fails with Django's traceback,
	// which LoadFailure reports as the checks that could not run.
	if err := writeEnv(f.l, r1, map[string]string{"DJANGO_SETTINGS_MODULE": "config.missing"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.prepare(r1, false, true)
	load, ok := LoadFailure(err)
	if !ok {
		t.Fatalf("prepare with settings that do not load = %v; want a load failure", err)
	}
	if text := load.Failures[0].String(); !strings.Contains(text, "No module named 'config.missing'") || strings.Contains(text, "hoist: ") {
		t.Errorf("load failure:\n%s", text)
	}
	// What fails before the Django start in its round trip is not one.
	if _, ok := LoadFailure(&remote.ExitError{Status: 1, Stderr: "hoist: static fallback failed"}); ok {
		t.Error("a failure before the Django start was taken for one of Django")
	}
	// hoist check runs the project on this machine, with the stage's env.
	env := map[string]string{"SHELF_DB": f.db, "PYTHONDONTWRITEBYTECODE": "1"}
	out, err := LocalRunner(f.python, "testdata/project", env)(f.ctx, "python", "-c", "import os, sys; print(os.environ['SHELF_DB']); sys.exit(3)")
	if ee, ok := err.(*remote.ExitError); !ok || ee.Status != 3 || strings.TrimSpace(out) != f.db {
		t.Errorf("local runner = %q, %v", out, err)
	}
}

// releaseRunner runs hoist check's commands in a built release, as they
// run on this machine.
func releaseRunner(t remote.Transport, l release.Layout, id string) Runner {
	return func(ctx context.Context, argv ...string) (string, error) {
		return remote.Output(ctx, t, release.Command(l, id, "", argv...))
	}
}

// prepare runs PrepareCmd in release id, as a deploy's build does.
func (f *fixture) prepare(id string, history, checks bool) (Prepared, error) {
	out, err := remote.Output(f.ctx, f.tr, PrepareCmd(f.l, id, "", history, checks))
	return ParsePrepared(id, out, err)
}

// writeEnv writes a release's environment file as a build does.
func writeEnv(l release.Layout, id string, env map[string]string) error {
	data, err := release.EnvFile(env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.EnvDir(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(l.EnvFile(id), data, 0o600)
}
