package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// Rollback switches every host back to an earlier release that is still on
// disk: the previous good one, or the one named. Nothing is rebuilt.
// RollbackOptions are the choices of one rollback.
type RollbackOptions struct {
	Target  string // release id; "" for the previous good one
	Batch   int    // hosts switched at a time; 0 for all
	Migrate bool   // unapply the migrations the target does not have
	Command string
}

func (t *Target) Rollback(ctx context.Context, opts RollbackOptions) (err error) {
	start := time.Now()
	target := opts.Target
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	holdBefore(ctx, "lock")
	lock, err := t.TakeLock(ctx, opts.Command, cancel)
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	// Before the switch, an interruption changes nothing: say so plainly.
	switched := false
	defer func() {
		if err != nil && ctx.Err() != nil && !switched {
			err = fmt.Errorf("rollback interrupted before any host switched: nothing was changed (%w)", context.Cause(ctx))
		}
	}()

	// Every host must hold the same live release and the target, or a
	// rollback would leave mixed versions.
	invs, err := t.reconcile(ctx, t.gunicorn(""))
	if err != nil {
		return err
	}
	live := invs[t.Primary].Live
	if live == "" {
		return errors.New("nothing is deployed yet, so there is nothing to roll back")
	}
	if target == "" {
		prev := invs[t.Primary].PreviousGood()
		if prev == nil {
			return fmt.Errorf("no earlier release of %s is left to roll back to (hoist releases %s lists them)", t.Stage.Name, t.Stage.Name)
		}
		target = prev.ID
	}
	if target == live {
		return fmt.Errorf("%s is already live", target)
	}
	for h, inv := range invs {
		if inv.Live != live {
			return fmt.Errorf("%s serves %s but %s serves %s: hosts disagree; deploy again to bring them together", h.Name, inv.Live, t.Primary.Name, live)
		}
		if r := inv.Find(target); r == nil || r.State == release.Failed {
			return fmt.Errorf("release %s is not on %s (hoist releases %s lists what is)", target, h.Name, t.Stage.Name)
		}
	}
	t.UI.Info("rolling %s back from %s to %s", t.Stage.Name, live, target)

	entry := Entry{Action: "rollback", Stage: t.Stage.Name, Who: whoAmI(), Commit: invs[t.Primary].Find(target).Commit,
		Release: target, Previous: live, Start: start.UTC(), Result: "ok"}
	recorded := false // Finish records a rollback that went through
	defer func() {
		if recorded {
			return
		}
		entry.Duration = time.Since(start).Seconds()
		if err != nil {
			entry.Result, entry.Error = "failed", err.Error()
			entry.FailedStep, _ = failedStep(err)
		}
		t.record(context.WithoutCancel(ctx), entry)
	}()

	// The target's settings were saved when it was built.
	pd := t.Config.ProjectDir
	s, err := django.ReadSettings(ctx, t.Primary, t.Layout, target, pd)
	if err != nil {
		return &StepError{Host: t.Primary.Name, Step: "inspect", Err: err}
	}
	from := map[*remote.Host]string{}
	for _, h := range t.Hosts {
		from[h] = live
	}
	// Start the old release beside the live one and check it, exactly as a
	// deploy checks a new release. Reading the migration history with both
	// releases' code takes Django starts on the primary as long: it runs
	// meanwhile, and if it refuses the rollback, the started instances stop.
	cut := t.NewCutover(t.gunicorn(t.healthHost(s)), target, from, opts.Batch)
	cut.Held, cut.Lock = invs, lock
	clean := context.WithoutCancel(ctx)
	holdBefore(ctx, "health")
	var plan django.RollbackPlan
	var inspectErr error
	inspected := make(chan struct{})
	startCtx, stopStart := context.WithCancel(ctx)
	defer stopStart()
	// Two releases with the same migration files expect the same schema:
	// the database the live one runs on suits the target as it is, and
	// there is nothing to unapply. The check costs two Django starts, the
	// longest part of a rollback to a warm instance.
	sameMigrations := false
	if ls, err := django.ReadSettings(ctx, t.Primary, t.Layout, live, pd); err == nil && ls.Migrations != nil && s.Migrations != nil {
		sameMigrations = slices.Equal(ls.Migrations, s.Migrations)
	}
	go func() {
		defer close(inspected)
		if sameMigrations {
			t.UI.Step(t.Primary.Name, "inspect", "%s has the same migrations as %s: the schema needs no change", target, live)
			return
		}
		if plan, inspectErr = t.inspectRollback(ctx, live, target, opts.Migrate); inspectErr != nil {
			stopStart()
		}
	}()
	// The release live now must be in the static fallback before the
	// switch; the deploy that made it live put it there, unless that run
	// was cut short.
	kept := t.keepStatic(startCtx)
	startErr := cut.Start(startCtx)
	kept()
	<-inspected
	// A refusal stops the start: its cancellation is no news.
	if err := cmp.Or(inspectErr, startErr); err != nil {
		t.redial(clean)
		cut.Undo(clean)
		return fmt.Errorf("%w\n%s still serves on every host", err, live)
	}
	holdBefore(ctx, "switch")
	switched = true
	if err := cut.Switch(ctx); err != nil {
		t.redial(clean)
		if rerr := cut.Undo(clean); rerr != nil {
			return fmt.Errorf("%w\nand switching back failed too; hoist status %s shows each host:\n%v", err, t.Stage.Name, rerr)
		}
		return fmt.Errorf("%w\nevery host was switched back: %s still serves", err, live)
	}

	var unapplyErr error
	if opts.Migrate && len(plan.Unapply) > 0 {
		// The old code is live now and runs on the newer schema, which it
		// survives as a deploy's old release did; then the newer code,
		// which knows how, undoes its migrations, and the result is checked
		// against what the target knows.
		t.UI.Step(t.Primary.Name, "migrate", "unapplying %s with %s's code", strings.Join(plan.Unapply, ", "), live)
		if out, err := django.UnapplyRollback(clean, t.Primary, t.Layout, pd, plan); err != nil {
			unapplyErr = fmt.Errorf("%s serves on every host, but unapplying the migrations failed, so the schema is left as Django's output shows; %s's code runs on it:\n%w\n%s", target, target, err, indent(out))
		}
	}
	holdBefore(ctx, "finish")
	entry.Duration = time.Since(start).Seconds()
	if unapplyErr != nil {
		entry.Result, entry.Error, entry.FailedStep = "failed", unapplyErr.Error(), "migrate"
	}
	recorded = true
	if err := cut.Finish(clean, true, entry); err != nil {
		t.UI.Warn("rolled back, but tidying up did not finish:\n%v", err)
	}
	if unapplyErr != nil {
		return unapplyErr
	}
	t.UI.Result("%s rolled back to %s in %.1fs", t.Stage.Name, target, time.Since(start).Seconds())
	return nil
}

