package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

func (f *fleet) lockDir(i int) string { return filepath.Join(f.dirs[i], ".hoist", "lock") }

func (f *fleet) locked(i int) bool {
	_, err := os.Stat(f.lockDir(i))
	return err == nil
}

// plant leaves a lock on host i as another run would, renewed age ago.
func (f *fleet) plant(t *testing.T, i int, info LockInfo, age time.Duration) {
	t.Helper()
	os.MkdirAll(f.lockDir(i), 0o755)
	data, _ := json.Marshal(info)
	file := filepath.Join(f.lockDir(i), "info.json")
	os.WriteFile(file, data, 0o644)
	then := time.Now().Add(-age)
	os.Chtimes(file, then, then)
}

func TestLockIsAllOrNone(t *testing.T) {
	f := newFleet(t, 3)
	ctx := context.Background()
	f.plant(t, 1, LockInfo{Who: "ann@laptop", PID: 1, Token: "0123456789abcdef", Machine: "elsewhere"}, time.Second)
	_, err := f.TakeLock(ctx, "hoist deploy test", nil)
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Host != "h2" || !strings.Contains(err.Error(), "ann@laptop") {
		t.Fatalf("err = %v, want h2 locked by ann", err)
	}
	if f.locked(0) || f.locked(2) {
		t.Error("hosts taken before the refusal were not let go")
	}
	if !f.locked(1) {
		t.Error("the other run's lock was removed")
	}
}

// A host whose link fails right after its mkdir holds our token: releasing
// goes to every host, not only those that answered.
func TestLockReleasesEveryHostAfterAFailure(t *testing.T) {
	f := newFleet(t, 2)
	ctx := context.Background()
	f.Hosts[1].Transport = failAfter{f.Hosts[1].Transport}
	if _, err := f.TakeLock(ctx, "hoist deploy test", nil); err == nil {
		t.Fatal("want the lock to fail on h2")
	}
	f.Hosts[1].Transport = f.Hosts[1].Transport.(failAfter).Transport
	if f.locked(0) || f.locked(1) {
		t.Errorf("locks left behind: h1=%v h2=%v", f.locked(0), f.locked(1))
	}
}

// failAfter runs the command, then reports the link as dropped: the lock
// script ran, its answer never came.
type failAfter struct{ remote.Transport }

func (f failAfter) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := f.Transport.Run(ctx, cmd, stdin, io.Discard, io.Discard); err != nil {
		return err
	}
	if strings.Contains(cmd, "took-over") {
		return &remote.ExitError{Status: -1, Stderr: "the connection dropped"}
	}
	return nil
}

