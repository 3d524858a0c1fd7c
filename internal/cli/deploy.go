package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/pipeline"
)

type deployOptions struct {
	Ref         string
	Batch       int
	SkipChecks  bool
	Migrate     string
	AllowUnsafe bool
	Force       bool
	DryRun      bool
}

func newDeployCmd(g *globalOptions) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy STAGE",
		Short: "Build a commit into a new release and switch every host to it",
		Long: `deploy packs the commit (git archive: only committed files; uncommitted
changes are reported and left out), ships it once to each host, and builds a
release there: shared files linked, a virtualenv reused when requirements
did not change, collectstatic. Migrations run once, on the primary host.
The new release starts beside the old one and must pass its health check on
every web host before any host switches; then every host switches together
(or --batch N at a time) and is checked again through its web server. If
any host fails, every host switched goes back.

First, Django's own checks run with the stage's settings (check --deploy,
makemigrations --check, collectstatic): on this machine when a Python with
Django is found (HOIST_PYTHON, the project's virtualenv, python3), else in the
built release on the primary. Migrations are shown (migrate --plan) and
operations the live release cannot survive are refused unless allowed.

If anything fails before the switch, the live release keeps serving on every
host, the new release is removed and the lock is released.

With a pipeline in hoist.yml, a stage takes only a commit every earlier
stage deployed (and tested, when it has tests), unless --force. After the
deploy the stage's tags are set and its test command runs.`,
		Example: `  hoist deploy production
  hoist deploy staging --ref v1.4.0`,
		Args: stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeploy(cmd.Context(), g, args[0], opts)
		},
	}
	cmd.Flags().StringVar(&opts.Ref, "ref", "", "the git branch, tag or commit to deploy (default: the stage's ref, else HEAD)")
	cmd.Flags().BoolVar(&opts.SkipChecks, "skip-checks", false, "do not run Django's system checks, the missing-migration check nor the trial collectstatic first (not recommended)")
	cmd.Flags().StringVar(&opts.Migrate, "migrate", "auto", "auto: migrate on the primary before the switch; skip: do not migrate; only: migrate and switch nothing")
	cmd.Flags().BoolVar(&opts.AllowUnsafe, "allow-unsafe-migrations", false, "apply migrations the live release cannot survive (dropping or renaming columns, NOT NULL without default, irreversible)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "deploy a commit the earlier stages of the pipeline have not passed (deployed, and tested when they have tests)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what the deploy would do on each host, with the commands it would send, and change nothing")
	cmd.Flags().IntVar(&opts.Batch, "batch", 0, "switch N hosts at a time, checking each batch through its web server (default: all at once)")
	return cmd
}

func runDeploy(ctx context.Context, g *globalOptions, stage string, opts *deployOptions) error {
	mode := deploy.MigrateMode(opts.Migrate)
	if mode != deploy.MigrateAuto && mode != deploy.MigrateSkip && mode != deploy.MigrateOnly {
		return &UsageError{fmt.Errorf("--migrate is auto, skip or only, not %q", opts.Migrate)}
	}
	c, s, secrets, err := g.loadStageSecrets(stage)
	if err != nil {
		return err
	}
	ref := opts.Ref
	if ref == "" {
		ref = s.Ref // HEAD unless hoist.yml says otherwise
	}
	// Resolved once: the commit checked against the earlier stages is the
	// commit deployed, whatever the branch does meanwhile.
	commit, err := deploy.ResolveCommit(ctx, c.Dir, ref)
	if err != nil {
		return err
	}
	if earlier := pipeline.Earlier(c, s.Name); opts.Force && len(earlier) > 0 {
		g.ui().Warn("--force: deploying %.7s to %s without checking that %s passed it", commit, s.Name, strings.Join(earlier, ", "))
	} else if err := g.checkPromotion(ctx, c, s.Name, commit); err != nil {
		return err
	}
	dopts := deploy.Options{
		Ref: commit, Batch: opts.Batch, Command: commandLine(), Secrets: secrets,
		SkipChecks: opts.SkipChecks, Migrate: mode, AllowUnsafe: opts.AllowUnsafe,
	}
	if opts.DryRun {
		t, err := g.connect(ctx, c, s)
		if err != nil {
			return err
		}
		defer t.Close()
		return redacted(t.UI.Redact, t.Plan(ctx, dopts))
	}
	return g.deployStage(ctx, c, s, dopts, g.ui().Result)
}
