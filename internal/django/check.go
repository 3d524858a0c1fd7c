package django

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// A Runner runs a command line in the app's project directory with the
// stage's environment: on this machine, or in a release on a host.
type Runner func(ctx context.Context, argv ...string) (string, error)

// Failure is one check that did not pass.
type Failure struct {
	Check  string    // "check --deploy", "makemigrations --check", "collectstatic"
	Output string    // what Django said, when there are no Issues
	Issues []Finding // for check --deploy: the messages that stop the deploy
}

// Finding is one message of Django's system check framework.
type Finding struct {
	ID      string // security.W004; "" for a third-party check without one
	Level   string // DEBUG, INFO, WARNING, ERROR or CRITICAL
	Object  string // what it is about (a model, a field), or ""
	Message string
	Hint    string // hoist's advice for the common ones, else Django's hint
}

// Report is what Check found: Failures stop a deploy, Warnings are shown.
type Report struct {
	Failures []Failure
	Warnings []Finding
}

// fatalWarnings are the warnings that stop a deploy even at fail_level
// error: each one makes a production site unsafe or unusable whatever its
// HTTPS set-up, unlike the HTTPS warnings a plain-HTTP stage lives with.
var fatalWarnings = map[string]bool{
	"security.W018": true, // DEBUG on: tracebacks and settings shown to anyone
	"security.W009": true, // SECRET_KEY missing, short or a Django default: forgeable sessions
	"security.W025": true, // Django 4.1+: the same for a SECRET_KEY_FALLBACKS entry
	"security.W020": true, // ALLOWED_HOSTS empty: Django answers 400 to every request
}

// RunChecks runs what would break in production, with the stage's
// settings: Django's system checks with the deployment ones, missing
// migrations, and a real collectstatic (a dry run misses errors of manifest
// storage), all in one Django start (checkScript). Which check messages
// are fatal follows the stage's checks: settings in hoist.yml. A deploy
// runs the same checks in its build instead (PrepareCmd with checks).
func RunChecks(ctx context.Context, run Runner, opts config.Checks) Report {
	out, err := run(ctx, "python", "manage.py", "shell", "-v", "0", "-c", checkScript)
	if err != nil {
		// The settings or an app do not even load: nothing else can be
		// checked, and the release would not start either.
		return Report{Failures: []Failure{{Check: "check --deploy", Output: loadHint(errText(out, err))}}}
	}
	res, ok := parseChecks(out)
	if !ok {
		return Report{Failures: []Failure{{Check: "check --deploy", Output: "hoist could not read what Django's checks said:\n" + strings.TrimSpace(out)}}}
	}
	return res.report(opts)
}

// LoadFailure is the report of PrepareCmd's Django start when it failed
// before any check could run: the settings or an app do not load. ok is
// false for any other failure: of what ran before it in its round trip,
// or of the link.
func LoadFailure(err error) (r Report, ok bool) {
	var exit *remote.ExitError
	failed := remote.Failed(prepareLabel)
	if !errors.As(err, &exit) || !strings.Contains(exit.Stderr, failed) {
		return Report{}, false
	}
	text := strings.TrimSpace(strings.Replace(exit.Stderr, failed, "", 1))
	return Report{Failures: []Failure{{Check: "check --deploy", Output: loadHint(text)}}}, true
}

// report judges what the checks found by the stage's checks: settings.
func (res checkResult) report(opts config.Checks) Report {
	var r Report
	r.Failures, r.Warnings = judgeMessages(res.Messages, opts)
	if mm := res.Makemigrations; mm.Code != 0 {
		text := strings.TrimSpace(mm.Out)
		if text == "" {
			// Django 3.2 exits 3 without a word when it would have to ask
			// (a NOT NULL field without a default).
			text = fmt.Sprintf("the models have changes that no migration holds, and makemigrations needs answers to write it (exit status %d):\n"+
				"run python manage.py makemigrations here, answer its questions, and commit the migration", mm.Code)
		}
		r.Failures = append(r.Failures, Failure{Check: "makemigrations --check", Output: text})
	}
	if cs := res.Collectstatic; cs.Code != 0 {
		r.Failures = append(r.Failures, Failure{Check: "collectstatic", Output: strings.TrimSpace(cs.Out)})
	}
	return r
}

