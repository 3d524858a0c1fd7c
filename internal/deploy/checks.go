package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/ui"
)

// SkippedChecks is what --skip-checks leaves out of a deploy, for its
// warning: the user should know the migration check goes too, and that
// collectstatic, part of every build, does not.
const SkippedChecks = "Django's system checks (check --deploy) and the missing-migration check (makemigrations --check); collectstatic still runs in the build"

// ChecksError is a project Django's own checks reject for the stage.
type ChecksError struct {
	Where    string
	Failures []django.Failure
}

func (e *ChecksError) Error() string {
	parts := make([]string, len(e.Failures))
	silence := ""
	for i, f := range e.Failures {
		parts[i] = f.String()
		if len(f.Issues) > 0 {
			silence = "; a check id this stage accepts can go under its checks: silence in hoist.yml"
		}
	}
	return fmt.Sprintf("the Django checks failed %s, so nothing was deployed:\n%s\n(fix them%s; --skip-checks deploys anyway, skipping %s)",
		e.Where, strings.Join(parts, "\n"), silence, SkippedChecks)
}

// RunLocalChecks runs Django's checks on this machine with python (see
// django.LocalPython), on the commit's files and with the stage's settings
// and secrets; checks is the stage's checks: from hoist.yml. It shows the
// warnings that do not stop the deploy on u.
func RunLocalChecks(ctx context.Context, u *ui.UI, python string, a *Artifact, projectDir string, env map[string]string, checks config.Checks) error {
	tmp, err := os.MkdirTemp("", "hoist-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", a.Path, "-C", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("unpack the artifact to check it: %v: %s", err, out)
	}
	report := django.RunChecks(ctx, django.LocalRunner(python, filepath.Join(tmp, projectDir), env), checks)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return judge(u, report, checks, "on this machine ("+python+")")
}

// judge shows the warnings that do not stop the deploy and turns the
// failures into a ChecksError.
func judge(u *ui.UI, r django.Report, checks config.Checks, where string) error {
	for _, w := range r.Warnings {
		u.Warn("Django check: %s", w)
	}
	if len(r.Warnings) > 0 && len(r.Failures) == 0 {
		level := checks.FailLevel
		if level == "" {
			level = config.FailOnError
		}
		u.Info("the %d Django check warning(s) above do not stop a deploy at fail_level %s; in hoist.yml, checks: silence: [ID] hides one for the stage, checks: fail_level: warning makes them stop it",
			len(r.Warnings), level)
	}
	if len(r.Failures) > 0 {
		return &ChecksError{Where: where, Failures: r.Failures}
	}
	return nil
}

// StageEnv is the environment the app gets on a stage, secrets included.
func StageEnv(c *config.Config, s *config.Stage, secrets map[string]string) map[string]string {
	env := maps.Clone(c.StageEnv(s))
	maps.Copy(env, secrets)
	return env
}
