package deploy

import (
	"context"
	"strings"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// gunicornRunner runs releases of strategy release: one gunicorn instance
// per release under systemd, behind nginx or Caddy, and the app's
// background processes, each a systemd unit per release.
type gunicornRunner struct {
	t          *Target
	health     config.Health
	hostHeader string
}

func (t *Target) gunicorn(hostHeader string) gunicornRunner {
	return gunicornRunner{t: t, health: t.Config.Health, hostHeader: hostHeader}
}

func (r gunicornRunner) Start(ctx context.Context, h *remote.Host, id string) error {
	site := r.t.Site(h)
	web := r.t.isWeb(h)
	started := time.Now()
	if err := serve.StartProcesses(ctx, h, site, id); err != nil {
		return err
	}
	if web {
		if err := serve.StartAndCheck(ctx, h, site, id, r.health, r.hostHeader); err != nil {
			return err
		}
		r.t.UI.Step(h.Name, "health", "%s answered %d (Host: %s)", strings.Join(r.health.Paths, ", "), r.health.Status, r.hostHeader)
	}
	if len(site.Processes) == 0 {
		return nil
	}
	if wait := serve.ProcessSettle - time.Since(started); wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	if err := serve.CheckProcesses(ctx, h, site, id); err != nil {
		return err
	}
	r.t.UI.Step(h.Name, "health", "processes up for %s: %s", serve.ProcessSettle, processNames(site))
	return nil
}

func (r gunicornRunner) CheckLive(ctx context.Context, h *remote.Host, id, first string) error {
	return serve.CheckPublic(ctx, h, r.t.Site(h), id, r.health, r.hostHeader, first)
}

func (r gunicornRunner) Stop(ctx context.Context, h *remote.Host, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	site := r.t.Site(h)
	if err := serve.StopProcesses(ctx, h, site, ids...); err != nil {
		return err
	}
	return serve.Stop(ctx, h, site, ids...)
}

func (r gunicornRunner) Retire(h *remote.Host, live string, others []string) string {
	site := r.t.Site(h)
	if !r.t.isWeb(h) {
		return serve.RetireProcessesCmd(h, site, live)
	}
	return remote.Chain(serve.RetireProcessesCmd(h, site, live), serve.RetireCmd(h, site, live, others))
}
