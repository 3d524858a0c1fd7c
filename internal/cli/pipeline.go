package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/pipeline"
)

// deployStage is one stage of hoist deploy and hoist ship: deploy the
// commit, tag it, run the stage's functional tests and record their
// result in the stage's history. The tests run after the tags: the tags
// say what serves, and a failing test leaves the new release serving.
// done reports the deploy itself: the run's result for hoist deploy, a
// step on the way for hoist ship.
func (g *globalOptions) deployStage(ctx context.Context, c *config.Config, s *config.Stage, opts deploy.Options, done func(format string, args ...any)) error {
	start := time.Now()
	t, err := g.connect(ctx, c, s)
	if err != nil {
		return err
	}
	defer t.Close()
	defer g.writeTimings(t)
	t.UI.Hosts(hostNames(t)...)
	// A failing after_deploy hook leaves the release live: it still gets
	// its tags, but its tests do not run.
	deployErr := t.Deploy(ctx, opts)
	var after *deploy.AfterDeployError
	if deployErr != nil && !errors.As(deployErr, &after) {
		return redacted(t.UI.Redact, deployErr)
	}
	if opts.Migrate == deploy.MigrateOnly {
		if deployErr != nil {
			return redacted(t.UI.Redact, deployErr)
		}
		done("migrated %s in %.1fs; nothing was switched", s.Name, time.Since(start).Seconds())
		return nil
	}
	done("deployed %s to %s in %.1fs", s.Name, hostsList(t), time.Since(start).Seconds())
	commit := opts.Ref
	if names, err := pipeline.Tags(ctx, c.Dir, s, commit, start); err != nil {
		t.UI.Warn("tagging %.7s failed; the deploy stands: %v", commit, err)
	} else if len(names) > 0 {
		t.UI.Info("tagged %.7s: %s", commit, strings.Join(names, ", "))
	}
	if deployErr != nil || s.Test == "" {
		return redacted(t.UI.Redact, deployErr)
	}
	url, err := c.StageURL(s)
	if err != nil {
		return err // config validation makes this unreachable
	}
	testStart := time.Now()
	testErr := pipeline.RunTest(ctx, t.UI, c.Dir, s, url, commit)
	releaseID := ""
	if live, err := t.LiveReleases(context.WithoutCancel(ctx)); err == nil && live[t.Primary.Name] != nil {
		releaseID = live[t.Primary.Name].ID
	}
	t.RecordTest(context.WithoutCancel(ctx), commit, releaseID, testStart, testErr)
	if testErr != nil && ctx.Err() != nil {
		return fmt.Errorf("the functional tests of %s were interrupted; %s serves commit %.7s (release %s): %w", s.Name, s.Name, commit, releaseID, ctx.Err())
	}
	if testErr != nil {
		return fmt.Errorf("%w\n%s serves commit %.7s (release %s), which failed its tests: fix it and ship again, or hoist rollback %s",
			testErr, s.Name, commit, releaseID, s.Name)
	}
	t.UI.Info("the functional tests of %s passed in %.1fs", s.Name, time.Since(testStart).Seconds())
	return nil
}

// notPromotedError is a deploy to a stage of the pipeline of a commit an
// earlier stage has not passed.
type notPromotedError struct {
	Stage, Missing, Commit, Earlier string
}

func (e *notPromotedError) Error() string {
	return fmt.Sprintf("refusing to deploy commit %.7s to %s: %s has %s of it recorded\n"+
		"hoist ship deploys and tests it stage by stage; or hoist deploy %s --ref %.7s first; --force deploys it anyway; nothing was changed",
		e.Commit, e.Stage, e.Earlier, e.Missing, e.Earlier, e.Commit)
}

// checkPromotion refuses commit for stage unless every earlier stage of
// the pipeline recorded a successful deploy of it (and passing tests, when
// that stage has tests).
func (g *globalOptions) checkPromotion(ctx context.Context, c *config.Config, stage, commit string) error {
	for _, name := range pipeline.Earlier(c, stage) {
		s, err := c.Stage(name)
		if err != nil {
			return err
		}
		t, err := g.connect(ctx, c, s)
		if err != nil {
			return fmt.Errorf("read the history of %s, which %s must pass first: %w", name, stage, err)
		}
		events, err := t.History(ctx)
		t.Close()
		if err != nil {
			return fmt.Errorf("read the history of %s, which %s must pass first: %w", name, stage, err)
		}
		if ok, missing := pipeline.Passed(events, commit, s.Test != ""); !ok {
			return &notPromotedError{Stage: stage, Missing: missing, Commit: commit, Earlier: name}
		}
	}
	return nil
}
