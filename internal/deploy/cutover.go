package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// Runner starts, checks and stops the processes of one release on a host.
// The strategy decides how (gunicorn under systemd for strategy release);
// the cut-over decides when.
type Runner interface {
	// Start runs the release beside the live one and waits until it is
	// healthy on its own socket, before any user can reach it.
	Start(ctx context.Context, h *remote.Host, id string) error
	// CheckLive runs first (the switch to id) and asks the web server, as
	// a user would, whether id is live, in one round trip.
	CheckLive(ctx context.Context, h *remote.Host, id, first string) error
	// Stop stops the releases' processes now.
	Stop(ctx context.Context, h *remote.Host, ids ...string) error
	// Retire is the command that makes live the release the host starts at
	// boot and stops the others once their connections drained, without
	// holding the command; Finish runs it in its one round trip.
	Retire(h *remote.Host, live string, others []string) string
}

// critical counts switches and reverts under way: a second Ctrl-C must not
// leave hosts half switched (see Critical).
var critical atomic.Int32

// Critical tells whether a switch or a revert is running, which a second
// interrupt must not abort.
func Critical() bool { return critical.Load() > 0 }

// Cutover moves every host of a stage from what it serves to one release:
// deploy, rollback and every strategy drive this one type.
type Cutover struct {
	t     *Target
	run   Runner
	to    string
	from  map[*remote.Host]string // what each host served before
	batch int                     // hosts switched at a time; 0 for all
	// BeforeSwitch holds a command per host that runs in its switch's
	// round trip, just before it (a deploy records its release as ready).
	BeforeSwitch map[*remote.Host]string
	// Held is what each host held when the run read it under the lock,
	// with the record of the release it switches to: Finish works from it.
	Held map[*remote.Host]release.Inventory
	// Lock, when set, is let go of in Finish's round trip.
	Lock *Lock

	mu       sync.Mutex
	started  []*remote.Host
	switched []*remote.Host
}

// NewCutover prepares moving t's hosts from what they serve (from) to the
// release to.
func (t *Target) NewCutover(run Runner, to string, from map[*remote.Host]string, batch int) *Cutover {
	return &Cutover{t: t, run: run, to: to, from: from, batch: batch}
}

// Start runs the new release beside the old one on every host that runs
// anything (web instances, processes) and waits until each is healthy.
func (c *Cutover) Start(ctx context.Context) error {
	return c.t.each(ctx, c.t.Runs(), "health", func(ctx context.Context, h *remote.Host) error {
		c.mu.Lock()
		c.started = append(c.started, h)
		c.mu.Unlock()
		return c.run.Start(ctx, h, c.to)
	})
}

// Switch points every host at the new release, all at once or in batches,
// and checks each through its web server. It ignores Ctrl-C: a switch is
// short and must not stop half-way. On error the caller calls Undo.
func (c *Cutover) Switch(ctx context.Context) error {
	critical.Add(1)
	defer critical.Add(-1)
	ctx = context.WithoutCancel(ctx)
	hosts := c.t.Hosts
	size := c.batch
	if size <= 0 || size > len(hosts) {
		size = len(hosts)
	}
	for start := 0; start < len(hosts); start += size {
		batch := hosts[start:min(start+size, len(hosts))]
		c.mu.Lock()
		c.switched = append(c.switched, batch...)
		c.mu.Unlock()
		err := c.t.each(ctx, batch, "switch", func(ctx context.Context, h *remote.Host) error {
			cmd, err := c.switchCmd(h)
			if err != nil {
				return err
			}
			if c.t.isWeb(h) {
				return c.run.CheckLive(ctx, h, c.to, cmd)
			}
			_, err = remote.Output(ctx, h, cmd)
			return err
		})
		if err != nil {
			return err
		}
		if size < len(hosts) {
			c.t.UI.Info("switched %d of %d hosts", min(start+size, len(hosts)), len(hosts))
		}
	}
	c.t.UI.Info("every host now serves %s", c.to)
	return nil
}

// switchCmd is what switches h, before its check through the web server.
func (c *Cutover) switchCmd(h *remote.Host) (string, error) {
	sw, err := release.SwitchCmd(c.t.Layout, c.to, c.t.isWeb(h))
	if err != nil {
		return "", err
	}
	return remote.Chain(c.BeforeSwitch[h], remote.Labeled("switch", sw)), nil
}

