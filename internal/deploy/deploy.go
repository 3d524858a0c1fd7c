package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/container"
	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// Options are the choices of one deploy.
type Options struct {
	Ref     string // what to deploy; default the stage's ref, else HEAD
	Batch   int    // switch this many hosts at a time, checking each batch; 0 for all at once
	Command string // the command line, for the lock
	Secrets map[string]string

	SkipChecks  bool
	Migrate     MigrateMode
	AllowUnsafe bool // apply migrations the live release cannot survive
}

// MigrateMode is what a deploy does with migrations (--migrate).
type MigrateMode string

const (
	MigrateAuto MigrateMode = "auto" // migrate on the primary before the switch
	MigrateSkip MigrateMode = "skip" // leave them unapplied
	MigrateOnly MigrateMode = "only" // migrate and switch nothing: the "expand" step alone
)

// FailedError is a deploy that stopped. Live says what serves now.
type FailedError struct {
	Err     error
	Summary string // where it failed, with the cause
	Live    string // what every host serves after the failure
}

func (e *FailedError) Error() string { return e.Summary + "\n" + e.Live }
func (e *FailedError) Unwrap() error { return e.Err }

// deployRun is the state of one deploy across the stage.
type deployRun struct {
	t        *Target
	opts     Options
	art      *Artifact
	id       string
	start    time.Time
	mu       sync.Mutex
	invs     map[*remote.Host]release.Inventory // what each host held, after reconcile
	previous map[*remote.Host]string            // what was live on each host before
	// hasArtifact: the host holds the artifact already, from an earlier run.
	hasArtifact map[*remote.Host]bool
	// With strategy container: the image, and what each host's engine holds.
	image      *containerImage
	engines    map[*remote.Host]container.Engine
	settings   django.Settings // read on the primary
	newHistory django.History  // the migration history as the new release sees it
	// liveMigrations brings the live release's migration files (nil when
	// unknown), read while the new one builds; nil on a first deploy.
	liveMigrations chan []string
	// ready is each host's record of the release, built, written in its
	// switch's round trip.
	ready map[*remote.Host]release.Record
	lock  *Lock
	cut   *Cutover // set once instances start
}