// judgeMessages sorts the check framework's messages into what stops the
// deploy and what is only shown.
func judgeMessages(msgs []checkMessage, opts config.Checks) ([]Failure, []Finding) {
	const name = "check --deploy"
	// Django's order depends on the order checks were registered in.
	slices.SortStableFunc(msgs, func(a, b checkMessage) int { return strings.Compare(a.ID, b.ID) })
	var fatal, shown []Finding
	for _, m := range msgs {
		if slices.Contains(opts.Silence, m.ID) {
			continue
		}
		f := Finding{ID: m.ID, Level: levelName(m.Level), Object: m.Obj, Message: m.Msg, Hint: m.Hint}
		if h := hints[m.ID]; h != "" {
			f.Hint = h
		}
		if m.Level >= levelError || (m.Level >= levelWarning && (opts.FailLevel == config.FailOnWarning || fatalWarnings[m.ID])) {
			fatal = append(fatal, f)
		} else {
			shown = append(shown, f)
		}
	}
	if len(fatal) > 0 {
		return []Failure{{Check: name, Issues: fatal}}, shown
	}
	return nil, shown
}

// Levels of django.core.checks messages.
const (
	levelWarning = 30
	levelError   = 40
)

func levelName(n int) string {
	switch {
	case n >= 50:
		return "CRITICAL"
	case n >= levelError:
		return "ERROR"
	case n >= levelWarning:
		return "WARNING"
	case n >= 20:
		return "INFO"
	}
	return "DEBUG"
}

// checkMarker starts the line where checkScript prints its JSON: the
// settings or an app may print too.
const checkMarker = "hoist-checks: "

// checksDef defines, for a script in which Django is set up, hoist_run
// (a management command's exit status and output) and hoist_checks: what
// manage.py check --deploy runs (no database checks), with every message
// as JSON so warnings and errors can be told apart by id; then
// makemigrations --check --dry-run --noinput (--dry-run: before Django
// 4.2, --check alone writes the migration files; --noinput: a change that
// looks like a rename would ask, and with no terminal end in EOFError
// instead of the report). Django's API here is the same from 3.2 to 5.x.
const checksDef = `
import io, traceback

def hoist_run(fn):
    out = io.StringIO()
    try:
        fn(out)
        return {"code": 0, "out": out.getvalue()}
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        return {"code": code, "out": out.getvalue()}
    except BaseException:
        return {"code": 1, "out": out.getvalue() + traceback.format_exc()}

def hoist_checks():
    from django.core import checks
    from django.core.management import call_command
    from django.db import models
    messages = []
    for m in checks.run_checks(include_deployment_checks=True):
        if m.is_silenced():  # the project's own SILENCED_SYSTEM_CHECKS
            continue
        if m.obj is None:
            obj = ""
        elif isinstance(m.obj, models.base.ModelBase):
            obj = m.obj._meta.label
        else:
            obj = str(m.obj)
        messages.append({"id": m.id or "", "level": m.level, "msg": str(m.msg), "hint": str(m.hint or ""), "obj": obj})

    def makemigrations(out):
        call_command("makemigrations", check_changes=True, dry_run=True, interactive=False, stdout=out, stderr=out)

    return {"messages": messages, "makemigrations": hoist_run(makemigrations)}
`

// checkScript is hoist check's one Django start: hoist_checks, then a
// collectstatic into a temporary STATIC_ROOT, so the check writes nothing
// into the project (override_settings also drops a storage the checks may
// have made for the real STATIC_ROOT). It runs in manage.py shell -c, so
// whatever the project's manage.py does first (sys.path, dotenv) is done.
const checkScript = `
import json, shutil, tempfile
from django.conf import settings
from django.core.management import call_command
from django.test.utils import override_settings
` + checksDef + `
def hoist_collectstatic(out):
    if "django.contrib.staticfiles" not in settings.INSTALLED_APPS:
        return
    root = tempfile.mkdtemp(prefix="hoist-static-")
    try:
        with override_settings(STATIC_ROOT=root):
            call_command("collectstatic", interactive=False, verbosity=0, stdout=out, stderr=out)
    finally:
        shutil.rmtree(root, ignore_errors=True)

hoist_result = hoist_checks()
hoist_result["collectstatic"] = hoist_run(hoist_collectstatic)
print("\n` + checkMarker + `" + json.dumps(hoist_result))
`

