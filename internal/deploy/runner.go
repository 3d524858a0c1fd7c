package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// gunicornRunner runs releases of strategy release: one gunicorn instance
// per release under systemd, behind nginx or Caddy.
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
	if err := serve.Start(ctx, h, site, id); err != nil {
		return fmt.Errorf("start %s: %w\n%s", site.Instance(id), err, serve.Journal(ctx, h, site, id, 20))
	}
	if err := serve.Check(ctx, h, site, id, r.health, r.hostHeader); err != nil {
		return err
	}
	r.t.UI.Step(h.Name, "health", "%s answered %d (Host: %s)", strings.Join(r.health.Paths, ", "), r.health.Status, r.hostHeader)
	return nil
}

func (r gunicornRunner) CheckLive(ctx context.Context, h *remote.Host, id string) error {
	return serve.CheckPublic(ctx, h, r.t.Site(h), id, r.health, r.hostHeader)
}

func (r gunicornRunner) Stop(ctx context.Context, h *remote.Host, ids ...string) error {
	return serve.Stop(ctx, h, r.t.Site(h), ids...)
}

func (r gunicornRunner) Retire(ctx context.Context, h *remote.Host, live string, others []string) error {
	return serve.Retire(ctx, h, r.t.Site(h), live, others)
}