// Deploy builds the commit into a new release on every host, migrates once,
// health-checks the new instances and cuts every host over together. Until
// the cut-over, any failure leaves the live release serving everywhere.
func (t *Target) Deploy(ctx context.Context, opts Options) (err error) {
	c, u := t.Config, t.UI
	ref := opts.Ref
	if ref == "" {
		ref = t.Stage.Ref // HEAD unless hoist.yml says otherwise
	}
	d := &deployRun{t: t, opts: opts, start: time.Now(), previous: map[*remote.Host]string{}, hasArtifact: map[*remote.Host]bool{}, ready: map[*remote.Host]release.Record{},
		engines: map[*remote.Host]container.Engine{}}

	art, err := BuildArtifact(ctx, c.Dir, ref, c.Requirements)
	if err != nil {
		return err
	}
	defer art.Remove()
	d.art = art
	d.id = release.NewID(d.start, art.Commit)
	if art.Dirty {
		u.Warn("the work tree has uncommitted changes: they are NOT deployed; deploying commit %.7s as committed", art.Commit)
	}
	u.Info("deploying %s (commit %.7s, %d KiB) to %s as release %s", ref, art.Commit, art.Size/1024, t.Stage.Name, d.id)
	if t.Stage.Strategy == config.ContainerStrategy {
		err := d.buildImage(ctx)
		if d.image != nil {
			defer d.image.remove()
		}
		if err != nil {
			return fmt.Errorf("%w\nnothing was changed on any host", err)
		}
	}
	u.Timed("", "pack", time.Since(d.start))

	if opts.SkipChecks {
		u.Warn("--skip-checks: not running %s", SkippedChecks)
	}
	if err := t.preflight(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := d.runHooks(ctx, "before_deploy", c.Hooks.BeforeDeploy); err != nil {
		return fmt.Errorf("%w\nnothing was changed on any host", err)
	}
	holdBefore(ctx, "lock")
	lockStart := time.Now()
	lock, err := t.TakeLock(ctx, opts.Command, cancel)
	d.lock = lock
	u.Timed("", "lock", time.Since(lockStart))
	if err != nil {
		return err
	}
	// From here on every way out records history and lets go of the lock,
	// even when ctx was cancelled by Ctrl-C.
	defer func() {
		clean := context.WithoutCancel(ctx)
		var after *AfterDeployError
		if err != nil && !errors.As(err, &after) {
			err = d.fail(clean, ctx, err)
			if herr := d.runHooks(clean, "on_failure", c.Hooks.OnFailure, "HOIST_ERROR="+u.Redact(err.Error())); herr != nil {
				u.Warn("%v", herr)
			}
		}
		if lerr := lock.Release(clean); lerr != nil {
			u.Warn("could not release the lock (it expires in %s): %v", LeaseTTL, lerr)
		}
	}()

	type step struct {
		name string
		run  func(context.Context) error
	}
	steps := []step{{"inspect", d.inspect}, {"ship", d.ship}, {"build", d.build}, {"migrate", d.migrate}}
	if opts.Migrate != MigrateOnly {
		steps = append(steps, step{"release", d.releaseCommands}, step{"health", d.startInstances}, step{"switch", d.switchHosts})
	}
	for _, s := range steps {
		holdBefore(ctx, s.name)
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		err := s.run(ctx)
		u.Timed("", s.name, time.Since(start))
		if err != nil {
			return err
		}
	}
	if opts.Migrate == MigrateOnly {
		d.migrateOnlyDone(context.WithoutCancel(ctx))
		return nil
	}
	holdBefore(ctx, "finish")
	start := time.Now()
	d.finish(context.WithoutCancel(ctx))
	u.Timed("", "finish", time.Since(start))
	if err := d.runHooks(context.WithoutCancel(ctx), "after_deploy", c.Hooks.AfterDeploy); err != nil {
		return &AfterDeployError{Err: err, Release: d.id}
	}
	return nil
}

// preflight refuses a host hoist setup has not prepared for this hoist.yml.
func (t *Target) preflight(ctx context.Context) error {
	return t.each(ctx, t.Hosts, "preflight", func(ctx context.Context, h *remote.Host) error {
		script := `cat "$1" 2>/dev/null || echo missing; df -Pk "$2" 2>/dev/null | awk 'NR==2 {print "free " $4}'`
		out, err := remote.Output(ctx, h, remote.Script(script, t.Layout.SetupMarker(), t.Layout.Root))
		if err != nil {
			return err
		}
		if strings.HasPrefix(out, "missing") {
			return fmt.Errorf("%s is not set up for %s: run hoist setup %s first", t.Layout.Root, t.Config.App, t.Stage.Name)
		}
		if want := t.Site(h).Fingerprint(); !strings.Contains(out, want) {
			return fmt.Errorf("hoist.yml changed how the app is served since hoist setup ran: run hoist setup %s again", t.Stage.Name)
		}
		var freeKiB int64
		if i := strings.Index(out, "free "); i >= 0 {
			fmt.Sscan(out[i+5:], &freeKiB)
			if freeKiB < minFreeKiB {
				return fmt.Errorf("only %d MiB free under %s; a release needs at least %d MiB: free some space (hoist prunes old releases after each deploy; lower keep_releases) and deploy again", freeKiB/1024, t.Layout.Root, minFreeKiB/1024)
			}
		}
		return nil
	})
}

const minFreeKiB = 200 * 1024

// hosts are the hosts the release is built on: with --migrate=only, the
// primary alone, which is all migrating needs.
func (d *deployRun) hosts() []*remote.Host {
	if d.opts.Migrate == MigrateOnly {
		return []*remote.Host{d.t.Primary}
	}
	return d.t.Hosts
}

// inspect repairs what an earlier run left (reconcile) and learns, in the
// same round trip per host, what is live there and whether the host holds
// the artifact already (with strategy container, what its engine holds).
// The command that makes the release records it as building first.
func (d *deployRun) inspect(ctx context.Context) error {
	have := func(*remote.Host) string { return release.HasArtifactCmd(d.t.Layout, d.art.Sum) }
	if d.image != nil {
		have = container.EngineCmd
	}
	invs, outs, err := d.t.reconcileAnd(ctx, d.t.gunicorn(""), have)
	if err != nil {
		return err
	}
	d.invs = invs
	for _, h := range d.hosts() {
		if d.image != nil {
			engine, err := container.ParseEngine(outs[h])
			if err != nil {
				if errors.Is(err, container.ErrNoDocker) || errors.Is(err, container.ErrEngineDown) {
					err = fmt.Errorf("%w: run hoist setup %s, which installs and starts Docker", err, d.t.Stage.Name)
				}
				return &StepError{Host: h.Name, Step: "inspect", Err: err}
			}
			d.engines[h] = engine
		}
		d.previous[h] = invs[h].Live
		d.hasArtifact[h] = release.HasArtifact(outs[h])
	}
	return nil
}

// buildingCmd records the release as building on h: the first thing the
// command that makes it does, so a run that dies leaves no release
// without a record.
func (d *deployRun) buildingCmd(h *remote.Host) (string, error) {
	return release.RecordCmd(d.t.Layout, d.record(h, release.Building, ""))
}

func (d *deployRun) record(h *remote.Host, state release.State, venv string) release.Record {
	artifact := d.art.Sum
	if d.image != nil {
		artifact = d.image.img.ID
	}
	return release.Record{ID: d.id, Commit: d.art.Commit, Artifact: artifact, Venv: venv, State: state, Created: d.start.UTC(),
		DeployedBy: whoAmI(), Seq: d.invs[h].NextSeq()}
}

// ship sends the artifact to each host that lacks it.
func (d *deployRun) ship(ctx context.Context) error {
	if d.image != nil {
		return d.shipImage(ctx)
	}
	return d.t.each(ctx, d.hosts(), "ship", func(ctx context.Context, h *remote.Host) error {
		d.mu.Lock()
		have := d.hasArtifact[h]
		d.mu.Unlock()
		if have {
			d.t.UI.Step(h.Name, "ship", "artifact already there")
			return nil
		}
		f, err := os.Open(d.art.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := release.UploadArtifact(ctx, h, d.t.Layout, d.art.Sum, f); err != nil {
			return err
		}
		d.t.UI.Step(h.Name, "ship", "sent %d KiB", d.art.Size/1024)
		return nil
	})
}

// build turns the artifact into a runnable release on every host: one
// round trip makes the release and its venv, one Django start collects its
// static files and, on the primary, reads the migration plan. The live
// release's migration files are read meanwhile, for the migrate step.
func (d *deployRun) build(ctx context.Context) error {
	c, l := d.t.Config, d.t.Layout
	if live := d.previous[d.t.Primary]; live != "" {
		d.liveMigrations = make(chan []string, 1)
		go func() {
			// Saved when live was built; nil (read the history) when not,
			// or when the settings cannot be read.
			s, _ := django.ReadSettings(ctx, d.t.Primary, l, live, c.ProjectDir)
			d.liveMigrations <- s.Migrations
		}()
	}
	spec := d.buildSpec()
	return d.t.each(ctx, d.hosts(), "build", func(ctx context.Context, h *remote.Host) error {
		u := d.t.UI
		// One round trip makes the release (strategy release), makes sure
		// the release live now is in the static fallback before anything
		// switches (the deploy that made it live put it there, unless that
		// run was cut short), and starts Django once in the new release.
		// Django's checks run on the primary, in that Django start: with
		// the hosts' Python and the release's own requirements, before any
		// migration or switch.
		if d.image != nil {
			if err := d.makeContainerRelease(ctx, h, spec); err != nil {
				return err
			}
		}
		cmd, env, err := d.buildCmd(h, spec)
		if err != nil {
			return err
		}
		primary := h == d.t.Primary
		checks := primary && !d.opts.SkipChecks
		out, err := remote.OutputWithInput(ctx, h, cmd, bytes.NewReader(env))
		var venv string
		if d.image == nil {
			v, reused, built := release.Built(out)
			if !built {
				if err == nil {
					err = fmt.Errorf("the build said nothing of its virtualenv: %q", out)
				}
				return err
			}
			if venv = v; reused {
				u.Step(h.Name, "build", "requirements unchanged: reusing virtualenv %s", venv)
			} else {
				u.Step(h.Name, "build", "built virtualenv %s (pip install -r %s)", venv, c.Requirements)
			}
		}
		d.t.warnFallback(h, out, nil)
		p, err := django.ParsePrepared(d.id, out, err)
		if checks {
			report := p.Report(d.t.Stage.Checks)
			if r, ok := django.LoadFailure(err); ok && p.CollectStaticFailed == "" {
				// Django did not start: the checks could not run, and
				// the release would not start either.
				report = r
			}
			if err := judge(u, report, d.t.Stage.Checks, "in the new release on "+h.Name); err != nil {
				return err
			}
			if err == nil {
				u.Step(h.Name, "build", "Django checks passed: check --deploy, makemigrations --check, collectstatic")
			}
		}
		if err != nil {
			return err
		}
		if err := checkServedURLs(c, p.Settings); err != nil {
			return err
		}
		if d.image != nil {
			if err := d.mountStatic(ctx, h, p.Settings); err != nil {
				return err
			}
		}
		if primary && d.t.Site(h).HTTPS() && !p.Settings.TrustsForwardedProto() {
			u.Warn("Caddy terminates HTTPS and tells Django with X-Forwarded-Proto, but your settings do not trust it: add\n  SECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\")\nor Django will treat every request as plain HTTP")
		}
		if p.CollectStatic != "" {
			u.Step(h.Name, "build", "collectstatic: %s", p.CollectStatic)
		}
		if err := d.runCommands(ctx, h, "build", c.Build); err != nil {
			return err
		}
		if primary {
			d.mu.Lock()
			d.settings, d.newHistory = p.Settings, *p.History
			d.mu.Unlock()
		}
		// Recorded as ready in the round trip of its switch.
		d.mu.Lock()
		d.ready[h] = d.record(h, release.Ready, venv)
		d.mu.Unlock()
		return nil
	})
}

// buildCmd is build's one command on h, and what it reads on stdin.
func (d *deployRun) buildCmd(h *remote.Host, spec release.BuildSpec) (cmd string, stdin []byte, err error) {
	var building, unpack string
	if d.image == nil { // a container release is made, and recorded, beforehand
		if building, err = d.buildingCmd(h); err != nil {
			return "", nil, err
		}
		if unpack, stdin, err = release.BuildCmd(d.t.Layout, d.id, spec); err != nil {
			return "", nil, err
		}
	}
	primary := h == d.t.Primary
	prepare := django.PrepareCmd(d.t.Layout, d.id, d.t.Config.ProjectDir, primary, primary && !d.opts.SkipChecks)
	return remote.Chain(building, unpack, remote.Labeled("static fallback", d.t.keepStaticCmd(h, d.id)), prepare), stdin, nil
}

// buildSpec is what the new release is built from on every host. Its
// environment is the stage's, with the command of each of the app's
// processes.
func (d *deployRun) buildSpec() release.BuildSpec {
	c := d.t.Config
	env := StageEnv(c, d.t.Stage, d.opts.Secrets)
	for _, p := range c.Processes {
		env[serve.ProcessEnv(p.Name)] = p.Command
	}
	return release.BuildSpec{Artifact: d.art.Sum, SharedFiles: c.SharedFiles, SharedDirs: c.SharedDirs, Env: env,
		Venv: release.VenvSpec{Python: c.Python, SystemSitePackages: c.SystemSitePackages, Requirements: c.Requirements, RequirementsData: d.art.Requirements}}
}

// checkServedURLs catches a web server that would look for static files
// where Django does not put them.
func checkServedURLs(c *config.Config, s django.Settings) error {
	if c.Web.Server == config.NoWebServer {
		return nil
	}
	norm := func(u string) string {
		if u == "" || strings.Contains(u, "://") {
			return u
		}
		return "/" + strings.Trim(u, "/") + "/"
	}
	if s.StaticFiles && s.StaticURL != "" && !strings.Contains(s.StaticURL, "://") && norm(s.StaticURL) != c.Web.StaticURL {
		return fmt.Errorf("Django's STATIC_URL is %q but hoist.yml web.static_url is %q: make them match, then run hoist setup", s.StaticURL, c.Web.StaticURL)
	}
	if s.MediaRoot != "" && s.MediaURL != "" && !strings.Contains(s.MediaURL, "://") && norm(s.MediaURL) != c.Web.MediaURL {
		return fmt.Errorf("Django's MEDIA_URL is %q but hoist.yml web.media_url is %q: make them match, then run hoist setup", s.MediaURL, c.Web.MediaURL)
	}
	return nil
}

// migrate runs migrations once, on the primary, before any host switches.
// It shows the plan first, and refuses operations the release still
// serving cannot survive unless they are explicitly allowed.
func (d *deployRun) migrate(ctx context.Context) error {
	h, u := d.t.Primary, d.t.UI
	fail := func(err error) error { return &StepError{Host: h.Name, Step: "migrate", Err: err} }
	// The database must hold no migration that neither the new release nor
	// the live one knows (a rollback that left one applied), and a history
	// Django itself finds consistent.
	// The new release's history was read as it was built. The live one's
	// adds nothing when the live code has the same migration files, as it
	// does in most deploys: only otherwise does it cost a Django start.
	to := d.newHistory
	var from []django.History
	if live := d.previous[h]; live != "" {
		if known := <-d.liveMigrations; known == nil || !slices.Equal(known, to.Known) {
			lh, err := django.ReadHistory(ctx, h, d.t.Layout, live, d.t.Config.ProjectDir)
			if err != nil {
				return fail(err)
			}
			from = append(from, lh)
		}
	}
	if err := django.CheckSwitch(to, from...); err != nil {
		return fail(err)
	}
	plan := to.Plan
	if len(plan) == 0 {
		u.Step(h.Name, "migrate", "no migrations to apply")
		return nil
	}
	var unsafe []string
	apps := map[string]bool{}
	for _, m := range plan {
		apps[m.App] = true
		u.Step(h.Name, "migrate", "plan: %s", m)
		for _, op := range m.Operations {
			mark := "   "
			if op.Unsafe != "" {
				mark = " ! "
				unsafe = append(unsafe, fmt.Sprintf("%s: %s %s", m, op.Describe, op.Unsafe))
			}
			u.Step(h.Name, "migrate", "%s%s", mark, op.Describe)
		}
	}
	if d.opts.Migrate == MigrateSkip {
		u.Warn("--migrate=skip: %d migration(s) left unapplied; the new code runs on the old schema", len(plan))
		return nil
	}
	// With nothing live yet, no old code can trip over the new schema.
	if len(unsafe) > 0 && d.previous[h] != "" {
		if !d.opts.AllowUnsafe {
			return fail(fmt.Errorf("refusing %d migration operation(s) that break the live release while the new one starts, or cannot be rolled back:\n%s\n"+
				"expand/contract: ship code that no longer needs the old schema first, and change the schema in a later deploy; "+
				"or pass --allow-unsafe-migrations to accept errors from the old code until the switch", len(unsafe), indent(strings.Join(unsafe, "\n"))))
		}
		u.Warn("applying %d unsafe operation(s) (--allow-unsafe-migrations): the live release may fail until the switch", len(unsafe))
	}
	u.Step(h.Name, "migrate", "python manage.py migrate (primary host only)")
	out, err := django.Migrate(ctx, h, d.t.Layout, d.id, d.t.Config.ProjectDir)
	if err != nil {
		names := make([]string, 0, len(apps))
		for a := range apps {
			names = append(names, a)
		}
		sort.Strings(names)
		state := django.ShowMigrations(context.WithoutCancel(ctx), h, d.t.Layout, d.id, d.t.Config.ProjectDir, names...)
		return fail(fmt.Errorf("%w\nschema state now (showmigrations):\n%s", err, indent(state)))
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Applying") {
			u.Step(h.Name, "migrate", "%s", strings.TrimSpace(line))
		}
	}
	return nil
}

// releaseCommands runs hoist.yml's release commands once, on the primary,
// after migrating and before any instance of the new release starts.
func (d *deployRun) releaseCommands(ctx context.Context) error {
	h := d.t.Primary
	if err := d.runCommands(ctx, h, "release", d.t.Config.Release); err != nil {
		return &StepError{Host: h.Name, Step: "release", Err: err}
	}
	return nil
}

// runCommands runs hoist.yml's build or release commands in the new
// release on h, one after another; the first that fails is named.
func (d *deployRun) runCommands(ctx context.Context, h *remote.Host, kind string, cmds []string) error {
	for _, cmd := range cmds {
		out, err := remote.Output(ctx, h, d.commandCmd(cmd))
		if err != nil {
			return fmt.Errorf("%s command %q failed: %w", kind, cmd, err)
		}
		d.t.UI.Step(h.Name, kind, "%s: %s", cmd, lastLine(out))
	}
	return nil
}

// commandCmd runs a build or release command of hoist.yml in the new
// release.
func (d *deployRun) commandCmd(cmd string) string {
	return release.Tracked(d.t.Layout, release.Command(d.t.Layout, d.id, d.t.Config.ProjectDir, "sh", "-c", cmd))
}

// lastLine is the last non-empty line of a command's output, or "done".
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "done"
}

