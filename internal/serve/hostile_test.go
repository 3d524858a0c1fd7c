package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// hostileStrings are values that broke, or could break, a file they were
// written into: line breaks, each format's quotes, comments and block
// delimiters, specifiers and variables, and sheer length.
var hostileStrings = []string{
	"a\nb", "a\r\nb", "a\rExecStartPre=+/bin/sh", "x;}\nlocation /p {alias /etc/;", ";}", "{", "}", "x\"y", "x'y", "`x`",
	"$x", "${x}", "{$HOME}", "{uri}", "%i", "%%", `a\`, `a\"b`, "a b", " lead", "trail ", "#x", "x # y",
	"a\x00b", "a\tb", "a\u2028b", "a\u2029b", "a\u0085b", "\xff", "--bind=0.0.0.0:80", "-", "/", "..", "../..",
	"/srv/x\n[Service]", "/srv/x y", "/srv/x;}", strings.Repeat("a", 5000), "é", "x\u202ey",
}

// hostileNumbers reach TimeoutStopSec, proxy_read_timeout, listen and the like.
var hostileNumbers = []string{"-1", "0", "-9223372036854775808", "9223372036854775807", "99999999999999999999", "1e9", "0x7fffffff"}

// field is one hoist.yml key and how to set it in a file.
type field struct {
	key    string
	set    func(v string) string // YAML text added to the base file
	number bool
}

func top(key string) func(string) string {
	return func(v string) string { return key + ": " + v + "\n" }
}

func in(section, key string) func(string) string {
	return func(v string) string { return section + ":\n  " + key + ": " + v + "\n" }
}

func list(section, key string) func(string) string {
	return func(v string) string { return section + ":\n  " + key + ": [" + v + "]\n" }
}

var hostileFields = []field{
	{key: "app", set: top("app")},
	{key: "deploy_to", set: top("deploy_to")},
	{key: "project_dir", set: top("project_dir")},
	{key: "python", set: top("python")},
	{key: "wsgi", set: top("wsgi")},
	{key: "settings", set: top("settings")},
	{key: "env", set: func(v string) string { return "env:\n  HOSTILE: " + v + "\n" }},
	{key: "shared_dirs", set: top("shared_dirs")},
	{key: "web.server", set: in("web", "server")},
	{key: "web.tls", set: in("web", "tls")},
	{key: "web.domains", set: list("web", "domains")},
	{key: "web.static_url", set: in("web", "static_url")},
	{key: "web.media_url", set: in("web", "media_url")},
	{key: "web.max_body_size", set: in("web", "max_body_size")},
	{key: "web.port", set: in("web", "port"), number: true},
	{key: "gunicorn.args", set: list("gunicorn", "args")},
	{key: "gunicorn.workers", set: in("gunicorn", "workers"), number: true},
	{key: "gunicorn.timeout", set: in("gunicorn", "timeout"), number: true},
	{key: "gunicorn.graceful_timeout", set: in("gunicorn", "graceful_timeout"), number: true},
	{key: "health.path", set: in("health", "path")},
	{key: "health.paths", set: list("health", "paths")},
	{key: "health.host", set: in("health", "host")},
	{key: "health.contains", set: in("health", "contains")},
	{key: "health.retries", set: in("health", "retries"), number: true},
	{key: "health.timeout", set: in("health", "timeout"), number: true},
	{key: "keep_releases", set: top("keep_releases"), number: true},
	{key: "stages.production.deploy_to", set: func(v string) string { return "    deploy_to: " + v + "\n" }},
	{key: "stages.production.domains", set: func(v string) string { return "    domains: [" + v + "]\n" }},
}

// hostileFile is a valid hoist.yml but for field f, set to v.
func hostileFile(f field, v string) string {
	var b strings.Builder
	if f.key != "app" {
		b.WriteString("app: shop\n")
	}
	if f.key != "settings" {
		b.WriteString("settings: shop.settings\n")
	}
	line := f.set(v)
	if f.key == "web.domains" {
		// the field's own line is the web: mapping
	} else if strings.HasPrefix(f.key, "web.") {
		// One web: mapping, with the field's own key in it.
		line = strings.Replace(line, "web:\n", "web:\n  domains: [shop.example.com]\n", 1)
	} else {
		b.WriteString("web:\n  domains: [shop.example.com]\n")
	}
	if !strings.HasPrefix(f.key, "stages.") {
		b.WriteString(line)
		line = ""
	}
	b.WriteString("stages:\n  production:\n    hosts: [deploy@203.0.113.5]\n" + line)
	return b.String()
}

