package django

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// A Runner runs a command line in the app's project directory with the
// stage's environment: on this machine, or in a release on a host.
type Runner func(ctx context.Context, argv ...string) (string, error)

// Failure is one check that did not pass.
type Failure struct {
	Check  string    // "check --deploy", "makemigrations --check", "collectstatic"
	Output string    // what Django said
	Issues []Finding // for check --deploy: each issue with its id
}

// Finding is one issue of Django's system check framework.
type Finding struct {
	ID, Message, Hint string
}

// Check runs what would break in production, with the stage's settings:
// the deploy checks, missing migrations, and a real collectstatic (a dry
// run misses errors of manifest storage).
func Check(ctx context.Context, run Runner) []Failure {
	var failures []Failure
	if out, err := run(ctx, "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"); err != nil {
		failures = append(failures, Failure{Check: "check --deploy", Output: errText(out, err), Issues: findings(errText(out, err))})
	}
	// --dry-run: before Django 4.2, --check alone writes the migration files.
	// --noinput: a model change that looks like a rename makes it ask, and
	// with no terminal the question ends in EOFError instead of the report.
	if out, err := run(ctx, "python", "manage.py", "makemigrations", "--check", "--dry-run", "--noinput"); err != nil {
		text := errText(out, err)
		if strings.TrimSpace(out) == "" {
			// Django 3.2 exits 3 without a word when it would have to ask
			// (a NOT NULL field without a default).
			text = "the models have changes that no migration holds, and makemigrations needs answers to write it (" + text + "):\n" +
				"run python manage.py makemigrations here, answer its questions, and commit the migration"
		}
		failures = append(failures, Failure{Check: "makemigrations --check", Output: text})
	}
	if out, err := run(ctx, "python", "-c", collectScript); err != nil {
		failures = append(failures, Failure{Check: "collectstatic", Output: errText(out, err)})
	}
	return failures
}

// collectScript runs collectstatic into a temporary STATIC_ROOT, so the
// check writes nothing into the project.
const collectScript = `
import shutil, tempfile, django
from django.conf import settings
django.setup()
if "django.contrib.staticfiles" in settings.INSTALLED_APPS:
    settings.STATIC_ROOT = tempfile.mkdtemp(prefix="hoist-static-")
    try:
        from django.core.management import call_command
        call_command("collectstatic", interactive=False, verbosity=0)
    finally:
        shutil.rmtree(settings.STATIC_ROOT, ignore_errors=True)
`

func errText(out string, err error) string {
	if ee, ok := err.(*remote.ExitError); ok {
		return strings.TrimSpace(out + "\n" + ee.Stderr)
	}
	return strings.TrimSpace(out + "\n" + err.Error())
}

var issueLine = regexp.MustCompile(`\(([a-z_0-9]+\.[EWCI]\d+)\) (.*)`)

// findings picks the issues out of Django's check output and adds hoist's
// hint for the common ones.
func findings(out string) []Finding {
	var fs []Finding
	for _, line := range strings.Split(out, "\n") {
		m := issueLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fs = append(fs, Finding{ID: m[1], Message: m[2], Hint: hints[m[1]]})
	}
	return fs
}

var hints = map[string]string{
	"security.W018": "DEBUG is on: production must run with DEBUG = False (read it from the environment, and set it off in hoist.yml env)",
	"security.W020": "ALLOWED_HOSTS is empty: list the site's domain names; Django answers 400 to every other Host",
	"security.W009": "SECRET_KEY is short, weak or a Django default: generate one with python3 -c 'import secrets; print(secrets.token_urlsafe(50))' and list it under secrets",
	"security.W008": "behind nginx or Caddy, also set SECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\"), or the redirect loops",
	"security.W004": "set SECURE_HSTS_SECONDS once the site is served over HTTPS only",
	"security.W012": "set SESSION_COOKIE_SECURE = True when the site is served over HTTPS",
	"security.W016": "set CSRF_COOKIE_SECURE = True when the site is served over HTTPS",
	"4_0.E001":      "Django 4.0+ wants a scheme in CSRF_TRUSTED_ORIGINS: https://example.com, not example.com",
}

// String renders a failure for the terminal.
func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed", f.Check)
	if len(f.Issues) == 0 {
		b.WriteString(":\n" + indent(f.Output))
		return b.String()
	}
	b.WriteString(":")
	for _, i := range f.Issues {
		fmt.Fprintf(&b, "\n  %s: %s", i.ID, i.Message)
		if i.Hint != "" {
			fmt.Fprintf(&b, "\n    hint: %s", i.Hint)
		}
	}
	return b.String()
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

// LocalPython finds a Python on this machine that can import Django: the
// one named by HOIST_PYTHON, the active or project virtualenv, then
// python3. It returns "" when there is none.
func LocalPython(projectDir string) string {
	var candidates []string
	if p := os.Getenv("HOIST_PYTHON"); p != "" {
		return p
	}
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		candidates = append(candidates, filepath.Join(v, "bin", "python"))
	}
	for _, dir := range []string{".venv", "venv", "env"} {
		candidates = append(candidates, filepath.Join(projectDir, dir, "bin", "python"))
	}
	candidates = append(candidates, "python3", "/usr/bin/python3")
	for _, p := range candidates {
		if exec.Command(p, "-c", "import django").Run() == nil {
			return p
		}
	}
	return ""
}

// LocalRunner runs commands with python in dir, with env added to this
// process's environment.
func LocalRunner(python, dir string, env map[string]string) Runner {
	return func(ctx context.Context, argv ...string) (string, error) {
		if argv[0] == "python" {
			argv[0] = python
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), &remote.ExitError{Status: ee.ExitCode()}
		}
		return out.String(), err
	}
}

// ReleaseRunner runs commands in a built release on a host.
func ReleaseRunner(t remote.Transport, l release.Layout, id, projectDir string) Runner {
	return func(ctx context.Context, argv ...string) (string, error) {
		return remote.Output(ctx, t, release.Command(l, id, projectDir, argv...))
	}
}
