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
)

// ChecksError is a project Django's own checks reject for the stage.
type ChecksError struct {
	Where    string
	Failures []django.Failure
}

func (e *ChecksError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.String()
	}
	return fmt.Sprintf("the Django checks failed %s, so nothing was deployed:\n%s\n(fix them, or deploy anyway with --skip-checks)", e.Where, strings.Join(parts, "\n"))
}

// CheckLocally runs Django's checks on this machine, on the commit's files
// and with the stage's settings and secrets, before anything is shipped.
// It returns false when no local Python has Django; the deploy then runs
// the checks in the built release on the primary.
func CheckLocally(ctx context.Context, a *Artifact, appDir, projectDir string, env map[string]string) (bool, error) {
	python := django.LocalPython(filepath.Join(appDir, projectDir))
	if python == "" {
		return false, nil
	}
	tmp, err := os.MkdirTemp("", "hoist-check-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", a.Path, "-C", tmp).CombinedOutput(); err != nil {
		return false, fmt.Errorf("unpack the artifact to check it: %v: %s", err, out)
	}
	failures := django.Check(ctx, django.LocalRunner(python, filepath.Join(tmp, projectDir), env))
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	if len(failures) > 0 {
		return true, &ChecksError{Where: "on this machine (" + python + ")", Failures: failures}
	}
	return true, nil
}

// StageEnv is the environment the app gets on a stage, secrets included.
func StageEnv(c *config.Config, s *config.Stage, secrets map[string]string) map[string]string {
	env := maps.Clone(c.StageEnv(s))
	maps.Copy(env, secrets)
	return env
}
