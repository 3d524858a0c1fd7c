package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// deployedApp is a one-host app with release v1 live on web2.
func deployedApp(t *testing.T, name string) (*app, *fleet.Host, string) {
	t.Helper()
	skipShort(t)
	h := shared.Hosts[1]
	domain := name + ".test"
	a := newApp(t, shared, "notes", name, notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/"+name+"/shared/db.sqlite3\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	expectServing(t, []*fleet.Host{h}, domain, "version: v1")
	return a, h, domain
}

// expectUntouched checks that v1 still serves, no other release is left
// on disk, and the lock is free.
func expectUntouched(t *testing.T, a *app, h *fleet.Host, domain, live string) {
	t.Helper()
	expectServing(t, []*fleet.Host{h}, domain, "version: v1")
	if now := sh(t, h, "basename $(readlink /srv/"+a.name+"/current)"); now != live {
		t.Errorf("live release changed from %s to %s", live, now)
	}
	if rel := sh(t, h, "ls /srv/"+a.name+"/releases"); rel != live {
		t.Errorf("releases left on disk: %q, want only %s", rel, live)
	}
	if running := sh(t, h, "systemctl list-units --no-legend --plain --state=active 'hoist-"+a.name+"@*.service' | wc -l"); running != "1" {
		t.Errorf("%s instances running, want 1", running)
	}
	if out := a.mustHoist("lock", "prod"); !strings.Contains(out, "free") {
		t.Errorf("the lock was not released:\n%s", out)
	}
}

func TestFailingBuildStepsLeaveTheLiveReleaseServing(t *testing.T) {
	t.Parallel()
	skipShort(t)
	a, h, domain := deployedApp(t, "broken")
	live := sh(t, h, "basename $(readlink /srv/broken/current)")

	cases := []struct {
		name  string
		files map[string]string
		want  []string // in the error output
	}{
		{"pip install", map[string]string{"requirements.txt": "--no-index\n--find-links ./wheels\nno-such-package==9.9\n"},
			[]string{"web2", "build", "pip install", "no-such-package"}},
		{"collectstatic", map[string]string{
			"board/static/board/site.css": "body { background: url(\"missing.png\"); }\n",
			"VERSION":                     "v2\n",
		}, []string{"web2", "build", "collectstatic", "missing.png"}},
		{"migrate", map[string]string{"board/migrations/0099_broken.py": `from django.db import migrations

class Migration(migrations.Migration):
    dependencies = [("board", "0001_initial")]
    operations = [migrations.RunSQL("SELECT * FROM no_such_table_anywhere", migrations.RunSQL.noop)]
`}, []string{"web2", "migrate", "no_such_table_anywhere"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head := a.git("rev-parse", "HEAD")
			for name, content := range c.files {
				a.write(name, content)
			}
			if c.name == "collectstatic" {
				// Manifest storage fails on a CSS url() to a missing file,
				// the classic collectstatic failure in production.
				a.write("notes/settings.py", readFile(t, a.dir+"/notes/settings.py")+
					"\nSTATICFILES_STORAGE = \"django.contrib.staticfiles.storage.ManifestStaticFilesStorage\"\n")
			}
			a.commit("break " + c.name)
			// --skip-checks: the local checks would catch some of these
			// first; this test is about the steps on the host.
			out, code := a.hoist("deploy", "prod", "--skip-checks")
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if !strings.Contains(out, "still serves on every host") {
				t.Errorf("output does not say what still serves")
			}
			expectUntouched(t, a, h, domain, live)
			a.git("reset", "-q", "--hard", head)
		})
	}

	// hoist history: the failed deploys, with their step, line by line.
	out := a.mustHoist("history", "prod", "--json")
	failed := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Action, Result string
			Step           string `json:"failed_step"`
			Hosts          []string
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("history --json line %q: %v", line, err)
		}
		if e.Result == "failed" {
			failed[e.Step]++
		}
	}
	if failed["build"] < 2 || failed["migrate"] < 1 {
		t.Errorf("history lacks the failed deploys by step: %v", failed)
	}
	if plain := a.mustHoist("history", "prod"); !strings.Contains(plain, "failed at build") {
		t.Errorf("history does not show a failed step:\n%s", plain)
	}
}