func TestLockTakesOverAnExpiredLease(t *testing.T) {
	f := newFleet(t, 2)
	dead := LockInfo{Who: "ci@runner-7", PID: 4242, Token: "00000000000000aa", Machine: "runner-7", Command: "hoist deploy test"}
	f.plant(t, 0, dead, LeaseTTL+10*time.Second)
	f.plant(t, 1, dead, LeaseTTL+10*time.Second)
	lock, err := f.TakeLock(context.Background(), "hoist deploy test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(context.Background())
	if out := f.out.String(); !strings.Contains(out, "took over the lock of ci@runner-7") || !strings.Contains(out, "stopped renewing") {
		t.Errorf("no message naming the dead holder:\n%s", out)
	}
}

// A run killed on this machine is taken over at once: its process is gone.
func TestLockTakesOverADeadProcessAtOnce(t *testing.T) {
	f := newFleet(t, 1)
	cmd := exec.Command("true")
	cmd.Run()
	host, _ := os.Hostname()
	f.plant(t, 0, LockInfo{Who: "me@here", PID: cmd.Process.Pid, Token: "00000000000000bb", Machine: host}, time.Second)
	lock, err := f.TakeLock(context.Background(), "hoist deploy test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(context.Background())
	if !strings.Contains(f.out.String(), "is gone") {
		t.Errorf("no message about the dead process:\n%s", f.out)
	}
}

func TestLockIsRenewedAndLossStopsTheRun(t *testing.T) {
	f := newFleet(t, 1)
	old := LeaseRenew
	LeaseRenew = 100 * time.Millisecond
	defer func() { LeaseRenew = old }()
	ctx, cancel := context.WithCancelCause(context.Background())
	lock, err := f.TakeLock(ctx, "hoist deploy test", cancel)
	if err != nil {
		t.Fatal(err)
	}
	info := filepath.Join(f.lockDir(0), "info.json")
	past := time.Now().Add(-time.Hour)
	os.Chtimes(info, past, past)
	time.Sleep(400 * time.Millisecond)
	if st, _ := os.Stat(info); time.Since(st.ModTime()) > time.Minute {
		t.Fatal("the lease was not renewed")
	}
	// Another run takes it over (say this one stalled past the TTL).
	f.plant(t, 0, LockInfo{Who: "bob@desk", Token: "00000000000000cc"}, 0)
	select {
	case <-ctx.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("losing the lock did not stop the run")
	}
	var lost *LostLockError
	if !errors.As(context.Cause(ctx), &lost) || !strings.Contains(lost.Error(), "bob@desk") {
		t.Errorf("cause = %v", context.Cause(ctx))
	}
	lock.Release(context.Background())
	if !f.locked(0) {
		t.Error("releasing removed the other run's lock")
	}
}

// Taking over an expired lock first stops the long commands its run left
// running on the host (release.Tracked recorded their process groups),
// and nothing else: an unrecorded process of the same user lives on.
func TestTakeoverStopsWhatTheDeadRunLeftRunning(t *testing.T) {
	f := newFleet(t, 1)
	h := f.Hosts[0]
	f.plant(t, 0, LockInfo{Who: "ci@runner-7", PID: 4242, Token: "00000000000000aa", Machine: "runner-7"}, LeaseTTL+10*time.Second)
	// As sshd runs each command: in a session of its own.
	start := func(cmd string) *exec.Cmd {
		c := exec.Command("setsid", "unshare", "-m", "sh", "-c", `mount --bind "$1" "$2" && exec sh -c "$3"`, "sh", f.dirs[0], f.Layout.Root, cmd)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	left := start(release.Tracked(f.Layout, "sleep 60"))
	bystander := start("sleep 60")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if data, _ := os.ReadFile(filepath.Join(f.lockDir(0), "groups")); strings.Count(string(data), "\n") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tracked command never recorded its process group")
		}
	}
	lock, err := f.TakeLock(context.Background(), "hoist deploy test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(context.Background())
	done := make(chan error, 1)
	go func() { done <- left.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("the dead run's command still runs after the takeover on %s", h.Name)
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process the dead run did not record was stopped: %v", err)
	}
}

// Finish lets go of the lock in its own round trip; the Release that every
// run ends with then has nothing left to send. A host whose finish failed
// keeps the lock until that Release.
func TestFinishLetsGoOfTheLock(t *testing.T) {
	f := newFleet(t, 2)
	ctx := context.Background()
	f.release(t, r1, 1, release.Live)
	f.live(t, r1)
	f.release(t, r2, 2, release.Ready)
	lock, err := f.TakeLock(ctx, "hoist deploy test", nil)
	if err != nil {
		t.Fatal(err)
	}
	cut := f.NewCutover(&fakeRunner{f: f}, r2, f.from(r1), 0)
	cut.Held, cut.Lock = f.held(t), lock
	delete(cut.Held, f.Hosts[1]) // h2's finish fails: its record of r2 is unknown
	if err := cut.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Switch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Finish(ctx, false, Entry{Action: "deploy", Release: r2, Result: "ok"}); err == nil || !strings.Contains(err.Error(), "h2") {
		t.Fatalf("finish = %v, want h2's failure", err)
	}
	if f.locked(0) || !f.locked(1) {
		t.Errorf("after finish: locked h1 %v, h2 %v; want h1 let go, h2 held", f.locked(0), f.locked(1))
	}
	if rec := f.inventory(t, f.Hosts[0]).Find(r2); rec == nil || rec.State != release.Live {
		t.Errorf("h1's record of r2 = %+v, want live", rec)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if f.locked(1) {
		t.Error("Release left h2 locked")
	}
}
