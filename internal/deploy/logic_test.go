package deploy

// The logic tier: lock, cut-over, revert, reconcile and prune run in
// process against the local transport. Each "host" is this machine with its
// own directory mounted over deploy_to in a private mount namespace
// (unshare -m), so three hosts share one path as real ones do.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/ui"
)

// nsTransport runs commands on this machine with dir mounted over root.
type nsTransport struct{ dir, root string }

func (n nsTransport) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	wrapped := remote.Command("unshare", "-m", "sh", "-c", `mount --bind "$1" "$2" && exec sh -c "$3"`, "sh", n.dir, n.root, cmd)
	return remote.Local{}.Run(ctx, wrapped, stdin, stdout, stderr)
}
func (n nsTransport) Interactive(context.Context, string, bool) error {
	return errors.New("no terminal")
}
func (n nsTransport) Close() error { return nil }

// fleet is a stage of n in-process hosts, all web.
type fleet struct {
	*Target
	out  *bytes.Buffer
	dirs []string
}

func newFleet(t *testing.T, n int) *fleet {
	t.Helper()
	if os.Geteuid() != 0 || exec.Command("unshare", "-m", "true").Run() != nil {
		t.Skip("needs root and unshare -m for in-process hosts")
	}
	base := t.TempDir()
	root := filepath.Join(base, "srv", "app")
	os.MkdirAll(root, 0o755)
	out := &bytes.Buffer{}
	stage := &config.Stage{Name: "test"}
	tg := &Target{
		Config: &config.Config{App: "demo", KeepReleases: 3},
		Stage:  stage, Layout: release.Layout{Root: root},
		UI: ui.New(out, false), roles: map[*remote.Host][]config.Role{},
	}
	f := &fleet{Target: tg, out: out}
	for i := range n {
		dir := filepath.Join(base, "hosts", fmt.Sprintf("h%d", i+1))
		for _, d := range []string{"releases", "run", ".hoist/releases", ".hoist/env", "shared"} {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
		}
		h := &remote.Host{Name: fmt.Sprintf("h%d", i+1), Transport: nsTransport{dir, root}, Root: true}
		tg.Hosts = append(tg.Hosts, h)
		tg.roles[h] = []config.Role{config.WebRole}
		f.dirs = append(f.dirs, dir)
	}
	tg.Primary = tg.Hosts[0]
	return f
}

// release puts a built release on every host, recorded in state.
func (f *fleet) release(t *testing.T, id string, seq int, state release.State) {
	t.Helper()
	for _, dir := range f.dirs {
		os.MkdirAll(filepath.Join(dir, "releases", id), 0o755)
		rec, _ := json.Marshal(release.Record{ID: id, State: state, Seq: seq, Commit: id[len(id)-7:]})
		os.WriteFile(filepath.Join(dir, ".hoist", "releases", id+".json"), rec, 0o644)
	}
}