// inspectRollback reads the migration history with the live release's code
// and the target's, refuses a rollback the schema does not allow, and with
// migrate plans what to unapply.
func (t *Target) inspectRollback(ctx context.Context, live, target string, migrate bool) (django.RollbackPlan, error) {
	pd := t.Config.ProjectDir
	fail := func(err error) error { return &StepError{Host: t.Primary.Name, Step: "inspect", Err: err} }
	var fromHist, toHist django.History
	var fromErr, toErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fromHist, fromErr = django.ReadHistory(ctx, t.Primary, t.Layout, live, pd) }()
	go func() { defer wg.Done(); toHist, toErr = django.ReadHistory(ctx, t.Primary, t.Layout, target, pd) }()
	wg.Wait()
	if err := errors.Join(fromErr, toErr); err != nil {
		return django.RollbackPlan{}, fail(err)
	}
	if err := django.CheckSwitch(toHist, fromHist); err != nil {
		return django.RollbackPlan{}, fail(err)
	}
	if !migrate {
		if lack := django.Lacking(fromHist, toHist); len(lack) > 0 {
			t.UI.Warn("the database has migrations %s lacks: %s\n%s's code will run on the newer schema (fine if they only added things); to undo them, roll back with --migrate", target, strings.Join(lack, ", "), target)
		}
		return django.RollbackPlan{}, nil
	}
	plan, err := django.PlanRollback(fromHist, toHist)
	if err != nil {
		return plan, fail(err)
	}
	if len(plan.Unapply) > 0 {
		bad, err := django.Irreversible(ctx, t.Primary, t.Layout, live, pd, plan.Targets)
		if err != nil {
			return plan, fail(err)
		}
		if len(bad) > 0 {
			return plan, fmt.Errorf("cannot roll back with --migrate: these migrations cannot be undone:\n%s\nnothing was changed; roll back without --migrate to keep the newer schema", indent(strings.Join(bad, "\n")))
		}
	}
	return plan, nil
}
