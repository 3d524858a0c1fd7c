package serve

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/config"
)

// The container script holds values of hoist.yml (process commands,
// gunicorn arguments, python) and of the app's settings (STATIC_ROOT):
// each is refused, or the script parses (sh -n), has exactly the lines it
// has with plain values, and hands the value to docker as one argument,
// unchanged. Docker itself runs in the e2e tests; here the shell's quoting
// is what is checked, so the script runs with a docker that records its
// arguments.
func TestContainerScriptHostileValues(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the script calls sudo unless it runs as root")
	}
	bin := t.TempDir()
	record := filepath.Join(bin, "argv")
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte("#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$RECORD\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// argv runs the script in mode and returns what docker got.
	argv := func(s string, mode ...string) []string {
		t.Helper()
		f := filepath.Join(t.TempDir(), "script")
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", append([]string{f}, mode...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "RECORD="+record)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh script %v: %v %s", mode, err, out)
		}
		data, err := os.ReadFile(record)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	}
	const id = "20261122T080000Z-abcdef1"
	run := ContainerRun{Image: "sha256:0123", Ref: "hoist-shop:" + id, Python: "python3", Workdir: "/app", StaticRoot: "/app/static",
		SharedDirs: []string{"media"}, SharedFiles: []string{"db.sqlite3"}}
	script := func(c *config.Config, r ContainerRun) (string, error) {
		site := NewSite(c, c.Stages[0], "deploy")
		site.Processes = c.Processes
		return site.ContainerScript(id, r)
	}
	parse := func(yml string) (*config.Config, error) {
		return config.Parse("hoist.yml", []byte("app: shop\nsettings: shop.settings\nstrategy: container\n"+yml+"stages:\n  production:\n    hosts: [deploy@203.0.113.5]\n"))
	}
	base, err := parse("processes:\n  worker: celery -A shop worker\n")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := script(base, run)
	if err != nil {
		t.Fatal(err)
	}
	// check runs the script in mode and wants the value in docker's
	// arguments as want, whole.
	check := func(what, v, s, want string, mode ...string) {
		t.Helper()
		if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("%s = %s: the script does not parse: %v %s", what, short(v), err, out)
			return
		}
		if got, want := strings.Count(s, "\n"), strings.Count(plain, "\n"); got != want {
			t.Errorf("%s = %s: the script has %d lines, want %d:\n%s", what, short(v), got, want, s)
		}
		if args := argv(s, mode...); !slices.Contains(args, want) {
			t.Errorf("%s = %s: docker got %q, without %q as one argument", what, short(v), args, want)
		}
	}
	accepted := 0
	for _, v := range hostileStrings {
		const worker = "processes:\n  worker: celery -A shop worker\n"
		for _, f := range []struct {
			key, yml string
			mode     []string
			value    func(c *config.Config) string // as YAML read it
		}{
			{"processes.worker", "processes:\n  worker: " + yamlQuote(v, false) + "\n", []string{"process", "worker"},
				func(c *config.Config) string { return c.Processes[0].Command }},
			{"gunicorn.args", "gunicorn:\n  args: [" + yamlQuote(v, false) + "]\n" + worker, []string{"web"},
				func(c *config.Config) string { return c.Gunicorn.Args[0] }},
			{"python", "python: " + yamlQuote(v, false) + "\n" + worker, []string{"web"},
				func(c *config.Config) string { return c.Python }},
		} {
			c, err := parse(f.yml)
			if err != nil {
				var errs config.Errors
				if !errors.As(err, &errs) || !mentions(errs, f.key) {
					t.Errorf("%s = %s: refused, but no error names it: %v", f.key, short(v), err)
				}
				continue
			}
			r := run
			r.Python = c.Python
			s, err := script(c, r)
			if err != nil {
				continue // refused when rendering, with a reason
			}
			accepted++
			check(f.key, v, s, f.value(c), f.mode...)
		}
		// STATIC_ROOT comes from the app's settings, not from hoist.yml.
		r := run
		r.StaticRoot = v
		if s, err := script(base, r); err == nil {
			check("STATIC_ROOT", v, s, "/srv/shop/releases/"+id+"/.hoist-static:"+v, "exec", "true")
		}
	}
	if accepted == 0 {
		t.Fatal("every value was refused: the test checked nothing")
	}
}