// AfterDeployError is an after_deploy hook that failed after a deploy that
// succeeded: the release stays live.
type AfterDeployError struct {
	Err     error
	Release string
}

func (e *AfterDeployError) Error() string {
	return fmt.Sprintf("%v\nthe deploy itself succeeded: %s is live on every host", e.Err, e.Release)
}
func (e *AfterDeployError) Unwrap() error { return e.Err }

// migrateOnlyDone ends a --migrate=only deploy: the schema has moved, the
// release that moved it is not needed, and nothing was switched.
func (d *deployRun) migrateOnlyDone(ctx context.Context) {
	t := d.t
	if err := release.Remove(ctx, t.Primary, t.Layout, d.id); err != nil {
		t.UI.Warn("could not remove the release used to migrate: %v", err)
	}
	t.record(ctx, d.entry("migrate", "ok"))
}

// entry is this run's line of history, as it stands now.
func (d *deployRun) entry(action, result string) Entry {
	return Entry{Action: action, Stage: d.t.Stage.Name, Who: whoAmI(), Commit: d.art.Commit, Release: d.id,
		Previous: d.previous[d.t.Primary], Start: d.start.UTC(), Duration: time.Since(d.start).Seconds(), Result: result}
}

// healthHost is the Host header of health checks: health.host, else the
// first domain, else a name Django's ALLOWED_HOSTS accepts.
func (t *Target) healthHost(s django.Settings) string {
	if h := t.Config.Health.Host; h != "" {
		return h
	}
	if domains := t.Config.Domains(t.Stage); len(domains) > 0 {
		return domains[0]
	}
	return s.HealthHost()
}

