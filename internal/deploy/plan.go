package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// Plan shows what Deploy would do with opts now, step by step and host by
// host, with the commands it would send each host, built by the same
// functions a deploy uses. It changes nothing anywhere: on the hosts it
// only reads (the preflight, the lock, the release records, whether the
// artifact is there). What depends on the built release (the settings,
// the migration plan) is said as a condition.
func (t *Target) Plan(ctx context.Context, opts Options) error {
	c, u := t.Config, t.UI
	if t.Layout.Container {
		return fmt.Errorf("deploy --dry-run shows the steps of strategy release; stage %s uses strategy container, which it cannot show yet", t.Stage.Name)
	}
	ref := opts.Ref
	if ref == "" {
		ref = t.Stage.Ref
	}
	art, err := BuildArtifact(ctx, c.Dir, ref, c.Requirements)
	if err != nil {
		return err
	}
	defer art.Remove()
	d := &deployRun{t: t, opts: opts, art: art, start: time.Now(), invs: map[*remote.Host]release.Inventory{},
		previous: map[*remote.Host]string{}, hasArtifact: map[*remote.Host]bool{}}
	d.id = release.NewID(d.start, art.Commit)
	u.Info("dry run: what hoist deploy %s would do now with %s (commit %.7s) as release %s; nothing is changed on any host", t.Stage.Name, ref, art.Commit, d.id)

	if err := t.preflight(ctx); err != nil {
		return err
	}
	var mu sync.Mutex
	locks := map[*remote.Host]string{}
	err = t.each(ctx, t.Hosts, "read", func(ctx context.Context, h *remote.Host) error {
		inv, out, err := release.ReadInventoryAnd(ctx, h, t.Layout, t.Site(h).Unit(), release.HasArtifactCmd(t.Layout, art.Sum))
		if err != nil {
			return err
		}
		st, holder, err := t.readLock(ctx, h)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		d.invs[h], d.previous[h], d.hasArtifact[h] = inv, inv.Live, release.HasArtifact(out)
		if st == "held" {
			locks[h] = holder.String()
		}
		return nil
	})
	if err != nil {
		return err
	}

	show := func(h *remote.Host, step, format string, args ...any) {
		name := ""
		if h != nil {
			name = h.Name
		}
		u.Step(name, step, format, args...)
	}
	cmd := func(h *remote.Host, step, command string) {
		if command != "" {
			show(h, step, "$ %s", command)
		}
	}
	if opts.SkipChecks {
		show(nil, "checks", "skipped (--skip-checks)")
	}
	for _, h := range t.Hosts {
		if holder, held := locks[h]; held {
			show(h, "lock", "held by %s: the deploy would stop here (exit 4) unless that run is dead", holder)
		} else {
			show(h, "lock", "take the stage's lock (renewed every %s)", LeaseRenew)
		}
	}
	for _, h := range t.Hosts {
		inv := d.invs[h]
		rep := release.Reconcile(inv, t.Config.Gunicorn.Standby)
		for _, n := range rep.Notes {
			show(h, "reconcile", "repair: %s", n)
		}
		if rep.Empty() {
			show(h, "reconcile", "records agree with the host: nothing to repair")
		}
	}
	spec := d.buildSpec()
	for _, h := range d.hosts() {
		if d.hasArtifact[h] {
			show(h, "ship", "the artifact is there already: nothing to send")
		} else {
			show(h, "ship", "send the artifact (%d KiB) on stdin", art.Size/1024)
			cmd(h, "ship", release.UploadCmd(t.Layout, art.Sum))
		}
		build, _, err := d.buildCmd(h, spec)
		if err != nil {
			return err
		}
		start := "one Django start: settings, collectstatic"
		if h == t.Primary {
			start += ", the migration plan"
			if !opts.SkipChecks {
				start += ", Django's checks before collectstatic"
			}
		}
		show(h, "build", "record %s as building; environment file (mode 0600, %d variables: %s) on stdin, unpack, shared links, virtualenv; the live release kept in the static fallback; %s", d.id,
			len(spec.Env), strings.Join(slices.Sorted(maps.Keys(spec.Env)), ", "), start)
		cmd(h, "build", build)
		for _, b := range c.Build {
			cmd(h, "build", d.commandCmd(b))
		}
	}
	p := t.Primary
	switch opts.Migrate {
	case MigrateSkip:
		show(p, "migrate", "skipped (--migrate=skip)")
	default:
		refuse := "refuse unsafe operations"
		if opts.AllowUnsafe {
			refuse = "apply unsafe operations too (--allow-unsafe-migrations)"
		}
		show(p, "migrate", "if the new release has migrations the database lacks (known once it is built; hoist diff lists them): show the plan, %s, then", refuse)
		cmd(p, "migrate", django.MigrateCmd(t.Layout, d.id, c.ProjectDir))
	}
	if opts.Migrate == MigrateOnly {
		show(p, "finish", "remove the release used to migrate; switch nothing")
		return nil
	}
	for _, r := range c.Release {
		cmd(p, "release", d.commandCmd(r))
	}
	hc := c.Health
	for _, h := range t.Runs() {
		site := t.Site(h)
		if len(site.Processes) > 0 {
			show(h, "health", "start processes %s of %s and check they stay up for %s", processNames(site), d.id, serve.ProcessSettle)
		}
		if t.isWeb(h) {
			show(h, "health", "start gunicorn of %s beside the live release, then GET %s on its own socket until it answers %d (up to %d tries)", d.id, strings.Join(hc.Paths, ", "), hc.Status, hc.Retries)
			cmd(h, "health", serve.StartCmd(h, site, d.id))
		}
	}
	cut := t.NewCutover(t.gunicorn(""), d.id, d.previous, opts.Batch)
	cut.BeforeSwitch = map[*remote.Host]string{}
	for _, h := range t.Hosts {
		if cut.BeforeSwitch[h], err = release.RecordCmd(t.Layout, d.record(h, release.Ready, "")); err != nil {
			return err
		}
		sw, err := cut.switchCmd(h)
		if err != nil {
			return err
		}
		show(h, "switch", "record %s ready, point current (and live.sock) at it, all hosts together%s, then check through the web server", d.id, batchNote(opts.Batch))
		cmd(h, "switch", sw)
	}
	for _, h := range t.Hosts {
		inv := d.invs[h]
		inv.Records = append(inv.Records, d.record(h, release.Ready, ""))
		fin, drop, err := cut.finishCmd(h, inv, false, d.entry("deploy", "ok"))
		if err != nil {
			return err
		}
		pruned := "nothing to prune"
		if len(drop) > 0 {
			pruned = "prune " + strings.Join(drop, ", ")
		}
		show(h, "finish", "record %s live, append history, stop the old instance after %s, %s", d.id, serve.DrainTime, pruned)
		cmd(h, "finish", fin)
	}
	u.Result("dry run of %s done: nothing was changed", t.Stage.Name)
	return nil
}

// processNames lists the app's processes a host runs.
func processNames(s serve.Site) string {
	var names []string
	for _, p := range s.Processes {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func batchNote(batch int) string {
	if batch > 0 {
		return fmt.Sprintf(" (%d at a time)", batch)
	}
	return ""
}
