package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// The lock is a lease: the run holding it renews it every LeaseRenew, and a
// holder that has not renewed it for LeaseTTL (killed, its machine gone) is
// taken over by the next run, which says whose lock it took. The host's
// clock measures the age, so the deploying machines' clocks do not matter.
var (
	LeaseRenew = 5 * time.Second
	LeaseTTL   = 45 * time.Second
)

// LockInfo says who holds a stage's lock.
type LockInfo struct {
	Who     string    `json:"who"`
	Machine string    `json:"machine"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
	Command string    `json:"command"`
	Stage   string    `json:"stage"`
	Token   string    `json:"token"` // tells our lock from someone else's
	// Age is how long ago the holder last renewed it, by the host's clock
	// (not stored: read with the lock).
	Age time.Duration `json:"-"`
}

func (l LockInfo) String() string {
	return fmt.Sprintf("%s (pid %d) since %s, running %q",
		l.Who, l.PID, l.Since.Local().Format("2006-01-02 15:04:05"), l.Command)
}

// dead tells whether the holder is a process of this machine that no
// longer exists: a run killed here is taken over at once, without waiting
// for its lease to run out.
func (l LockInfo) dead() bool {
	host, _ := os.Hostname()
	if l.Machine == "" || l.Machine != host || l.PID <= 0 || l.PID == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(l.PID, 0), syscall.ESRCH)
}

// LockedError is a stage someone else is deploying.
type LockedError struct {
	Host   string
	Holder LockInfo
	Stage  string
}

func (e *LockedError) Error() string {
	left := (LeaseTTL - e.Holder.Age).Round(time.Second)
	return fmt.Sprintf("%s is locked on %s by %s, renewed %s ago\n"+
		"wait for it to finish; if that run is dead, its lock expires in %s and the next run takes it over (or break it now with: hoist lock %s --release)",
		e.Stage, e.Host, e.Holder, e.Holder.Age.Round(time.Second), left, e.Stage)
}

// LostLockError is a run whose lease was taken over by another run (it
// could not renew it in time: its hosts or its machine stalled).
type LostLockError struct {
	Host   string
	Holder LockInfo
}

func (e *LostLockError) Error() string {
	return fmt.Sprintf("lost the lock on %s to %s: this run stopped so the two do not interleave", e.Host, e.Holder)
}

// Every lock script runs under flock(1) on LockGuard, so reading the age,
// taking over and writing are one step on each host. The age is that of
// info.json, which renewing touches.
const lockPrelude = lockAge + `
mkdir -p "$(dirname "$lock")" || exit 1
exec 9>"$guard"
flock -w 10 9 || { echo "busy"; exit 0; }
`

// lockAge names the arguments and tells the lease's age.
const lockAge = `
lock=$1 guard=$2 token=$3
age() { f="$lock/info.json"; [ -f "$f" ] || f=$lock; echo $(( $(date +%s) - $(stat -c %Y "$f") )); }
`

// takeLockScript: $4 is the lease TTL in seconds, $5 the token of a
// holder known dead, $6 the lock's list of process groups (see
// release.Tracked); our info.json comes on stdin. Taking over, it stops
// what the holder left running first: each group whose leader still has
// the start time recorded (a group id reused since is left alone).
const takeLockScript = lockPrelude + `
if [ -d "$lock" ]; then
	a=$(age)
	if [ "$a" -le "$4" ] && [ "$5" != "$(cat "$lock/info.json" 2>/dev/null | sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p')" ]; then
		echo "held $a"; cat "$lock/info.json" 2>/dev/null; exit 0
	fi
	echo "took-over $a"; cat "$lock/info.json" 2>/dev/null; echo
	stopped=
	while read -r g start; do
		case "$g$start" in ''|*[!0-9]*) continue ;; esac
		[ "$(cut -d' ' -f22 "/proc/$g/stat" 2>/dev/null)" = "$start" ] || continue
		kill -TERM "-$g" 2>/dev/null && stopped="$stopped $g"
	done 2>/dev/null < "$6"
	# Give them a moment to go before anything touches their files.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		alive=
		for g in $stopped; do kill -0 "-$g" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.3
	done
	for g in $stopped; do kill -KILL "-$g" 2>/dev/null; done
	rm -rf "$lock"
else
	echo taken
