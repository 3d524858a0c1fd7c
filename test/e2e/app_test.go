package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// testSecret is the app's secret key in tests; it must never show up in
// hoist's output or history.
const testSecret = "e2e-secret-Zq8v7WmN3kT1pXr5bY2cH9dL6sF4gJ0aQe-never-print-me"

// app is a copy of an example app in its own git repository, deployed
// under its own name so tests sharing hosts do not meet.
type app struct {
	t     *testing.T
	dir   string
	name  string
	fleet *fleet.Fleet
	env   []string
}

// newApp copies examples/<example> into a fresh repository, writes hoist.yml
// from yml (with %APP% replaced by the app's name) and commits.
func newApp(t *testing.T, f *fleet.Fleet, example, name, yml string) *app {
	skipShort(t)
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "examples", example)
	dir := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy example: %v %s", err, out)
	}
	a := &app{t: t, dir: dir, name: name, fleet: f}
	a.env = append(f.Env(), "DJANGO_SECRET_KEY="+testSecret, "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=t@example.com")
	a.write("hoist.yml", strings.ReplaceAll(yml, "%APP%", name))
	a.git("init", "-q", "-b", "main")
	a.commit("initial")
	return a
}

func (a *app) write(name, content string) {
	a.t.Helper()
	p := filepath.Join(a.dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) git(args ...string) string {
	a.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = a.dir, a.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		a.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (a *app) commit(msg string) string {
	a.git("add", "-A")
	a.git("commit", "-q", "--allow-empty", "-m", msg)
	return a.git("rev-parse", "HEAD")
}

// hoist runs the hoist binary in the app's directory and returns its
// combined output and exit code.
func (a *app) hoist(args ...string) (string, int) {
	a.t.Helper()
	var out bytes.Buffer
	code := a.run(args, &out, &out)
	return out.String(), code
}

// run runs the hoist binary in the app's directory, logs what it printed
// and checks the secret is not in it; it returns the exit code.
func (a *app) run(args []string, stdout, stderr *bytes.Buffer) int {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hoistBin, args...)
	cmd.Dir, cmd.Env = a.dir, a.env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatalf("run hoist: %v", err)
	}
	printed := stdout.String()
	if stderr != stdout {
		printed += stderr.String()
	}
	a.t.Logf("$ hoist %s  (exit %d)\n%s", strings.Join(args, " "), code, printed)
	if strings.Contains(printed, testSecret) {
		a.t.Errorf("hoist %v printed the secret", args)
	}
	return code
}

// mustHoist is hoist that must succeed.
func (a *app) mustHoist(args ...string) string {
	a.t.Helper()
	out, code := a.hoist(args...)
	if code != 0 {
		a.t.Fatalf("hoist %v: exit %d", args, code)
	}
	return out
}

// get fetches path from a host's nginx with the given Host header.
func get(t *testing.T, h *fleet.Host, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL(path), nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, h.Name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post sends a form to a host's nginx.
func post(t *testing.T, h *fleet.Host, host, path, form string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", h.URL(path), strings.NewReader(form))
	req.Host = host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s on %s: %v", path, h.Name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// expectServing checks every host serves the page with want in it.
func expectServing(t *testing.T, hosts []*fleet.Host, host, want string) {
	t.Helper()
	for _, h := range hosts {
		code, body := get(t, h, host, "/")
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: GET / = %d, want 200 with %q; body:\n%.400s", h.Name, code, want, body)
		}
	}
}

// sh runs a shell command on a host as root and returns its output.
func sh(t *testing.T, h *fleet.Host, script string) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", h.Name, script, err, out)
	}
	return strings.TrimSpace(out)
}

// hostList renders hosts for a hoist.yml stage.
func hostList(hosts ...*fleet.Host) string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// notesYML is a hoist.yml for the notes example; the stage gets the given
// hosts and extra stage env lines.
func notesYML(domain, hosts, stageEnv string) string {
	return fmt.Sprintf(`app: %%APP%%
settings: notes.settings
system_site_packages: true
requirements: requirements.txt
shared_dirs: [media]
keep_releases: 3
web:
  domains: [%s]
env:
  DJANGO_ALLOWED_HOSTS: "%s,localhost"
  DJANGO_SECURE_SSL_REDIRECT: "off"
  DJANGO_SESSION_COOKIE_SECURE: "off"
  DJANGO_CSRF_COOKIE_SECURE: "off"
  DJANGO_SECURE_HSTS_SECONDS: "0"
  DJANGO_SILENCED_CHECKS: "security.W004,security.W008,security.W012,security.W016"
secrets: [DJANGO_SECRET_KEY]
stages:
  prod:
    hosts: %s
    env:
%s
`, domain, domain, hosts, stageEnv)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
