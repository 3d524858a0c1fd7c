package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/remote"
)

const secret = "hunter2-long-secret-value"

// Once a stage's secrets are known, everything the run prints hides them:
// the UI, what commands print straight to Out, remote stderr cut short in
// errors, and the error main prints, which keeps its exit code.
func TestSecretsHiddenEverywhere(t *testing.T) {
	defer remote.SetRedactor(nil)
	var out bytes.Buffer
	g := &globalOptions{Out: &out}
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error {
		g.hideSecrets(map[string]string{"DJANGO_SECRET_KEY": secret})
		g.ui().Step("web1", "health", "body: %s", secret)
		fmt.Fprintf(g.Out, "web1 | journal line with %s\n", secret)
		if got := remote.Redact("stderr " + secret); got != "stderr [secret]" {
			t.Errorf("remote.Redact: %q", got)
		}
		return &UsageError{errors.New("failed with " + secret)}
	}}
	g.redactErrors(cmd)
	err := cmd.RunE(cmd, nil)
	if err.Error() != "failed with [secret]" || ExitCode(err) != ExitUsage {
		t.Errorf("error %q, exit %d", err, ExitCode(err))
	}
	if strings.Contains(out.String(), secret) || strings.Count(out.String(), "[secret]") != 2 {
		t.Errorf("output:\n%s", out.String())
	}
}

// Commands that only look at a stage run without every secret at hand, and
// still hide the ones this machine has.
func TestReadOnlyCommandsNeedNoSecrets(t *testing.T) {
	defer remote.SetRedactor(nil)
	dir := t.TempDir()
	yml := fmt.Sprintf("app: notes\nsettings: notes.settings\ndeploy_to: %s\nsecrets: [DJANGO_SECRET_KEY, DATABASE_URL]\nstages:\n  production:\n    hosts: [local]\n",
		filepath.Join(dir, "srv"))
	if err := os.WriteFile(filepath.Join(dir, "hoist.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DJANGO_SECRET_KEY", secret)
	t.Setenv("DATABASE_URL", "")
	var out bytes.Buffer
	root := NewRoot(&out, &out)
	root.SetArgs([]string{"-C", dir, "lock", "production"})
	if err := root.Execute(); err != nil {
		t.Fatalf("lock without DATABASE_URL: %v\n%s", err, out.String())
	}
	if got := remote.Redact(secret); got != "[secret]" {
		t.Errorf("the secret at hand is not hidden: %q", got)
	}
}