// Undo puts every host the switch touched back on what it served, then
// stops the new release's processes wherever it does not serve. A host
// that could not be switched back keeps the new release running: it is
// what that host serves.
func (c *Cutover) Undo(ctx context.Context) error {
	critical.Add(1)
	defer critical.Add(-1)
	ctx = context.WithoutCancel(ctx)
	var errs []error
	serving := map[*remote.Host]bool{}
	var mu sync.Mutex
	err := c.t.each(ctx, c.switched, "revert", func(ctx context.Context, h *remote.Host) error {
		prev := c.from[h]
		if prev == "" {
			mu.Lock()
			serving[h] = true
			mu.Unlock()
			return errors.New("no earlier release to go back to: the new one stays")
		}
		if err := release.Switch(ctx, h, c.t.Layout, prev, c.t.isWeb(h)); err != nil {
			mu.Lock()
			serving[h] = true
			mu.Unlock()
			return err
		}
		c.t.UI.Step(h.Name, "revert", "switched back to %s", prev)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	var stop []*remote.Host
	for _, h := range c.started {
		if !serving[h] {
			stop = append(stop, h)
		}
	}
	if err := c.t.each(ctx, stop, "clean-up", func(ctx context.Context, h *remote.Host) error {
		return c.run.Stop(ctx, h, c.to)
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Switched tells whether any host was pointed at the new release.
func (c *Cutover) Switched() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.switched) > 0
}

// Finish records the new state on every host (the new release live, the
// old one retired) and appends entry to its history, retires the old
// processes, prunes releases beyond keep_releases (never the one that
// served before) with the venvs and artifacts only they used, links the
// new release into the static fallback (relinking it whole when that
// pruning hid an older release's files), and with Lock set lets go of the
// lock: one round trip per host, however much there is to tidy. It works
// from Held, what each host held when the run read it under the lock: no
// one else changes a host's records meanwhile. A rollback marks what it
// left as rolled back, so the next rollback goes further back.
func (c *Cutover) Finish(ctx context.Context, rollback bool, entry Entry) error {
	t := c.t
	unlock := ""
	if c.Lock != nil {
		unlock = c.Lock.handOver()
	}
	return c.t.each(ctx, t.Hosts, "finish", func(ctx context.Context, h *remote.Host) error {
		inv := c.Held[h]
		inv.Records = slices.Clone(inv.Records) // finishCmd changes them
		cmd, drop, err := c.finishCmd(h, inv, rollback, entry)
		if err != nil {
			return err
		}
		out, err := remote.Output(ctx, h, remote.Chain(cmd, unlock))
		if err != nil {
			return err
		}
		if c.Lock != nil {
			c.Lock.released(h)
		}
		if len(drop) > 0 {
			t.UI.Step(h.Name, "prune", "removed %d old release(s)", len(drop))
		}
		t.warnFallback(h, out, nil)
		return nil
	})
}

// finishCmd is Finish's one command for a host holding inv, and the
// releases it prunes.
func (c *Cutover) finishCmd(h *remote.Host, inv release.Inventory, rollback bool, entry Entry) (string, []string, error) {
	t := c.t
	var cmds []string
	write := func(r *release.Record) error {
		cmd, err := release.RecordCmd(t.Layout, *r)
		cmds = append(cmds, cmd)
		return err
	}
	prev := c.from[h]
	if from := inv.Find(prev); from != nil && prev != c.to {
		from.State = release.Retired
		from.RolledBack = from.RolledBack || rollback
		if err := write(from); err != nil {
			return "", nil, err
		}
	}
	to := inv.Find(c.to)
	if to == nil {
		return "", nil, fmt.Errorf("the record of %s is gone", c.to)
	}
	to.State = release.Live
	if !rollback && prev != c.to {
		to.Previous = prev
	}
	if err := write(to); err != nil {
		return "", nil, err
	}
	// PruneCandidates and Standby count on current pointing at the new
	// release.
	inv.Live = c.to
	standby := ""
	if t.Config.Gunicorn.Standby {
		standby = inv.Standby()
	}
	var others []string
	for _, id := range inv.Running {
		if id != c.to && id != standby {
			others = append(others, id)
		}
	}
	drop := release.PruneCandidates(inv, t.Config.KeepReleases, prev)
	remove, err := release.RemoveCmd(t.Layout, drop...)
	if err != nil {
		return "", nil, err
	}
	cmds = append(cmds, t.historyCmd(entry), c.run.Retire(h, c.to, others),
		remove, release.SweepCmd(t.Layout, inv.Without(drop...)))
	// The release now live joins the static fallback, so a later switch
	// off it finds it there.
	if hidesOlder(drop, inv) {
		cmds = append(cmds, t.relinkStaticCmd(h))
	} else {
		cmds = append(cmds, t.keepStaticCmd(h, ""))
	}
	return remote.Chain(cmds...), drop, nil
}

// hidesOlder tells whether a release pruned is newer than one that stays,
// in the static fallback's order (by id). Its links then hide names the
// older one has, and the tree must be relinked. Otherwise the tree stands
// (each release was linked as it went live): the names that lead into
// pruned releases are names no release left has, which answer 404 either
// way.
func hidesOlder(drop []string, inv release.Inventory) bool {
	for _, d := range drop {
		for _, r := range inv.Records {
			if r.ID < d && !slices.Contains(drop, r.ID) {
				return true
			}
		}
	}
	return false
}

// keepStaticCmd makes sure h's static fallback holds the release h
// serves, never exclude (a release being built), so pages of that release
// keep their hashed CSS and JS after a switch; "" on a host that serves
// none.
func (t *Target) keepStaticCmd(h *remote.Host, exclude string) string {
	if !t.servesStatic(h) {
		return ""
	}
	return serve.KeepStaticCmd(t.Layout, exclude)
}

// keepStatic runs keepStaticCmd on every host, beside other work; the
// function it returns waits until that is done. Losing fallbacks is a
// warning.
func (t *Target) keepStatic(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, h := range t.Hosts {
		cmd := t.keepStaticCmd(h, "")
		if cmd == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := remote.Output(ctx, h, cmd)
			if ctx.Err() == nil {
				t.warnFallback(h, out, err)
			}
		}()
	}
	return wg.Wait
}

// relinkStaticCmd rebuilds h's static fallback from the releases left on
// it; "" on a host that serves none.
func (t *Target) relinkStaticCmd(h *remote.Host) string {
	if !t.servesStatic(h) {
		return ""
	}
	return serve.RelinkStaticCmd(t.Layout)
}

func (t *Target) servesStatic(h *remote.Host) bool {
	return t.isWeb(h) && t.Config.Web.Server != config.NoWebServer
}

// warnFallback reports what keeping the static fallback could not do: a
// failure only loses fallbacks, so it is a warning.
func (t *Target) warnFallback(h *remote.Host, out string, err error) {
	if err == nil {
		err = serve.FallbackProblem(out)
	}
	if err != nil {
		t.UI.Warn("%s: static files of earlier releases may answer 404: %v", h.Name, err)
	}
}