// short shows a value in a message, cut if very long.
func short(v string) string {
	if len(v) > 60 {
		return fmt.Sprintf("%q... (%d bytes)", v[:40], len(v))
	}
	return fmt.Sprintf("%q", v)
}

// TestHostileValues renders every unit, site and env file from hostile
// values of every field and checks that hoist.yml is refused with a
// message naming the field, or that the real parsers (systemd-analyze
// verify, nginx -t, caddy validate, the release's env loader) accept the
// files and no value added a line or a directive.
func TestHostileValues(t *testing.T) {
	tools := parsers(t)
	base := mustParse(t, hostileFile(field{key: "none", set: func(string) string { return "" }}, ""))
	want := map[string]int{}
	for _, server := range []config.WebServer{config.Nginx, config.Caddy} {
		for _, f := range render(t, base, server) {
			want[f.Path] = shape(f)
		}
	}
	checked := map[string]bool{} // file contents already validated
	for _, f := range hostileFields {
		values := hostileStrings
		if f.number {
			values = append(hostileNumbers, hostileStrings[:4]...)
		}
		for _, v := range values {
			yml := hostileFile(f, yamlQuote(v, f.number))
			c, err := config.Parse("hoist.yml", []byte(yml))
			if err != nil {
				var errs config.Errors
				if !errors.As(err, &errs) || !mentions(errs, f.key) {
					t.Errorf("%s = %s: refused, but no error names %s:\n%v", f.key, short(v), f.key, err)
				}
				continue
			}
			for _, server := range []config.WebServer{config.Nginx, config.Caddy} {
				for _, file := range render(t, c, server) {
					if got := shape(file); got != want[file.Path] {
						t.Errorf("%s = %s: %s has shape %d, want %d: a value added a line or directive:\n%s", f.key, short(v), file.Path, got, want[file.Path], file.Content)
					}
					if !checked[string(file.Content)] {
						checked[string(file.Content)] = true
						if err := tools.check(t, c, file); err != nil {
							t.Errorf("%s = %s: %v", f.key, short(v), err)
						}
					}
				}
			}
			if f.key == "env" {
				checkEnvRoundTrip(t, c.StageEnv(c.Stages[0]))
			}
		}
	}
	t.Logf("%d distinct files passed the real parsers", len(checked))
}

// yamlQuote writes v as a YAML double-quoted scalar (Go's escapes are a
// subset of YAML's), or bare for numbers so they stay numbers.
func yamlQuote(v string, number bool) string {
	if number {
		if _, err := strconv.ParseFloat(v, 64); err == nil || strings.HasPrefix(v, "0x") {
			return v
		}
	}
	return strconv.Quote(v)
}

func mentions(errs config.Errors, key string) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Key, key) || strings.HasPrefix(e.Msg, "missing required key \""+key) {
			return true
		}
	}
	return false
}

