// Package deploy runs the steps of a deploy, a rollback and setup across
// the hosts of a stage: in parallel where it can, all or none where it
// must (the lock, the cut-over).
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
	"github.com/hoistdeploy/hoist/internal/ui"
)

// Target is one stage with a connection to each of its hosts.
type Target struct {
	Config  *config.Config
	Stage   *config.Stage
	Hosts   []*remote.Host // in hoist.yml order
	Primary *remote.Host
	Layout  release.Layout
	UI      *ui.UI
	roles   map[*remote.Host][]config.Role
	dial    remote.DialOptions
	address map[*remote.Host]string
}

// Open connects to every host of the stage at once. If any host cannot be
// reached, it closes the others and nothing has been changed anywhere.
func Open(ctx context.Context, c *config.Config, s *config.Stage, dial remote.DialOptions, u *ui.UI) (*Target, error) {
	t := &Target{Config: c, Stage: s, Layout: release.Layout{Root: c.DeployPath(s), Container: s.Strategy == config.ContainerStrategy}, UI: u, roles: map[*remote.Host][]config.Role{},
		dial: dial, address: map[*remote.Host]string{}}
	t.Hosts = make([]*remote.Host, len(s.Hosts))
	errs := make([]error, len(s.Hosts))
	var wg sync.WaitGroup
	for i, hc := range s.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, err := remote.Connect(ctx, hc.Address, dial)
			if err != nil {
				errs[i] = &StepError{Host: hc.Address, Step: "connect", Err: err}
				return
			}
			h := &remote.Host{Name: hc.Address, Transport: &redialable{tr: tr}}
			if err := h.Identify(ctx); err != nil {
				tr.Close()
				errs[i] = &StepError{Host: hc.Address, Step: "connect", Err: err}
				return
			}
			t.Hosts[i] = h
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Close()
		return nil, &ConnectError{Err: err}
	}
	primary := s.Primary()
	for i, hc := range s.Hosts {
		t.roles[t.Hosts[i]] = hc.Roles
		t.address[t.Hosts[i]] = hc.Address
		if hc == primary {
			t.Primary = t.Hosts[i]
		}
	}
	return t, nil
}

// Close drops every connection.
func (t *Target) Close() {
	for _, h := range t.Hosts {
		if h != nil {
			h.Close()
		}
	}
}

// redial replaces the connection of every host that no longer answers,
// so undoing a failed run reaches a host whose link was cut a moment ago.
// Hosts that still cannot be reached are left as they are.
func (t *Target) redial(ctx context.Context) {
	Each(ctx, t.Hosts, "reconnect", func(ctx context.Context, h *remote.Host) error {
		probe, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := remote.Output(probe, h, remote.Command("true"))
		cancel()
		if _, ok := h.Transport.(*redialable); err == nil || !ok {
			return nil
		}
		dial, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		tr, err := remote.Connect(dial, t.address[h], t.dial)
		if err != nil {
			return nil
		}
		h.Transport.(*redialable).swap(tr)
		t.UI.Step(h.Name, "reconnect", "the connection had dropped: reconnected to undo the run")
		return nil
	})
}

// redialable is a connection that redial can replace while other
// goroutines (the lock's renewal) use it.
type redialable struct {
	mu    sync.Mutex
	tr    remote.Transport
	trips atomic.Int64 // commands run: what a run costs a host in round trips
}

func (r *redialable) get() remote.Transport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tr
}

func (r *redialable) swap(tr remote.Transport) {
	r.mu.Lock()
	old := r.tr
	r.tr = tr
	r.mu.Unlock()
	old.Close()
}

func (r *redialable) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.trips.Add(1)
	return r.get().Run(ctx, cmd, stdin, stdout, stderr)
}

// RoundTrips counts the commands run on each host so far, by host name.
func (t *Target) RoundTrips() map[string]int64 {
	trips := map[string]int64{}
	for _, h := range t.Hosts {
		if r, ok := h.Transport.(*redialable); ok {
			trips[h.Name] = r.trips.Load()
		}
	}
	return trips
}
func (r *redialable) Interactive(ctx context.Context, cmd string, tty bool) error {
	return r.get().Interactive(ctx, cmd, tty)
}
func (r *redialable) Close() error { return r.get().Close() }

// Web lists the hosts that serve HTTP.
func (t *Target) Web() []*remote.Host {
	var web []*remote.Host
	for _, h := range t.Hosts {
		for _, r := range t.roles[h] {
			if r == config.WebRole {
				web = append(web, h)
				break
			}
		}
	}
	return web
}

// Site is the serving setup of the stage on h, with the processes h runs.
func (t *Target) Site(h *remote.Host) serve.Site {
	s := serve.NewSite(t.Config, t.Stage, h.User)
	s.Processes = t.processesOn(h)
	return s
}

// processesOn lists the background processes h runs: those whose roles h
// has; by default, the worker hosts run them, or the primary when the
// stage has none.
func (t *Target) processesOn(h *remote.Host) []*config.Process {
	workers := false
	for _, x := range t.Hosts {
		workers = workers || slices.Contains(t.roles[x], config.WorkerRole)
	}
	var procs []*config.Process
	for _, p := range t.Config.Processes {
		run := false
		switch {
		case len(p.Roles) > 0:
			for _, r := range p.Roles {
				run = run || slices.Contains(t.roles[h], r)
			}
		case workers:
			run = slices.Contains(t.roles[h], config.WorkerRole)
		default:
			run = h == t.Primary
		}
		if run {
			procs = append(procs, p)
		}
	}
	return procs
}

// Runs lists the hosts that run anything of a release: web hosts and
// hosts with processes.
func (t *Target) Runs() []*remote.Host {
	var hosts []*remote.Host
	for _, h := range t.Hosts {
		if t.isWeb(h) || len(t.processesOn(h)) > 0 {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// each is Each for a step of a run: it records how long the step took on
// each host, for --json and --timings.
func (t *Target) each(ctx context.Context, hosts []*remote.Host, step string, fn func(ctx context.Context, h *remote.Host) error) error {
	return Each(ctx, hosts, step, func(ctx context.Context, h *remote.Host) error {
		t.UI.Begin(h.Name, step)
		start := time.Now()
		defer func() { t.UI.Timed(h.Name, step, time.Since(start)) }()
		return fn(ctx, h)
	})
}

// Each runs fn on every host in hosts at once and waits for all of them.
// Errors are tagged with host and step; all of them are returned.
func Each(ctx context.Context, hosts []*remote.Host, step string, fn func(ctx context.Context, h *remote.Host) error) error {
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, h); err != nil {
				errs[i] = &StepError{Host: h.Name, Step: step, Err: err}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// whoAmI names the person deploying, for locks and history.
func whoAmI() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// StepError is a step that failed on one host.
type StepError struct {
	Host, Step string
	Err        error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Host, e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// ConnectError is one or more hosts hoist could not reach or trust.
type ConnectError struct{ Err error }

func (e *ConnectError) Error() string {
	return e.Err.Error() + "\nnothing was changed on any host"
}
func (e *ConnectError) Unwrap() error { return e.Err }

// failedStep names the step and hosts of the failures in err, for history.
func failedStep(err error) (step string, hosts []string) {
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	for _, e := range all {
		var se *StepError
		if errors.As(e, &se) {
			step = se.Step
			hosts = append(hosts, se.Host)
		}
	}
	sort.Strings(hosts)
	return step, hosts
}

// indent puts text under a heading line.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