fi
mkdir "$lock" && cat > "$lock/info.json"
`

const renewLockScript = lockPrelude + `
if grep -qF "\"token\":\"$token\"" "$lock/info.json" 2>/dev/null; then touch "$lock/info.json"; echo ok; else echo lost; cat "$lock/info.json" 2>/dev/null; fi
`

// Only the token's owner may release; a lock taken over is not ours.
const releaseLockScript = lockPrelude + `
if grep -qF "\"token\":\"$token\"" "$lock/info.json" 2>/dev/null; then rm -rf "$lock"; fi
`

// readLockScript only looks, and writes nothing (hoist deploy --dry-run
// and hoist lock must not touch a host): it opens the guard for reading,
// which flock takes as well.
const readLockScript = lockAge + `
[ -d "$lock" ] || exit 0
exec 9<"$guard" 2>/dev/null && flock -w 10 9
echo "held $(age)"; cat "$lock/info.json" 2>/dev/null || echo '{}'
`

// Lock is a stage lock held on every host.
type Lock struct {
	info  LockInfo
	t     *Target
	mu    sync.Mutex
	hosts []*remote.Host
	// handedOver: the run's last round trips let go of the lock (see
	// handOver), so a renewal that finds it gone is no news.
	handedOver bool
	stop       chan struct{}
	done       chan struct{}
}

// lockAnswer parses what the lock scripts print: a status line ("taken",
// "held AGE", "took-over AGE", "ok", "lost", "busy"), then the holder's
// info.json.
func lockAnswer(out string) (status string, holder LockInfo) {
	first, rest, _ := strings.Cut(strings.TrimLeft(out, "\n"), "\n")
	word, age, _ := strings.Cut(strings.TrimSpace(first), " ")
	json.Unmarshal([]byte(strings.TrimSpace(rest)), &holder)
	if n, err := strconv.Atoi(age); err == nil {
		holder.Age = time.Duration(n) * time.Second
	}
	return word, holder
}

// TakeLock locks the stage on every host, or on none: if any host is held
// by a live run, the hosts already taken are let go. An expired lease, or
// one held by a process of this machine that is gone, is taken over with a
// message naming the dead holder. The lease is renewed until Release;
// when renewing finds it taken over, cancel is called with the reason.
func (t *Target) TakeLock(ctx context.Context, command string, cancel context.CancelCauseFunc) (*Lock, error) {
	token := make([]byte, 8)
	rand.Read(token)
	machine, _ := os.Hostname()
	info := LockInfo{Who: whoAmI(), Machine: machine, PID: os.Getpid(), Since: time.Now().UTC(), Command: command, Stage: t.Stage.Name, Token: hex.EncodeToString(token)}
	data, _ := json.Marshal(info)
	lock := &Lock{info: info, t: t, stop: make(chan struct{}), done: make(chan struct{})}
	var held *LockedError
	err := Each(ctx, t.Hosts, "lock", func(ctx context.Context, h *remote.Host) error {
		take := func(deadToken string) (string, LockInfo, error) {
			out, err := remote.OutputWithInput(ctx, h,
				remote.Script(takeLockScript, t.Layout.Lock(), t.Layout.LockGuard(), info.Token, strconv.Itoa(int(LeaseTTL.Seconds())), deadToken, t.Layout.LockGroups()),
				bytes.NewReader(data))
			st, holder := lockAnswer(out)
			if err == nil && st == "" {
				err = fmt.Errorf("could not take the lock: unexpected answer %q", out)
			}
			return st, holder, err
		}
		// A lock held by a process of this machine that is gone is taken
		// over at once, in a second try that names it.
		deadToken := "-"
		st, holder, err := take(deadToken)
		if err == nil && st == "held" && holder.dead() {
			deadToken = holder.Token
			st, holder, err = take(deadToken)
		}
		if err != nil {
			return err
		}
		lock.mu.Lock()
		defer lock.mu.Unlock()
		switch st {
		case "taken":
			lock.hosts = append(lock.hosts, h)
		case "took-over":
			lock.hosts = append(lock.hosts, h)
			why := fmt.Sprintf("it stopped renewing it %s ago", holder.Age.Round(time.Second))
			if holder.Token == deadToken {
				why = fmt.Sprintf("its process %d is gone", holder.PID)
			}
			t.UI.Step(h.Name, "lock", "took over the lock of %s: %s", holder, why)
		case "held":
			held = &LockedError{Host: h.Name, Holder: holder, Stage: t.Stage.Name}
		default:
			return fmt.Errorf("could not take the lock: another hoist is busy with it on the host (%s)", st)
		}
		return nil
	})
	if err != nil || held != nil {
		// Every host, not just those that answered "taken": a host whose
		// link failed after its mkdir holds our token too.
		lock.hosts = t.Hosts
		close(lock.done)
		lock.Release(context.WithoutCancel(ctx))
		if held != nil {
			return nil, held
		}
		return nil, err
	}
	go lock.renew(ctx, cancel)
	return lock, nil
}

// renew keeps the lease alive until Release. A host where the lock was
// taken over stops the run: two runs must never interleave.
func (l *Lock) renew(ctx context.Context, cancel context.CancelCauseFunc) {
	defer close(l.done)
	tick := time.NewTicker(LeaseRenew)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		l.mu.Lock()
		hosts := l.hosts
		l.mu.Unlock()
		Each(context.WithoutCancel(ctx), hosts, "lock", func(ctx context.Context, h *remote.Host) error {
			ctx, done := context.WithTimeout(ctx, LeaseRenew*2)
			defer done()
			out, err := remote.Output(ctx, h, remote.Script(renewLockScript, l.t.Layout.Lock(), l.t.Layout.LockGuard(), l.info.Token))
			if err != nil {
				return err // the step that uses the host reports a dead link
			}
			l.mu.Lock()
			handedOver := l.handedOver
			l.mu.Unlock()
			if st, holder := lockAnswer(out); st == "lost" && cancel != nil && !handedOver {
				cancel(&LostLockError{Host: h.Name, Holder: holder})
			}
			return nil
		})
	}
}

// handOver returns the command that lets go of the lock on a host, for a
// caller to end its last round trip with; the caller tells released which
// hosts it ran on, and Release does the rest. The lease is still renewed
// on the other hosts until then, however long those round trips take.
func (l *Lock) handOver() string {
	l.mu.Lock()
	l.handedOver = true
	l.mu.Unlock()
	return remote.Script(releaseLockScript, l.t.Layout.Lock(), l.t.Layout.LockGuard(), l.info.Token)
}

// released takes h off the hosts Release lets go of.
func (l *Lock) released(h *remote.Host) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A new slice: Release may be ranging over the old one.
	l.hosts = slices.DeleteFunc(slices.Clone(l.hosts), func(x *remote.Host) bool { return x == h })
}

// Release stops renewing and lets go of the lock on every host that has it.
// It is called on every way out of a run, Ctrl-C included, so it must not
// depend on the caller's context still being alive.
func (l *Lock) Release(ctx context.Context) error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done // a renewal under way must not find the lock gone and cry "lost"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l.mu.Lock()
	hosts := l.hosts
	l.mu.Unlock()
	return Each(ctx, hosts, "unlock", func(ctx context.Context, h *remote.Host) error {
		_, err := remote.Output(ctx, h, remote.Script(releaseLockScript, l.t.Layout.Lock(), l.t.Layout.LockGuard(), l.info.Token))
		if err == nil {
			l.released(h)
		}
		return err
	})
}

func (t *Target) readLock(ctx context.Context, h *remote.Host) (string, LockInfo, error) {
	out, err := remote.Output(ctx, h, remote.Script(readLockScript, t.Layout.Lock(), t.Layout.LockGuard(), ""))
	if err != nil {
		return "", LockInfo{}, err
	}
	st, holder := lockAnswer(out)
	return st, holder, nil
}

// LockStatus is the lock as found on one host.
type LockStatus struct {
	Host   string
	Holder *LockInfo // nil when free
}

// Expired tells whether the holder stopped renewing the lease: the next
// run takes it over.
func (s LockStatus) Expired() bool {
	return s.Holder != nil && (s.Holder.Age > LeaseTTL || s.Holder.dead())
}

// ReadLocks shows the lock on every host.
func (t *Target) ReadLocks(ctx context.Context) ([]LockStatus, error) {
	out := make([]LockStatus, len(t.Hosts))
	err := Each(ctx, t.Hosts, "lock", func(ctx context.Context, h *remote.Host) error {
		i := t.index(h)
		out[i].Host = h.Name
		st, holder, err := t.readLock(ctx, h)
		if err != nil {
			return err
		}
		if st == "held" {
			out[i].Holder = &holder
		}
		return nil
	})
	return out, err
}

// BreakLock removes the lock on every host, whoever holds it.
func (t *Target) BreakLock(ctx context.Context) error {
	return Each(ctx, t.Hosts, "unlock", func(ctx context.Context, h *remote.Host) error {
		_, err := remote.Output(ctx, h, remote.Command("rm", "-rf", t.Layout.Lock()))
		return err
	})
}

func (t *Target) index(h *remote.Host) int {
	for i, x := range t.Hosts {
		if x == h {
			return i
		}
	}
	return -1
}