// startInstances starts the new release beside the old on every web host
// and waits until each answers its health check on its own socket.
func (d *deployRun) startInstances(ctx context.Context) error {
	run := d.t.gunicorn(d.t.healthHost(d.settings))
	d.cut = d.t.NewCutover(run, d.id, d.previous, d.opts.Batch)
	d.cut.BeforeSwitch = map[*remote.Host]string{}
	d.cut.Held = map[*remote.Host]release.Inventory{}
	for _, h := range d.t.Hosts {
		cmd, err := release.RecordCmd(d.t.Layout, d.ready[h])
		if err != nil {
			return err
		}
		inv := d.invs[h]
		inv.Records = append(slices.Clone(inv.Records), d.ready[h])
		d.cut.BeforeSwitch[h], d.cut.Held[h] = cmd, inv
	}
	// after_deploy hooks run under the lock; without any, Finish lets go
	// of it in its round trip.
	if len(d.t.Config.Hooks.AfterDeploy) == 0 {
		d.cut.Lock = d.lock
	}
	return d.cut.Start(ctx)
}

// switchHosts cuts every host over to the new release; a failure on any
// host switches every host back (in fail).
func (d *deployRun) switchHosts(ctx context.Context) error { return d.cut.Switch(ctx) }

// finish records the new state, retires the old instances and prunes.
// Nothing here can undo the deploy: problems are reported as warnings.
func (d *deployRun) finish(ctx context.Context) {
	t := d.t
	if err := d.cut.Finish(ctx, false, d.entry("deploy", "ok")); err != nil {
		t.UI.Warn("the deploy succeeded, but tidying up did not:\n%v", err)
	}
}

