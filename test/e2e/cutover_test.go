package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// load keeps every host busy with GET / until stopped, counting requests
// that failed (an error, or a status other than 200).
type load struct {
	sent, failed atomic.Int64
	worst        atomic.Int64 // nanoseconds
	stop         chan struct{}
	wg           sync.WaitGroup
	mu           sync.Mutex
	samples      []string // the first few failures, for the log
}

func startLoad(t *testing.T, hosts []*fleet.Host, domain string, perHost int) *load {
	l := &load{stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(3 * time.Minute) // bounded even if stop is never called
	for _, h := range hosts {
		for i := 0; i < perHost; i++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for time.Now().Before(deadline) {
					select {
					case <-l.stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", h.URL("/"), nil)
					req.Host = domain
					start := time.Now()
					resp, err := client.Do(req)
					took := time.Since(start).Nanoseconds()
					l.sent.Add(1)
					if took > l.worst.Load() {
						l.worst.Store(took)
					}
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
					if err != nil {
						l.failed.Add(1)
						l.mu.Lock()
						if len(l.samples) < 5 {
							l.samples = append(l.samples, h.Name+": "+err.Error())
						}
						l.mu.Unlock()
					}
				}
			}()
		}
	}
	return l
}

func (l *load) finish(t *testing.T, what string) {
	close(l.stop)
	l.wg.Wait()
	t.Logf("%s under load: %d requests, %d failed, worst latency %s", what, l.sent.Load(), l.failed.Load(), time.Duration(l.worst.Load()))
	if l.failed.Load() > 0 {
		t.Errorf("%s: %d of %d requests failed, e.g. %v", what, l.failed.Load(), l.sent.Load(), l.samples)
	}
	if l.sent.Load() < 100 {
		t.Errorf("%s: only %d requests sent; the load did not run", what, l.sent.Load())
	}
}

func TestDeployAndRollbackUnderLoadFailNoRequest(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "steady.test"
	a := newApp(t, shared, "notes", "steady", notesYML(domain, hostList(shared.Hosts...), "      DATABASE_URL: \""+createDB(t, "steady")+"\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")

	a.write("VERSION", "v2\n")
	a.commit("v2")
	l := startLoad(t, shared.Hosts, domain, 2)
	time.Sleep(time.Second)
	a.mustHoist("deploy", "prod")
	time.Sleep(2 * time.Second)
	l.finish(t, "deploy")
	expectServing(t, shared.Hosts, domain, "version: v2")

	l = startLoad(t, shared.Hosts, domain, 2)
	time.Sleep(time.Second)
	a.mustHoist("rollback", "prod")
	time.Sleep(2 * time.Second)
	l.finish(t, "rollback")
	expectServing(t, shared.Hosts, domain, "version: v1")
}

// A release that cannot serve is never switched to: every host keeps the
// old release, the new instances are stopped, and the error shows why.
func TestUnhealthyReleaseIsNeverSwitchedTo(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "sick.test"
	hosts := shared.Hosts[:2]
	a := newApp(t, shared, "notes", "sick", notesYML(domain, hostList(hosts...), "      DATABASE_URL: \""+createDB(t, "sick")+"\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	good := a.git("rev-parse", "HEAD")

	cases := []struct {
		name, file, content string
		want                []string
	}{
		{"crash on import", "notes/wsgi.py", "raise RuntimeError('boom at import')\n",
			[]string{"exited instead of serving", "boom at import"}},
		{"health answers 500", "board/views.py", "\ndef index(request):\n    raise ValueError('broken view')\n",
			[]string{"answered 500, want 200"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.write(c.file, readFile(t, a.dir+"/"+c.file)+c.content)
			a.write("VERSION", "v2\n")
			a.commit(c.name)
			out, code := a.hoist("deploy", "prod")
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range append(c.want, "health", "still serves on every host") {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			expectServing(t, hosts, domain, "version: v1")
			for _, h := range hosts {
				if n := sh(t, h, "systemctl list-units --no-legend --plain --state=active,activating 'hoist-sick@*.service' | wc -l"); n != "1" {
					t.Errorf("%s: %s instances running, want only the live one", h.Name, n)
				}
			}
			a.git("reset", "-q", "--hard", good)
		})
	}
}

// When one host cannot switch, the hosts already switched go back.
func TestFailedSwitchOnOneHostRevertsAll(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "revert.test"
	hosts := shared.Hosts
	a := newApp(t, shared, "notes", "revert", notesYML(domain, hostList(hosts...), "      DATABASE_URL: \""+createDB(t, "revert")+"\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	a.write("VERSION", "v2\n")
	a.commit("v2")
	// web3 cannot replace its live socket link.
	sh(t, hosts[2], "chmod 0555 /srv/revert/run")
	defer hosts[2].Exec(context.Background(), "chmod", "0755", "/srv/revert/run")

	out, code := a.hoist("deploy", "prod")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "web3") || !strings.Contains(out, "switch") {
		t.Errorf("the error should name web3 and the switch")
	}
	expectServing(t, hosts, domain, "version: v1")
	for _, h := range hosts {
		cur := sh(t, h, "basename $(readlink /srv/revert/current)")
		sock := sh(t, h, "basename $(readlink /srv/revert/run/live.sock)")
		if cur+".sock" != sock {
			t.Errorf("%s: current %s and live socket %s disagree", h.Name, cur, sock)
		}
	}
}