func TestUnreachableHostChangesNothing(t *testing.T) {
	skipShort(t)
	const domain = "reach.test"
	a := newApp(t, shared, "notes", "reach", notesYML(domain, hostList(shared.Hosts[0], shared.Hosts[2]), "      DATABASE_URL: \""+createDB(t, "reach")+"\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	ctx := context.Background()
	if err := shared.Hosts[2].Pause(ctx); err != nil {
		t.Fatal(err)
	}
	defer shared.Hosts[2].Unpause(ctx)
	a.write("VERSION", "v2\n")
	a.commit("v2")
	start := time.Now()
	out, code := a.hoist("deploy", "prod", "--connect-timeout", "3s")
	if code != 3 {
		t.Errorf("exit code %d, want 3 (unreachable)", code)
	}
	if !strings.Contains(out, "web3") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("the error should name web3 and say nothing changed")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("gave up after %s; the connect timeout is 3s", took)
	}
	if n := sh(t, shared.Hosts[0], "ls /srv/reach/releases | wc -l"); n != "1" {
		t.Errorf("web1 has %s releases; the refused deploy must not build one", n)
	}
	expectServing(t, shared.Hosts[:1], domain, "version: v1")
}

func TestChangedHostKeyIsRefused(t *testing.T) {
	t.Parallel()
	skipShort(t)
	f := fleet.Start(t, fleet.Options{Hosts: 1})
	a := newApp(t, f, "notes", "keyed", notesYML("keyed.test", hostList(f.Hosts[0]), "      DATABASE_URL: \"sqlite:////srv/keyed/shared/db.sqlite3\""))
	a.mustHoist("setup", "prod")
	if err := f.Hosts[0].RegenerateHostKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, code := a.hoist("deploy", "prod")
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	for _, w := range []string{"CHANGED", "ssh-keygen -R", "Nothing was changed"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if n := sh(t, f.Hosts[0], "ls /srv/keyed/releases | wc -l"); n != "0" {
		t.Errorf("a release was built on a host whose key changed")
	}
}

// startHoist runs hoist in the background.
func (a *app) startHoist(args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(hoistBin, args...)
	cmd.Dir, cmd.Env = a.dir, a.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	return cmd, &out
}

// waitFor polls cond on the host until it holds.
func waitFor(t *testing.T, h *fleet.Host, what, script string) {
	t.Helper()
	waitWithin(t, h, what, script, 2*time.Minute)
}

// waitWithin polls cond on the host until it holds, for at most d.
func waitWithin(t *testing.T, h *fleet.Host, what, script string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := h.Exec(context.Background(), "sh", "-c", script); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: timed out waiting for %s", h.Name, what)
}

func TestSecondDeployIsRefusedWhileLocked(t *testing.T) {
	t.Parallel()
	a, h, domain := deployedApp(t, "locked")
	a.write("VERSION", "v2\n")
	a.commit("v2")
	first, firstOut := a.startHoist("deploy", "prod")
	waitFor(t, h, "the lock", "test -d /srv/locked/.hoist/lock")
	out, code := a.hoist("deploy", "prod")
	if code != 4 {
		t.Errorf("second deploy: exit %d, want 4 (locked)", code)
	}
	if !strings.Contains(out, "locked on web2 by") || !strings.Contains(out, "hoist deploy prod") {
		t.Errorf("the refusal should name the holder and its command")
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first deploy failed: %v\n%s", err, firstOut)
	}
	expectServing(t, []*fleet.Host{h}, domain, "version: v2")
}

func TestCtrlCReleasesTheLockAndKeepsTheLiveRelease(t *testing.T) {
	t.Parallel()
	a, h, domain := deployedApp(t, "interrupted")
	live := sh(t, h, "basename $(readlink /srv/interrupted/current)")
	// A requirements change makes the build long enough to interrupt.
	a.write("requirements.txt", "--no-index\n--find-links ./wheels\nnotes-extras==1.0\n# changed\n")
	a.write("VERSION", "v2\n")
	a.commit("v2")
	cmd, out := a.startHoist("deploy", "prod")
	waitFor(t, h, "the build", "ls /srv/interrupted/releases | grep -v "+live)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	t.Logf("interrupted deploy:\n%s", out)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want 130", err)
	}
	expectUntouched(t, a, h, domain, live)
	hist := sh(t, h, "tail -n1 /srv/interrupted/.hoist/history.jsonl")
	if !strings.Contains(hist, `"result":"interrupted"`) {
		t.Errorf("history should record the interruption: %s", hist)
	}
}

func TestSetupWithoutSudoSaysHow(t *testing.T) {
	t.Parallel()
	skipShort(t)
	a := newApp(t, shared, "notes", "nosudo", notesYML("nosudo.test", "[nosudo@web3]", "      DATABASE_URL: \"sqlite:////srv/nosudo/shared/db.sqlite3\""))
	out, code := a.hoist("setup", "prod")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, w := range []string{"nosudo@web3", "setup", "cannot run sudo without a password", "NOPASSWD"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if got := sh(t, shared.Hosts[2], "test -e /srv/nosudo && echo exists || echo absent"); got != "absent" {
		t.Errorf("setup without sudo created /srv/nosudo")
	}
}

// A nearly full disk is refused before the lock, with the space it needs.
func TestFullDiskIsRefusedUpFront(t *testing.T) {
	t.Parallel()
	skipShort(t)
	h := shared.Hosts[2]
	sh(t, h, "mkdir -p /srv/full && mount -t tmpfs -o size=64m tmpfs /srv/full")
	defer h.Exec(context.Background(), "umount", "/srv/full")
	a := newApp(t, shared, "notes", "full", notesYML("full.test", hostList(h), "      DATABASE_URL: \"sqlite:////srv/full/shared/db.sqlite3\""))
	a.mustHoist("setup", "prod")
	out, code := a.hoist("deploy", "prod")
	if code != 1 || !strings.Contains(out, "MiB free under /srv/full") || !strings.Contains(out, "web3") {
		t.Errorf("exit %d; want 1 and a message naming web3 and the free space", code)
	}
	if n := sh(t, h, "ls /srv/full/releases | wc -l"); n != "0" {
		t.Errorf("a release was started on a full disk")
	}
	if out := a.mustHoist("lock", "prod"); !strings.Contains(out, "free") {
		t.Errorf("lock left behind:\n%s", out)
	}
}
