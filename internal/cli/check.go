package cli

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/django"
)

func newCheckCmd(g *globalOptions) *cobra.Command {
	var ref string
	cmd := &cobra.Command{
		Use:   "check STAGE",
		Short: "Run Django's production checks with a stage's settings",
		Long: `check runs, on this machine and with STAGE's environment and secrets, what
would break in production: Django's system checks with the deployment ones
(manage.py check --deploy), makemigrations --check, and a real collectstatic
into a temporary directory. It checks the committed files of REF, exactly
what a deploy would ship. Every deploy runs the same checks in the new
release on the primary, with the server's Python and the release's
requirements; this command tries a commit before deploying it.

It fails on Django errors, a missing migration, a failing collectstatic,
DEBUG on, an empty ALLOWED_HOSTS and a missing or weak SECRET_KEY. Other
warnings (HSTS, SSL redirect, secure cookies on a plain-HTTP stage) are
shown, not fatal, unless the stage's checks: fail_level is warning; check
ids under checks: silence are neither shown nor fatal.

It needs a Python with Django and the app's requirements here: HOIST_PYTHON, the active or project
virtualenv (.venv, venv, env), or python3.`,
		Example: "  hoist check production",
		Args:    stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), g, args[0], ref)
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "the commit to check (default: the stage's ref, else HEAD)")
	return cmd
}

func runCheck(ctx context.Context, g *globalOptions, stage, ref string) error {
	c, s, secrets, err := g.loadStageSecrets(stage)
	if err != nil {
		return err
	}
	if ref == "" {
		ref = s.Ref
	}
	art, err := deploy.BuildArtifact(ctx, c.Dir, ref, c.Requirements)
	if err != nil {
		return err
	}
	defer art.Remove()
	env := deploy.StageEnv(c, s, secrets)
	u := g.ui() // the secrets are already hidden in it
	python := django.LocalPython(filepath.Join(c.Dir, c.ProjectDir))
	if python == "" {
		return errors.New("no Python with Django on this machine: set HOIST_PYTHON to one (a deploy runs these checks on the primary instead)")
	}
	if err := deploy.RunLocalChecks(ctx, u, python, art, c.ProjectDir, env, s.Checks); err != nil {
		return redacted(u.Redact, err)
	}
	u.Result("%.7s passes Django's checks for %s: check --deploy, makemigrations --check, collectstatic", art.Commit, stage)
	return nil
}
