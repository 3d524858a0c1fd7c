package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/ui"
)

func TestPassed(t *testing.T) {
	ev := func(action, commit, result string) deploy.Event {
		return deploy.Event{Entry: deploy.Entry{Action: action, Commit: commit, Result: result}}
	}
	const c, other = "aaaa", "bbbb"
	tests := []struct {
		name    string
		events  []deploy.Event
		tested  bool
		ok      bool
		missing string
	}{
		{"nothing", nil, false, false, "no successful deploy"},
		{"other commit", []deploy.Event{ev("deploy", other, "ok"), ev("test", other, "ok")}, true, false, "no successful deploy"},
		{"failed deploy", []deploy.Event{ev("deploy", c, "failed")}, false, false, "no successful deploy"},
		{"deployed, no tests", []deploy.Event{ev("deploy", c, "ok")}, false, true, ""},
		{"deployed, tests never ran", []deploy.Event{ev("deploy", c, "ok")}, true, false, "no passing functional tests"},
		{"deployed, tests failed", []deploy.Event{ev("deploy", c, "ok"), ev("test", c, "failed")}, true, false, "no passing functional tests"},
		{"rollback is not a deploy", []deploy.Event{ev("rollback", c, "ok"), ev("test", c, "ok")}, true, false, "no successful deploy"},
		{"deployed and tested", []deploy.Event{ev("deploy", c, "failed"), ev("deploy", c, "ok"), ev("test", c, "failed"), ev("test", c, "ok")}, true, true, ""},
	}
	for _, tt := range tests {
		ok, missing := Passed(tt.events, c, tt.tested)
		if ok != tt.ok || missing != tt.missing {
			t.Errorf("%s: Passed = %v %q, want %v %q", tt.name, ok, missing, tt.ok, tt.missing)
		}
	}
}

func TestEarlier(t *testing.T) {
	c := &config.Config{Pipeline: []string{"qa", "staging", "production"}}
	if got := strings.Join(Earlier(c, "production"), ","); got != "qa,staging" {
		t.Errorf("Earlier(production) = %s", got)
	}
	if Earlier(c, "qa") != nil || Earlier(c, "demo") != nil {
		t.Errorf("the first stage and a stage outside the pipeline have no earlier stages")
	}
}

// repo makes a git repository with a bare "origin" and returns its path.
func repo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	origin := filepath.Join(t.TempDir(), "origin.git")
	run(t, "", "git", "init", "-q", "--bare", origin)
	run(t, "", "git", "init", "-q", "-b", "main", dir)
	run(t, dir, "git", "remote", "add", "origin", origin)
	return dir
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, dir string, files map[string]string, msg string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "--allow-empty", "-m", msg)
	return run(t, dir, "git", "rev-parse", "HEAD")
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	dir := repo(t)
	c1 := commit(t, dir, map[string]string{"a": "1"}, "one")
	c2 := commit(t, dir, map[string]string{"a": "2"}, "two")
	s := &config.Stage{Name: "production", Tags: config.Tags{Moving: config.DefaultMovingTag, Dated: config.DefaultDatedTag, Push: true, Remote: "origin"}}
	when := time.Date(2026, 11, 22, 14, 5, 0, 0, time.UTC)

	names, err := Tags(ctx, dir, s, c1, when)
	if err != nil || strings.Join(names, " ") != "LIVE DEPLOYED-2026-11-22/1405" {
		t.Fatalf("Tags = %v, %v", names, err)
	}
	// The moving tag moves; a second deploy gets its own dated tag, and
	// the same commit again within the minute keeps its tag.
	if _, err := Tags(ctx, dir, s, c2, when.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := Tags(ctx, dir, s, c2, when.Add(time.Minute)); err != nil {
		t.Errorf("the same commit tagged twice in a minute: %v", err)
	}
	for tag, want := range map[string]string{"LIVE": c2, "DEPLOYED-2026-11-22/1405": c1, "DEPLOYED-2026-11-22/1406": c2} {
		if got := run(t, dir, "git", "rev-parse", tag+"^{commit}"); got != want {
			t.Errorf("%s -> %.7s, want %.7s", tag, got, want)
		}
		if got := run(t, dir, "git", "ls-remote", "origin", "refs/tags/"+tag); !strings.HasPrefix(got, want) {
			t.Errorf("origin's %s = %q, want %.7s (pushed)", tag, got, want)
		}
	}
	// Another commit in the same minute: the dated name is taken, so it
	// gets -2; the moving tag still moved.
	names, err = Tags(ctx, dir, s, c1, when.Add(time.Minute))
	if err != nil || strings.Join(names, " ") != "LIVE DEPLOYED-2026-11-22/1406-2" {
		t.Errorf("a taken dated tag: %v, %v", names, err)
	}
	if got := run(t, dir, "git", "rev-parse", "DEPLOYED-2026-11-22/1406^{commit}"); got != c2 {
		t.Errorf("the taken dated tag moved")
	}
	// A remote that does not answer: reported, the local tags stay.
	s.Tags.Remote = "nowhere"
	if _, err := Tags(ctx, dir, s, c1, when.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "git push nowhere") {
		t.Errorf("a failing push: %v", err)
	}
	if got := run(t, dir, "git", "rev-parse", "DEPLOYED-2026-11-22/1505^{commit}"); got != c1 {
		t.Errorf("the local tag is gone after a failed push")
	}
}

