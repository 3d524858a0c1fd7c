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
	invs := map[*remote.Host]release.Inventory{}
	var mu sync.Mutex
	err := t.each(ctx, t.Hosts, "reconcile", func(ctx context.Context, h *remote.Host) error {
		inv, err := release.ReadInventory(ctx, h, t.Layout, t.Site(h).Unit())
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
			if inv, err = release.ReadInventory(ctx, h, t.Layout, t.Site(h).Unit()); err != nil {
				return err
			}
		}
		mu.Lock()
		invs[h] = inv
		mu.Unlock()
		return nil
	})
	return invs, err
}