func mustParse(t *testing.T, yml string) *config.Config {
	t.Helper()
	c, err := config.Parse("hoist.yml", []byte(yml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	return c
}

func render(t *testing.T, c *config.Config, server config.WebServer) []File {
	t.Helper()
	s := NewSite(c, c.Stages[0], "deploy")
	s.Web.Server = server
	files, err := s.Files()
	if err != nil {
		t.Fatalf("config accepted a value its files cannot hold: %v", err)
	}
	return files
}

// shape counts what a value must never add: lines, and in web server
// files the directive ends and blocks outside quotes.
func shape(f File) int {
	n := strings.Count(string(f.Content), "\n")
	if strings.HasPrefix(f.Path, "/etc/systemd/") {
		return n
	}
	quoted, escaped := false, false
	for _, r := range string(f.Content) {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case !quoted && strings.ContainsRune(";{}#", r):
			n += 1000
		}
	}
	return n
}

type parserTools struct{ systemd, nginx, caddy string }

func parsers(t *testing.T) parserTools {
	var p parserTools
	var missing []string
	for _, x := range []struct {
		name string
		p    *string
	}{{"systemd-analyze", &p.systemd}, {"nginx", &p.nginx}, {"caddy", &p.caddy}} {
		if path, err := exec.LookPath(x.name); err == nil {
			*x.p = path
		} else if _, err := os.Stat("/usr/sbin/" + x.name); err == nil {
			*x.p = "/usr/sbin/" + x.name
		} else {
			missing = append(missing, x.name)
		}
	}
	if len(missing) > 0 {
		if testing.Short() {
			t.Skipf("%s not installed (scripts/deps.sh installs them)", strings.Join(missing, ", "))
		}
		t.Fatalf("%s not installed: run scripts/deps.sh", strings.Join(missing, ", "))
	}
	return p
}

// check runs the real parser of file's format on it.
func (p parserTools) check(t *testing.T, c *config.Config, f File) error {
	dir := t.TempDir()
	var cmd *exec.Cmd
	switch {
	case strings.HasPrefix(f.Path, "/etc/systemd/"):
		// verify wants an instance, and the ExecStart binary to exist:
		// both live under a root of their own.
		unitDir := filepath.Join(dir, "etc/systemd/system")
		site := NewSite(c, c.Stages[0], "deploy")
		python := filepath.Join(dir, site.layout().Release("x"), ".venv/bin/python")
		for _, d := range []string{unitDir, filepath.Dir(python)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(python, []byte("#!/bin/sh\n"), 0o755); err != nil {
			return err
		}
		all := render(t, c, config.NoWebServer)
		for _, u := range all {
			if err := os.WriteFile(filepath.Join(dir, u.Path), u.Content, 0o644); err != nil {
				return err
			}
		}
		instance := strings.Replace(filepath.Base(f.Path), "@.", "@x.", 1)
		cmd = exec.Command(p.systemd, "verify", "--man=no", "--recursive-errors=no", "--root="+dir, instance)
	case strings.HasPrefix(f.Path, "/etc/nginx/"):
		site := filepath.Join(dir, "site.conf")
		conf := fmt.Sprintf("pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n access_log off;\n include %s;\n}\n", dir, site)
		if err := os.WriteFile(site, f.Content, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			return err
		}
		cmd = exec.Command(p.nginx, "-t", "-q", "-p", dir, "-e", "stderr", "-c", filepath.Join(dir, "nginx.conf"))
	case strings.HasPrefix(f.Path, "/etc/caddy/"):
		file := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(file, f.Content, 0o644); err != nil {
			return err
		}
		cmd = exec.Command(p.caddy, "validate", "--config", file, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	default:
		return fmt.Errorf("no parser for %s", f.Path)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s rejected %s: %v\n%s", filepath.Base(cmd.Path), f.Path, err, out)
	}
	// systemd warns (unknown key, bad value ignored) and still exits 0.
	if strings.Contains(f.Path, "systemd") && len(strings.TrimSpace(string(out))) > 0 {
		return fmt.Errorf("systemd-analyze verify warned about %s:\n%s", f.Path, out)
	}
	return nil
}

// checkEnvRoundTrip writes env as a release's env file and reads it back
// with the loader every release command uses, and with sh: each value
// must come back exactly.
func checkEnvRoundTrip(t *testing.T, env map[string]string) {
	t.Helper()
	data, err := release.EnvFile(env)
	if err != nil {
		t.Errorf("config accepted env values the env file cannot hold: %v", err)
		return
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed to read env files back")
	}
	dir := t.TempDir()
	l := release.Layout{Root: dir}
	bin := filepath.Join(l.Release("x"), ".venv/bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(python, filepath.Join(bin, "python")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.EnvDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.EnvFile("x"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	// Each value, NUL-separated, in name order.
	printer := `import os, sys; sys.stdout.write("\0".join(os.environ[k] for k in sys.argv[1:]))`
	out, err := remote.Output(context.Background(), remote.Local{}, release.Command(l, "x", ".", append([]string{"python", "-c", printer}, names...)...))
	if err != nil {
		t.Fatalf("the env loader failed on %q: %v", data, err)
	}
	shellScript := `set -a; . "$1"; shift; for k; do eval "printf '%s\0' \"\$$k\""; done`
	shell, err := exec.Command("sh", append([]string{"-c", shellScript, "sh", l.EnvFile("x")}, names...)...).Output()
	if err != nil {
		t.Fatalf("sh failed on %q: %v", data, err)
	}
	for i, v := range strings.Split(out, "\x00") {
		if want := env[names[i]]; v != want {
			t.Errorf("the env loader read %s as %q, want %q", names[i], v, want)
		}
	}
	for i, v := range strings.Split(strings.TrimSuffix(string(shell), "\x00"), "\x00") {
		if want := env[names[i]]; v != want {
			t.Errorf("sh read %s as %q, want %q", names[i], v, want)
		}
	}
}