func (t *Target) isWeb(h *remote.Host) bool {
	for _, w := range t.Web() {
		if w == h {
			return true
		}
	}
	return false
}

// fail undoes a deploy that did not complete: hosts already switched go
// back, new instances stop, the new release is deleted wherever it does
// not serve. It returns the error to show, saying what serves now.
func (d *deployRun) fail(ctx, runCtx context.Context, cause error) error {
	t := d.t
	result := "failed"
	var lost *LostLockError
	if c := context.Cause(runCtx); errors.As(c, &lost) {
		cause = c
	} else if runCtx.Err() != nil {
		result = "interrupted"
		t.UI.Warn("interrupted: undoing the deploy")
	}
	t.redial(ctx)
	var problems []string
	if d.cut != nil {
		if err := d.cut.Undo(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	// Remove refuses the release a host serves (a revert that failed).
	if err := t.each(ctx, d.hosts(), "clean-up", func(ctx context.Context, h *remote.Host) error {
		return release.Remove(ctx, h, t.Layout, d.id)
	}); err != nil {
		problems = append(problems, err.Error())
	}
	step, hosts := failedStep(cause)
	entry := d.entry("deploy", result)
	entry.FailedStep, entry.Error = step, cause.Error()
	t.record(ctx, entry)

	var live string
	if prev := d.previous[t.Primary]; prev != "" {
		live = fmt.Sprintf("release %s still serves on every host; release %s was removed; the lock is released", prev, d.id)
	} else {
		live = fmt.Sprintf("no release was live before; release %s was removed; the lock is released", d.id)
	}
	if len(problems) > 0 {
		live = "clean-up had problems; the next hoist deploy or rollback repairs what it can, and hoist status " + t.Stage.Name + " shows each host:\n" + indent(strings.Join(problems, "\n"))
	}
	summary := cause.Error()
	switch {
	case result == "interrupted":
		summary = fmt.Sprintf("deploy interrupted during step %q", step)
	case step != "":
		summary = fmt.Sprintf("deploy failed at step %q on %s:\n%s", step, strings.Join(hosts, ", "), indent(summary))
	}
	return &FailedError{Err: cause, Summary: summary, Live: live}
}
