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
	"strings"
	"sync"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// LockInfo says who holds a stage's lock.
type LockInfo struct {
	Who     string    `json:"who"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
	Command string    `json:"command"`
	Stage   string    `json:"stage"`
	Token   string    `json:"token"` // tells our lock from someone else's
}

func (l LockInfo) String() string {
	return fmt.Sprintf("%s (pid %d) since %s (%s ago), running %q",
		l.Who, l.PID, l.Since.Local().Format("2006-01-02 15:04:05"), time.Since(l.Since).Round(time.Second), l.Command)
}

// LockedError is a stage someone else is deploying.
type LockedError struct {
	Host   string
	Holder LockInfo
	Stage  string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked on %s by %s\nwait for it to finish; if that run is dead, break the lock with: hoist lock %s --release",
		e.Stage, e.Host, e.Holder, e.Stage)
}

// mkdir is atomic: of two deploys racing, exactly one creates the dir.
const takeLockScript = `
mkdir -p "$1/.hoist" || exit 1
if mkdir "$1/.hoist/lock" 2>/dev/null; then
	cat > "$1/.hoist/lock/info.json"
	echo taken
else
	cat "$1/.hoist/lock/info.json" 2>/dev/null
fi
`

// Only the token's owner may release; a broken and retaken lock is not ours.
const releaseLockScript = `
if grep -qF "\"token\":\"$2\"" "$1/.hoist/lock/info.json" 2>/dev/null; then rm -rf "$1/.hoist/lock"; fi
`

// Lock is a stage lock held on every host.
type Lock struct {
	info  LockInfo
	hosts []*remote.Host
	root  string
}

// TakeLock locks the stage on every host, or on none: if any host is held
// by someone else, the hosts already taken are let go.
func (t *Target) TakeLock(ctx context.Context, command string) (*Lock, error) {
	token := make([]byte, 8)
	rand.Read(token)
	info := LockInfo{Who: whoAmI(), PID: os.Getpid(), Since: time.Now().UTC(), Command: command, Stage: t.Stage.Name, Token: hex.EncodeToString(token)}
	data, _ := json.Marshal(info)
	lock := &Lock{info: info, root: t.Layout.Root}
	var mu sync.Mutex
	var held *LockedError
	err := Each(ctx, t.Hosts, "lock", func(ctx context.Context, h *remote.Host) error {
		out, err := remote.OutputWithInput(ctx, h, remote.Script(takeLockScript, t.Layout.Root), bytes.NewReader(data))
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.TrimSpace(out) == "taken" {
			lock.hosts = append(lock.hosts, h)
			return nil
		}
		var holder LockInfo
		json.Unmarshal([]byte(out), &holder)
		held = &LockedError{Host: h.Name, Holder: holder, Stage: t.Stage.Name}
		return nil
	})
	if err != nil || held != nil {
		lock.Release(context.WithoutCancel(ctx))
		if held != nil {
			return nil, held
		}
		return nil, err
	}
	return lock, nil
}

// Release lets go of the lock on every host that has it. It is called on
// every way out of a deploy, Ctrl-C included, so it must not depend on the
// caller's context still being alive.
func (l *Lock) Release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return Each(ctx, l.hosts, "unlock", func(ctx context.Context, h *remote.Host) error {
		_, err := remote.Output(ctx, h, remote.Script(releaseLockScript, l.root, l.info.Token))
		return err
	})
}

// LockStatus is the lock as found on one host.
type LockStatus struct {
	Host   string
	Holder *LockInfo // nil when free
}

// ReadLocks shows the lock on every host.
func (t *Target) ReadLocks(ctx context.Context) ([]LockStatus, error) {
	out := make([]LockStatus, len(t.Hosts))
	err := Each(ctx, t.Hosts, "lock", func(ctx context.Context, h *remote.Host) error {
		i := t.index(h)
		out[i].Host = h.Name
		data, err := remote.Output(ctx, h, remote.Script(`[ -d "$1" ] && { cat "$1/info.json" 2>/dev/null || echo '{}'; } || true`, t.Layout.Lock()))
		if err != nil {
			return err
		}
		if strings.TrimSpace(data) == "" {
			return nil
		}
		var info LockInfo
		if err := json.Unmarshal([]byte(data), &info); err != nil {
			return errors.New("the lock holds unreadable details: " + data)
		}
		out[i].Holder = &info
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