func TestCompare(t *testing.T) {
	ctx := context.Background()
	dir := repo(t)
	base := commit(t, dir, map[string]string{"requirements.txt": "django\n", "shop/migrations/0001_initial.py": "", "shop/migrations/__init__.py": "",
		"shop/static/shop/site.css": "a", "README": "x"}, "base")
	commit(t, dir, map[string]string{"shop/migrations/0002_price.py": "", "shop/static/shop/site.css": "b", "static/logo.svg": "<svg/>"}, "add price")
	head := commit(t, dir, map[string]string{"requirements.txt": "django\nrequests\n", "shop/views.py": "", "staticfiles.txt": ""}, "requests")

	ch, err := Compare(ctx, dir, "requirements.txt", base, head)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, c := range ch.Added {
		subjects = append(subjects, c.Subject)
	}
	if strings.Join(subjects, ",") != "requests,add price" || len(ch.Removed) != 0 {
		t.Errorf("added %v, removed %v", subjects, ch.Removed)
	}
	if !ch.Requirements || len(ch.StaticFiles) != 2 {
		t.Errorf("requirements changed %v, static %v", ch.Requirements, ch.StaticFiles)
	}
	// Backwards: the commits are taken away; requirements differ too.
	back, err := Compare(ctx, dir, "requirements.txt", head, base)
	if err != nil || len(back.Added) != 0 || len(back.Removed) != 2 || !back.Requirements {
		t.Errorf("backwards: %+v %v", back, err)
	}
	if _, err := Compare(ctx, dir, "", strings.Repeat("1", 40), head); err == nil || !strings.Contains(err.Error(), "git fetch") {
		t.Errorf("an unknown live commit: %v", err)
	}
	if _, err := Compare(ctx, dir, "", "--output=/tmp/x", head); err == nil || !strings.Contains(err.Error(), "not a commit hash") {
		t.Errorf("a hostile live commit reached git: %v", err)
	}
	files, err := MigrationFiles(ctx, dir, head)
	if err != nil || strings.Join(files, ",") != "shop.0001_initial,shop.0002_price" {
		t.Errorf("MigrationFiles = %v, %v", files, err)
	}
}

func TestRunTest(t *testing.T) {
	var out bytes.Buffer
	u := ui.New(&out, true)
	u.AddSecrets("hunter2-very-secret")
	s := &config.Stage{Name: "staging", Test: `echo "testing $TEST_SERVER $HOIST_URL $HOIST_STAGE"; echo hunter2-very-secret; test -f marker`}
	dir := t.TempDir()
	err := RunTest(context.Background(), u, dir, s, "http://staging.test", "abc")
	var te *TestError
	if err == nil || !errors.As(err, &te) || te.Stage != "staging" {
		t.Fatalf("a failing test: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644)
	if err := RunTest(context.Background(), u, dir, s, "http://staging.test", "abc"); err != nil {
		t.Fatalf("a passing test: %v", err)
	}
	saw := false
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e ui.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON event: %q", line)
		}
		saw = saw || e.Message == "testing http://staging.test http://staging.test staging"
	}
	if !saw || strings.Contains(out.String(), "hunter2") {
		t.Errorf("test output not shown, or a secret shown:\n%s", out.String())
	}
}
