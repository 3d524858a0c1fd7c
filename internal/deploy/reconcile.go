package deploy

import (
	"context"
	"sync"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// reconcile makes each host's records agree with what the host really has
// (see release.Reconcile), says what it repaired, and returns what every
// host holds now. Every command that takes the lock runs it first, so a
// run that died (SIGKILL, a vanished CI job) leaves nothing for a person
// to repair.
func (t *Target) reconcile(ctx context.Context, run Runner) (map[*remote.Host]release.Inventory, error) {
	invs, _, err := t.reconcileAnd(ctx, run, nil)
	return invs, err
}

// reconcileAnd is reconcile that also runs, in the round trip of each
// host's read, the command also(h) (nil for none), and returns what it
// printed after any repair.
func (t *Target) reconcileAnd(ctx context.Context, run Runner, also func(*remote.Host) string) (map[*remote.Host]release.Inventory, map[*remote.Host]string, error) {
	invs := map[*remote.Host]release.Inventory{}
	alsoOut := map[*remote.Host]string{}
	var mu sync.Mutex
	err := t.each(ctx, t.Hosts, "reconcile", func(ctx context.Context, h *remote.Host) error {
		cmd := ""
		if also != nil {
			cmd = also(h)
		}
		inv, out, err := release.ReadInventoryAnd(ctx, h, t.Layout, t.Site(h).Unit(), cmd)
		if err != nil {
			return err
		}
		for _, d := range inv.Damaged {
			t.UI.Warn("%s: the release record %s is damaged or names an invalid id; it is ignored (look at it under %s, then remove it)", h.Name, d, t.Layout.StateDir())
		}
		rep := release.Reconcile(inv, t.Config.Gunicorn.Standby)
		if !rep.Empty() {
			for _, r := range rep.Records {
				if err := release.WriteRecord(ctx, h, t.Layout, r); err != nil {
					return err
				}
			}
			if err := run.Stop(ctx, h, rep.Stop...); err != nil {
				return err
			}
			if err := release.Remove(ctx, h, t.Layout, rep.Remove...); err != nil {
				return err
			}
			for _, n := range rep.Notes {
				t.UI.Step(h.Name, "reconcile", "repaired: %s", n)
			}
			// A repair may remove what also looked at (a container
			// release's image): ask again.
			if inv, out, err = release.ReadInventoryAnd(ctx, h, t.Layout, t.Site(h).Unit(), cmd); err != nil {
				return err
			}
		}
		mu.Lock()
		invs[h], alsoOut[h] = inv, out
		mu.Unlock()
		return nil
	})
	return invs, alsoOut, err
}