// checkResult is what checkScript prints.
type checkResult struct {
	Messages       []checkMessage `json:"messages"`
	Makemigrations commandResult  `json:"makemigrations"`
	Collectstatic  commandResult  `json:"collectstatic"`
}

// commandResult is a management command run by checkScript: its exit
// status and output.
type commandResult struct {
	Code int    `json:"code"`
	Out  string `json:"out"`
}

type checkMessage struct {
	ID    string `json:"id"`
	Level int    `json:"level"`
	Msg   string `json:"msg"`
	Hint  string `json:"hint"`
	Obj   string `json:"obj"`
}

// parseChecks reads checkScript's output.
func parseChecks(out string) (checkResult, bool) {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if js, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), checkMarker); ok {
			var r checkResult
			if json.Unmarshal([]byte(js), &r) != nil {
				return r, false
			}
			return r, true
		}
	}
	return checkResult{}, false
}

// loadHint adds advice to the error of settings that do not load, for the
// common case of a SECRET_KEY the stage does not provide.
func loadHint(text string) string {
	if strings.Contains(text, "ImproperlyConfigured") && strings.Contains(text, "SECRET_KEY") {
		text += "\nhint: " + hints["security.W009"]
	}
	return text
}

func errText(out string, err error) string {
	if ee, ok := err.(*remote.ExitError); ok {
		return strings.TrimSpace(out + "\n" + ee.Stderr)
	}
	return strings.TrimSpace(out + "\n" + err.Error())
}

var hints = map[string]string{
	"security.W018": "DEBUG is on: production must run with DEBUG = False (read it from the environment, and set it off in hoist.yml env)",
	"security.W020": "ALLOWED_HOSTS is empty: list the site's domain names; Django answers 400 to every other Host",
	"security.W009": "SECRET_KEY is missing, short, weak or a Django default: generate one with python3 -c 'import secrets; print(secrets.token_urlsafe(50))', read it from the environment in your settings and list it under secrets in hoist.yml",
	"security.W025": "an entry of SECRET_KEY_FALLBACKS is short, weak or a Django default: generate strong ones, or drop the old keys once sessions signed with them have expired",
	"security.W008": "behind nginx or Caddy, also set SECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\"), or the redirect loops; on a plain-HTTP stage, silence it in hoist.yml (checks: silence)",
	"security.W004": "set SECURE_HSTS_SECONDS once the site is served over HTTPS only; on a plain-HTTP stage, silence it in hoist.yml (checks: silence)",
	"security.W011": "set SESSION_COOKIE_SECURE = True when the site is served over HTTPS",
	"security.W012": "set SESSION_COOKIE_SECURE = True when the site is served over HTTPS",
	"security.W016": "set CSRF_COOKIE_SECURE = True when the site is served over HTTPS",
	"4_0.E001":      "Django 4.0+ wants a scheme in CSRF_TRUSTED_ORIGINS: https://example.com, not example.com",
}

// String renders a failure for the terminal.
func (f Failure) String() string {
	if len(f.Issues) == 0 {
		return f.Check + " failed:\n" + indent(f.Output)
	}
	var b strings.Builder
	b.WriteString(f.Check + " failed:")
	for _, i := range f.Issues {
		b.WriteString("\n" + indent(i.String()))
	}
	return b.String()
}

// String renders a finding as Django does, with the hint below it.
func (f Finding) String() string {
	var b strings.Builder
	if f.Object != "" {
		b.WriteString(f.Object + ": ")
	}
	if f.ID != "" {
		fmt.Fprintf(&b, "(%s) ", f.ID)
	}
	b.WriteString(f.Message)
	if f.Hint != "" {
		b.WriteString("\n  hint: " + f.Hint)
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