// live points every host at id, as a finished deploy leaves it.
func (f *fleet) live(t *testing.T, id string) {
	t.Helper()
	for _, h := range f.Hosts {
		os.WriteFile(filepath.Join(f.dir(h), "run", id+".sock"), nil, 0o644)
		if err := release.Switch(context.Background(), h, f.Layout, id, true); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fleet) dir(h *remote.Host) string {
	if s, ok := h.Transport.(fakeSystemd); ok {
		return s.dir
	}
	return h.Transport.(nsTransport).dir
}

// current is the release current points to on h.
func (f *fleet) current(h *remote.Host) string {
	target, _ := os.Readlink(filepath.Join(f.dir(h), "current"))
	sock, _ := os.Readlink(filepath.Join(f.dir(h), "run", "live.sock"))
	if filepath.Base(target)+".sock" != filepath.Base(sock) {
		return "MISMATCH " + target + " " + sock
	}
	return filepath.Base(target)
}

func (f *fleet) inventory(t *testing.T, h *remote.Host) release.Inventory {
	t.Helper()
	inv, err := release.ReadInventory(context.Background(), h, f.Layout, "")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// held reads what every host holds now, as a run does under the lock,
// for Cutover.Held.
func (f *fleet) held(t *testing.T) map[*remote.Host]release.Inventory {
	t.Helper()
	invs := map[*remote.Host]release.Inventory{}
	for _, h := range f.Hosts {
		inv, err := release.ReadInventory(context.Background(), h, f.Layout, f.Site(h).Unit())
		if err != nil {
			t.Fatal(err)
		}
		invs[h] = inv
	}
	return invs
}

// fakeRunner stands in for gunicorn under systemd (which the e2e tests
// run for real): an instance is its socket file; it fails where told.
type fakeRunner struct {
	f         *fleet
	failStart map[string]bool // host names
	failLive  map[string]bool
	mu        sync.Mutex
	stopped   map[string][]string
}

func (r *fakeRunner) sock(h *remote.Host, id string) string {
	return filepath.Join(r.f.dir(h), "run", id+".sock")
}
func (r *fakeRunner) Start(_ context.Context, h *remote.Host, id string) error {
	if r.failStart[h.Name] {
		return errors.New("unhealthy")
	}
	return os.WriteFile(r.sock(h, id), nil, 0o644)
}
func (r *fakeRunner) CheckLive(ctx context.Context, h *remote.Host, id, first string) error {
	if _, err := remote.Output(ctx, h, first); err != nil {
		return err
	}
	if r.failLive[h.Name] {
		return errors.New("answered 502 through nginx")
	}
	return nil
}
func (r *fakeRunner) Stop(_ context.Context, h *remote.Host, ids ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped == nil {
		r.stopped = map[string][]string{}
	}
	for _, id := range ids {
		os.Remove(r.sock(h, id))
		r.stopped[h.Name] = append(r.stopped[h.Name], id)
	}
	return nil
}
func (r *fakeRunner) Retire(h *remote.Host, live string, others []string) string {
	if len(others) == 0 {
		return ""
	}
	argv := []string{"rm", "-f"}
	for _, id := range others {
		argv = append(argv, r.sock(h, id))
	}
	return remote.Command(argv...)
}

const (
	r1 = "20261101T100000Z-aaaaaa1"
	r2 = "20261102T100000Z-bbbbbb2"
	r3 = "20261103T100000Z-cccccc3"
	r4 = "20261104T100000Z-ddddddd"
	r5 = "20261105T100000Z-eeeeee5"
)

func (f *fleet) from(id string) map[*remote.Host]string {
	m := map[*remote.Host]string{}
	for _, h := range f.Hosts {
		m[h] = id
	}
	return m
}

func TestCutoverSwitchesEveryHost(t *testing.T) {
	f := newFleet(t, 3)
	f.release(t, r1, 1, release.Live)
	f.live(t, r1)
	f.release(t, r2, 2, release.Ready)
	run := &fakeRunner{f: f}
	cut := f.NewCutover(run, r2, f.from(r1), 0)
	cut.Held = f.held(t)
	ctx := context.Background()
	if err := cut.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Switch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Finish(ctx, false, Entry{Action: "deploy", Release: r2, Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	for _, h := range f.Hosts {
		if got := f.current(h); got != r2 {
			t.Errorf("%s serves %s, want %s", h.Name, got, r2)
		}
		if history, err := os.ReadFile(filepath.Join(f.dir(h), ".hoist", "history.jsonl")); err != nil || !strings.Contains(string(history), `"release":"`+r2+`"`) {
			t.Errorf("%s: history = %q, %v; want the deploy of r2", h.Name, history, err)
		}
		inv := f.inventory(t, h)
		if rec := inv.Find(r2); rec.State != release.Live || rec.Previous != r1 {
			t.Errorf("%s: record of r2 = %+v, want live with previous r1", h.Name, rec)
		}
		if rec := inv.Find(r1); rec.State != release.Retired {
			t.Errorf("%s: r1 is %s, want retired", h.Name, rec.State)
		}
	}
}

// The release a host serves goes into its static fallback when a cut-over
// finishes, and, if a run cut short left it out, before the next switch
// moves off it: pages it rendered keep their files.
func TestCutoverKeepsTheServedReleasesStaticFiles(t *testing.T) {
	f := newFleet(t, 2)
	css := func(id string) string { return "site." + id[len(id)-7:] + ".css" }
	build := func(id string, seq int) {
		f.release(t, id, seq, release.Ready)
		for _, dir := range f.dirs {
			os.MkdirAll(filepath.Join(dir, "releases", id, ".hoist-static"), 0o755)
			os.WriteFile(filepath.Join(dir, "releases", id, ".hoist-static", css(id)), []byte(id), 0o644)
		}
	}
	// The links lead into the host's root as the host sees it (f.Layout),
	// which is only mounted for its commands: check the link itself.
	expect := func(when string, kept map[string]bool) {
		t.Helper()
		for _, h := range f.Hosts {
			for id, want := range kept {
				target, err := os.Readlink(filepath.Join(f.dir(h), "static-fallback", "served", css(id)))
				if got := err == nil && strings.HasPrefix(target, f.Layout.Releases()+"/"+id+"/"); got != want {
					t.Errorf("%s, %s: %s's files kept = %v, want %v", when, h.Name, id, got, want)
				}
			}
		}
	}
	ctx := context.Background()
	build(r1, 1)
	f.release(t, r1, 1, release.Live)
	f.live(t, r1)
	f.keepStatic(ctx)()
	expect("r1 live", map[string]bool{r1: true})

	// A deploy of r2 cut short after its switch, before it finished.
	build(r2, 2)
	cut := f.NewCutover(&fakeRunner{f: f}, r2, f.from(r1), 0)
	cut.Held = f.held(t)
	if err := cut.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Switch(ctx); err != nil {
		t.Fatal(err)
	}
	expect("switched to r2, not finished", map[string]bool{r1: true, r2: false})
	f.keepStatic(ctx)()
	expect("before the next switch off r2", map[string]bool{r1: true, r2: true})

	build(r3, 3)
	cut = f.NewCutover(&fakeRunner{f: f}, r3, f.from(r2), 0)
	cut.Held = f.held(t)
	if err := cut.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Switch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Finish(ctx, false, Entry{Action: "deploy", Release: r3, Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	expect("the deploy of r3 finished", map[string]bool{r1: true, r2: true, r3: true})
}

// With gunicorn.standby the instance that served before a deploy keeps
// running, idle, for a rollback to switch back to; without it, it is
// retired. A rollback keeps none: what it left is not what the next
// rollback returns to.
func TestFinishKeepsThePreviousInstanceWarm(t *testing.T) {
	for _, standby := range []bool{true, false} {
		t.Run(fmt.Sprintf("standby=%v", standby), func(t *testing.T) {
			f := newFleet(t, 2)
			f.Config.Gunicorn.Standby = standby
			f.release(t, r1, 1, release.Live)
			f.live(t, r1)
			f.release(t, r2, 2, release.Ready)
			run := &fakeRunner{f: f}
			ctx := context.Background()
			for _, step := range []struct {
				to, from string
				rollback bool
				running  []string // sockets left after Finish
			}{
				{r2, r1, false, map[bool][]string{true: {r1, r2}, false: {r2}}[standby]},
				{r1, r2, true, []string{r1}},
			} {
				if err := f.running(t, step.from); err != nil {
					t.Fatal(err)
				}
				if err := f.withRunning(map[string][]string{"h1": {step.from, step.to}, "h2": {step.from, step.to}}, func() error {
					cut := f.NewCutover(run, step.to, f.from(step.from), 0)
					cut.Held = f.held(t)
					if err := cut.Start(ctx); err != nil {
						return err
					}
					if err := cut.Switch(ctx); err != nil {
						return err
					}
					return cut.Finish(ctx, step.rollback, Entry{Action: "deploy", Release: step.to, Result: "ok"})
				}); err != nil {
					t.Fatal(err)
				}
				for _, h := range f.Hosts {
					var left []string
					for _, id := range []string{r1, r2} {
						if _, err := os.Stat(run.sock(h, id)); err == nil {
							left = append(left, id)
						}
					}
					if !slices.Equal(left, step.running) {
						t.Errorf("%s after switching to %s: instances %v run, want %v", h.Name, step.to, left, step.running)
					}
				}
			}
		})
	}
}

// running starts id's instance (its socket) on every host.
func (f *fleet) running(t *testing.T, id string) error {
	for _, h := range f.Hosts {
		if err := os.WriteFile(filepath.Join(f.dir(h), "run", id+".sock"), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// withRunning runs fn with systemd's answer about running instances on
// each host replaced by running[host name] (no systemd in process).
func (f *fleet) withRunning(running map[string][]string, fn func() error) error {
	old := f.Hosts
	defer func() { f.Hosts = old }()
	hosts := make([]*remote.Host, len(old))
	for i, h := range old {
		hosts[i] = &remote.Host{Name: h.Name, Root: true, Transport: fakeSystemd{h.Transport.(nsTransport), running[h.Name]}}
		f.roles[hosts[i]] = f.roles[h]
	}
	f.Hosts = hosts
	return fn()
}

// One host failing its check through the web server sends every host back,
// so the stage never serves two releases.
func TestCutoverFailureRevertsEveryHost(t *testing.T) {
	for _, batch := range []int{0, 1} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			f := newFleet(t, 3)
			f.release(t, r1, 1, release.Live)
			f.live(t, r1)
			f.release(t, r2, 2, release.Ready)
			run := &fakeRunner{f: f, failLive: map[string]bool{"h3": true}}
			cut := f.NewCutover(run, r2, f.from(r1), batch)
			ctx := context.Background()
			if err := cut.Start(ctx); err != nil {
				t.Fatal(err)
			}
			err := cut.Switch(ctx)
			if err == nil || !strings.Contains(err.Error(), "h3") {
				t.Fatalf("switch error = %v, want one naming h3", err)
			}
			if err := cut.Undo(ctx); err != nil {
				t.Fatal(err)
			}
			for _, h := range f.Hosts {
				if got := f.current(h); got != r1 {
					t.Errorf("%s serves %s after the revert, want %s", h.Name, got, r1)
				}
				if !contains(run.stopped[h.Name], r2) {
					t.Errorf("%s: the new instance was not stopped (%v)", h.Name, run.stopped[h.Name])
				}
			}
		})
	}
}

// A host whose revert fails keeps serving the new release: the clean-up
// must neither stop it nor delete it there.
func TestUndoNeverRemovesWhatAHostServes(t *testing.T) {
	f := newFleet(t, 2)
	f.release(t, r1, 1, release.Live)
	f.live(t, r1)
	f.release(t, r2, 2, release.Ready)
	run := &fakeRunner{f: f, failLive: map[string]bool{"h1": true}}
	cut := f.NewCutover(run, r2, f.from(r1), 0)
	ctx := context.Background()
	cut.Start(ctx)
	if err := cut.Switch(ctx); err == nil {
		t.Fatal("want the switch to fail")
	}
	// h2's old release vanished: switching back there cannot work.
	os.RemoveAll(filepath.Join(f.dirs[1], "releases", r1))
	if err := cut.Undo(ctx); err == nil {
		t.Fatal("want the revert on h2 to fail")
	}
	h2 := f.Hosts[1]
	if got := f.current(h2); got != r2 {
		t.Fatalf("h2 serves %s, want r2 (the revert failed)", got)
	}
	if contains(run.stopped["h2"], r2) {
		t.Error("the instance h2 serves was stopped")
	}
	if err := release.Remove(ctx, h2, f.Layout, r2); err == nil || !strings.Contains(err.Error(), "current points to it") {
		t.Errorf("Remove of the served release: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(f.dirs[1], "releases", r2)); err != nil {
		t.Error("the served release was deleted")
	}
	if f.current(f.Hosts[0]) != r1 {
		t.Error("h1 was not switched back")
	}
}

func TestRemoveRefusesInvalidIDs(t *testing.T) {
	f := newFleet(t, 1)
	f.release(t, r1, 1, release.Live)
	h := f.Hosts[0]
	for _, id := range []string{"", ".", "..", "../x", "*", "20261101T100000Z-aaaa/../.."} {
		if err := release.Remove(context.Background(), h, f.Layout, id); err == nil {
			t.Errorf("Remove(%q) succeeded", id)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dirs[0], "releases", r1)); err != nil {
		t.Fatal("releases/ lost a release")
	}
	// A record without an id is set aside, never pruned as "releases/".
	os.WriteFile(filepath.Join(f.dirs[0], ".hoist", "releases", "broken.json"), []byte(`{"state":"retired"}`), 0o644)
	inv := f.inventory(t, h)
	if len(inv.Damaged) != 1 || len(inv.Records) != 1 {
		t.Fatalf("inventory = %+v, want one record and one damaged", inv)
	}
}

// After an explicit rollback, and with a deploying machine whose clock is
// behind (ids sort before older releases), pruning keeps what a rollback
// needs: the release that served before this run.
func TestPruneKeepsTheReleaseThatServedBefore(t *testing.T) {
	// Host order (Seq): r3, r4, r5, r1, r2 — r1 and r2 came from a machine
	// whose clock is behind. r1 served, then r2 went live.
	inv := release.Inventory{Live: r2, Records: []release.Record{
		{ID: r3, State: release.Retired, Seq: 1},
		{ID: r4, State: release.Retired, Seq: 2, Previous: r3},
		{ID: r5, State: release.Retired, Seq: 3, Previous: r4},
		{ID: r1, State: release.Retired, Seq: 4, Previous: r5},
		{ID: r2, State: release.Live, Seq: 5, Previous: r1},
	}}
	if p := inv.PreviousGood(); p == nil || p.ID != r1 {
		t.Fatalf("previous good = %v, want r1", p)
	}
	drop := release.PruneCandidates(inv, 2, r1)
	if strings.Join(drop, ",") != r3+","+r4+","+r5 {
		t.Fatalf("drop = %v, want r3, r4, r5", drop)
	}
	// An explicit rollback from r2 to r4: r2 is rolled back, r4 live; the
	// next rollback goes to what served before r4, and pruning keeps it.
	inv.Live = r4
	inv.Records[1].State = release.Live
	inv.Records[4].State, inv.Records[4].RolledBack = release.Retired, true
	if p := inv.PreviousGood(); p == nil || p.ID != r3 {
		t.Fatalf("previous good after rollback = %v, want r3", p)
	}
	for _, id := range release.PruneCandidates(inv, 2, r2) {
		if id == r3 || id == r4 {
			t.Fatalf("pruning dropped %s, which a rollback needs", id)
		}
	}
}

// A run killed mid-deploy left a build, a second "live" record and a
// running instance; the next command that takes the lock repairs all three.
func TestReconcileRepairsWhatACrashLeft(t *testing.T) {
	f := newFleet(t, 2)
	f.release(t, r1, 1, release.Retired)
	f.release(t, r2, 2, release.Live)  // was live, but
	f.release(t, r3, 3, release.Ready) // the crash came after h1 switched to r3
	f.release(t, r4, 4, release.Building)
	f.live(t, r2)
	h1 := f.Hosts[0]
	os.WriteFile(filepath.Join(f.dirs[0], "run", r3+".sock"), nil, 0o644)
	if err := release.Switch(context.Background(), h1, f.Layout, r3, true); err != nil {
		t.Fatal(err)
	}
	run := &fakeRunner{f: f}
	// Running instances are what systemd says; here: r2 and r3 on h1.
	invs, err := f.reconcileWith(run, map[string][]string{"h1": {r2, r3}, "h2": {r2, r3}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range f.Hosts {
		inv := invs[h]
		lives := 0
		for _, r := range inv.Records {
			if r.State == release.Live {
				lives++
				if r.ID != inv.Live {
					t.Errorf("%s: %s recorded live but current is %s", h.Name, r.ID, inv.Live)
				}
			}
			if r.State == release.Building || r.State == release.Ready {
				t.Errorf("%s: %s left %s", h.Name, r.ID, r.State)
			}
		}
		if lives != 1 {
			t.Errorf("%s: %d live releases, want exactly 1", h.Name, lives)
		}
		if _, err := os.Stat(filepath.Join(f.dir(h), "releases", r4)); err == nil {
			t.Errorf("%s: the abandoned build is still there", h.Name)
		}
	}
	if !contains(run.stopped["h1"], r2) || !contains(run.stopped["h2"], r3) || contains(run.stopped["h1"], r3) {
		t.Errorf("stray instances stopped: %v", run.stopped)
	}
	if !strings.Contains(f.out.String(), "repaired") {
		t.Errorf("reconcile did not say what it repaired:\n%s", f.out)
	}
	// What is left is consistent: nothing more to repair.
	if p := f.inventory(t, h1).Problems(true); len(p) != 0 {
		t.Errorf("problems after reconcile: %v", p)
	}
}

// reconcileWith runs reconcile with systemd's answer about running
// instances replaced (no systemd in process).
func (f *fleet) reconcileWith(run Runner, running map[string][]string) (map[*remote.Host]release.Inventory, error) {
	for _, h := range f.Hosts {
		for _, id := range running[h.Name] {
			os.WriteFile(filepath.Join(f.dir(h), "run", id+".sock"), nil, 0o644)
		}
	}
	old := f.Hosts
	out := map[*remote.Host]release.Inventory{}
	err := f.withRunning(running, func() error {
		invs, err := f.reconcile(context.Background(), run)
		for i, h := range f.Hosts {
			out[old[i]] = invs[h]
		}
		return err
	})
	return out, err
}

// fakeSystemd answers systemctl list-units with the given instances.
type fakeSystemd struct {
	nsTransport
	running []string
}

func (s fakeSystemd) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	units := ""
	for _, id := range s.running {
		units += "hoist-demo@" + id + ".service loaded active running x\n"
	}
	return s.nsTransport.Run(ctx, remote.Command("env", "HOIST_FAKE_UNITS="+units, "PATH="+fakeBin(units)+":"+os.Getenv("PATH"), "sh", "-c", cmd), stdin, stdout, stderr)
}

var fakeBinOnce sync.Map

// fakeBin is a directory with a systemctl that prints units.
func fakeBin(units string) string {
	if d, ok := fakeBinOnce.Load(units); ok {
		return d.(string)
	}
	d, _ := os.MkdirTemp("", "hoist-fake-systemctl")
	os.WriteFile(filepath.Join(d, "systemctl"), []byte("#!/bin/sh\nprintf '%s' \"$HOIST_FAKE_UNITS\"\n"), 0o755)
	fakeBinOnce.Store(units, d)
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestProcessesRunWhereTheirRolesSay(t *testing.T) {
	f := newFleet(t, 3)
	worker := &config.Process{Name: "worker", Command: "celery worker"}
	alerts := &config.Process{Name: "alerts", Command: "python manage.py alerts", Roles: []config.Role{config.WebRole}}
	f.Config.Processes = []*config.Process{worker, alerts}
	names := func(h *remote.Host) string {
		var n []string
		for _, p := range f.processesOn(h) {
			n = append(n, p.Name)
		}
		return strings.Join(n, ",")
	}
	// No worker host: the default goes to the primary alone.
	if got := names(f.Hosts[0]) + "|" + names(f.Hosts[1]); got != "worker,alerts|alerts" {
		t.Errorf("without worker hosts: %s", got)
	}
	f.roles[f.Hosts[2]] = []config.Role{config.WorkerRole}
	if got := names(f.Hosts[0]) + "|" + names(f.Hosts[2]); got != "alerts|worker" {
		t.Errorf("with a worker host: %s", got)
	}
	if runs := f.Runs(); len(runs) != 3 {
		t.Errorf("hosts that run something: %d, want 3", len(runs))
	}
}

func TestHooksGetTheDeployAndStopOnFailure(t *testing.T) {
	f := newFleet(t, 2)
	f.Config.Dir = t.TempDir()
	d := &deployRun{t: f.Target, id: r2, art: &Artifact{Commit: "bbbbbb2ffff"}}
	out := filepath.Join(f.Config.Dir, "env.txt")
	err := d.runHooks(context.Background(), "after_deploy", []string{
		`echo "$HOIST_STAGE $HOIST_RELEASE $HOIST_COMMIT $HOIST_HOSTS" > env.txt`,
		"echo oops; exit 3",
		"touch never",
	})
	if err == nil || !strings.Contains(err.Error(), `the after_deploy hook "echo oops; exit 3" failed`) {
		t.Errorf("err = %v", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "test "+r2+" bbbbbb2ffff h1 h2\n" {
		t.Errorf("hook saw %q", got)
	}
	if _, err := os.Stat(filepath.Join(f.Config.Dir, "never")); err == nil {
		t.Error("a hook ran after one failed")
	}
	if !strings.Contains(f.out.String(), "oops") {
		t.Errorf("the hook's output was not shown:\n%s", f.out)
	}
}

func TestHistoryMergesEveryHost(t *testing.T) {
	f := newFleet(t, 2)
	ctx := context.Background()
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.record(ctx, Entry{Action: "deploy", Stage: "test", Release: r1, Start: start, Result: "ok"})
	f.record(ctx, Entry{Action: "deploy", Stage: "test", Release: r2, Start: start.Add(time.Hour), Result: "failed", FailedStep: "build", Error: "pip install failed"})
	// A rollback that only h1 recorded (h2 was down), older than the rest
	// in h1's file order but not in time.
	os.WriteFile(filepath.Join(f.dirs[0], ".hoist", "history.jsonl"),
		append(must(os.ReadFile(filepath.Join(f.dirs[0], ".hoist", "history.jsonl"))),
			[]byte(`{"action":"rollback","stage":"test","release":"`+r1+`","start":"2026-11-22T10:30:00Z","result":"ok"}`+"\n")...), 0o644)
	events, err := f.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", e.Action, e.Result, e.FailedStep, e.Release[len(e.Release)-7:], strings.Join(e.Hosts, ",")))
	}
	want := []string{
		"deploy ok  aaaaaa1 h1,h2",
		"rollback ok  aaaaaa1 h1",
		"deploy failed build bbbbbb2 h1,h2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Pruning the oldest releases leaves the static fallback as the build
// linked it; pruning one newer than a release that stays (a rollback
// target kept) relinks it, or that one's files would stay hidden.
func TestPruneRelinksTheStaticFallbackOnlyWhenItHidesAnOlderRelease(t *testing.T) {
	inv := release.Inventory{Records: []release.Record{{ID: r1}, {ID: r2}, {ID: r3}, {ID: r4}}}
	for _, c := range []struct {
		drop []string
		want bool
	}{
		{nil, false},
		{[]string{r1}, false},
		{[]string{r1, r2}, false},
		{[]string{r2}, true}, // r1 stays, older than r2
		{[]string{r1, r3}, true},
	} {
		if got := hidesOlder(c.drop, inv); got != c.want {
			t.Errorf("drop %v: relink = %v, want %v", c.drop, got, c.want)
		}
	}
}
