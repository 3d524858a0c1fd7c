package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fullFile = `app: notes
strategy: release
deploy_to: /srv/notes-app
project_dir: src
python: python3.11
system_site_packages: true
requirements: requirements/prod.txt
settings: config.settings.production
wsgi: config.wsgi:app
env:
  DJANGO_DEBUG: false
  WORKERS: 3
  DJANGO_ALLOWED_HOSTS: notes.example.com
secrets: [DJANGO_SECRET_KEY, DATABASE_URL]
secrets_file: .env.production
shared_files: [db.sqlite3]
shared_dirs: [media/]
keep_releases: 3
web:
  server: caddy
  domains: [notes.example.com, www.notes.example.com]
  port: 8080
  static_url: /s/
  media_url: /m/
  max_body_size: 20m
gunicorn:
  workers: 4
  timeout: 60
  graceful_timeout: 20
  args: [--max-requests, "1000"]
health:
  path: /health/
  status: 204
  contains: ok
  host: notes.example.com
  timeout: 2s
  retries: 3
stages:
  production:
    hosts:
      - deploy@203.0.113.5:2222
      - host: web2
        primary: true
      - host: deploy@[2001:db8::1]
        roles: [worker]
    deploy_to: /srv/notes-prod
    ref: v1.2.0
    env:
      DJANGO_SETTINGS_MODULE: config.settings.prod2
    secrets: [SENTRY_DSN]
    secrets_file: /etc/notes.env
    domains: []
  staging:
    hosts: [local]
`

func TestParseFull(t *testing.T) {
	c, err := Parse("hoist.yml", []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		App:                "notes",
		Strategy:           "release",
		DeployTo:           "/srv/notes-app",
		ProjectDir:         "src",
		Python:             "python3.11",
		SystemSitePackages: true,
		Requirements:       "requirements/prod.txt",
		Settings:           "config.settings.production",
		WSGI:               "config.wsgi:app",
		Env:                map[string]string{"DJANGO_DEBUG": "false", "WORKERS": "3", "DJANGO_ALLOWED_HOSTS": "notes.example.com"},
		Secrets:            []string{"DJANGO_SECRET_KEY", "DATABASE_URL"},
		SecretsFile:        ".env.production",
		SharedFiles:        []string{"db.sqlite3"},
		SharedDirs:         []string{"media"},
		KeepReleases:       3,
		Web: Web{Server: "caddy", Domains: []string{"notes.example.com", "www.notes.example.com"}, Port: 8080,
			StaticURL: "/s/", MediaURL: "/m/", MaxBodySize: "20m", TLS: "auto"},
		Gunicorn: Gunicorn{Workers: 4, Timeout: 60, GracefulTimeout: 20, Args: []string{"--max-requests", "1000"}, Standby: true},
		Health:   Health{Paths: []string{"/health/"}, Path: "/health/", Status: 204, Contains: "ok", Host: "notes.example.com", Timeout: 2 * time.Second, Retries: 3},
		Checks:   Checks{FailLevel: FailOnError},
		Stages: []*Stage{
			{
				Name: "production",
				Hosts: []*Host{
					{Address: "deploy@203.0.113.5:2222", Roles: []Role{WebRole}},
					{Address: "web2", Roles: []Role{WebRole}, Primary: true},
					{Address: "deploy@[2001:db8::1]", Roles: []Role{WorkerRole}},
				},
				DeployTo:    "/srv/notes-prod",
				Ref:         "v1.2.0",
				Strategy:    ReleaseStrategy,
				Env:         map[string]string{"DJANGO_SETTINGS_MODULE": "config.settings.prod2"},
				Secrets:     []string{"SENTRY_DSN"},
				SecretsFile: "/etc/notes.env",
				Domains:     []string{},
				Checks:      Checks{FailLevel: FailOnError},
				Tags:        Tags{Remote: "origin"},
			},
			{Name: "staging", Hosts: []*Host{{Address: "local", Roles: []Role{WebRole}}}, Strategy: ReleaseStrategy, Ref: "HEAD", Checks: Checks{FailLevel: FailOnError}, Tags: Tags{Remote: "origin"}},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%s\nwant\n%s", sprint(c), sprint(want))
	}
}

// sprint shows a config with its stages and hosts, for test failures.
func sprint(c *Config) string {
	s := fmt.Sprintf("%+v", *c)
	for _, st := range c.Stages {
		s += fmt.Sprintf("\n%+v", *st)
		for _, h := range st.Hosts {
			s += fmt.Sprintf("\n  %+v", *h)
		}
	}
	return s
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("hoist.yml", []byte("app: notes\nsettings: notes.settings\nstages:\n  production:\n    hosts: [deploy@example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		App:          "notes",
		Strategy:     "release",
		DeployTo:     "/srv/notes",
		ProjectDir:   ".",
		Python:       "python3",
		Settings:     "notes.settings",
		WSGI:         "notes.wsgi:application",
		KeepReleases: 5,
		Web:          Web{Server: "nginx", Port: 80, StaticURL: "/static/", MediaURL: "/media/", MaxBodySize: "10m", TLS: "auto"},
		Gunicorn:     Gunicorn{Workers: 2, Timeout: 30, GracefulTimeout: 30, Standby: true},
		Health:       Health{Paths: []string{"/"}, Path: "/", Status: 200, Timeout: 5 * time.Second, Retries: 10},
		Checks:       Checks{FailLevel: FailOnError},
		Stages:       []*Stage{{Name: "production", Hosts: []*Host{{Address: "deploy@example.com", Roles: []Role{WebRole}}}, Strategy: ReleaseStrategy, Ref: "HEAD", Checks: Checks{FailLevel: FailOnError}, Tags: Tags{Remote: "origin"}}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%s\nwant\n%s", sprint(c), sprint(want))
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "hoist init") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a directory without hoist.yml: %v", err)
	}
	yml := "app: notes\nsettings: notes.settings\nstages:\n  production:\n    hosts: [deploy@example.com]\n"
	write(t, filepath.Join(dir, FileName), yml, 0o644)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.Requirements != "" {
		t.Errorf("Dir %q Requirements %q, want %q and none", c.Dir, c.Requirements, dir)
	}
	// requirements.txt is the default only when the project has one.
	write(t, filepath.Join(dir, "requirements.txt"), "django\n", 0o644)
	if c, err = Load(dir); err != nil || c.Requirements != "requirements.txt" {
		t.Errorf("with requirements.txt: %q, %v", c.Requirements, err)
	}
	// An explicit empty requirements means nothing to install.
	write(t, filepath.Join(dir, FileName), yml+"requirements: \"\"\n", 0o644)
	if c, err = Load(dir); err != nil || c.Requirements != "" {
		t.Errorf(`requirements: "": %q, %v`, c.Requirements, err)
	}
	// A named file must exist when the project is known.
	write(t, filepath.Join(dir, FileName), yml+"requirements: req/prod.txt\n", 0o644)
	_, err = Load(dir)
	want := filepath.Join(dir, FileName) + `:6:15: requirements: no file req/prod.txt in ` + dir
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func write(t *testing.T, name, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}

// The problems a person is likely to make, all in one file: every one is
// reported, in file order, at the right place.
const brokenFile = `app: notes
settings: notes.settings
keep_releases: "five"
env:
  DJANGO_DEBUG: "false"
  DJANGO_SECRET_KEY: hunter2
stagse:
  production: {}
stages:
  production:
    hosts:
      - deploy@203.0.113.5
      - host: deploy@203.0.113.6
        primay: true
      - host: deploy@203.0.113.7
        primary: true
      - host: deploy@203.0.113.8
        primary: true
  staging:
    deploy_to: /srv/notes-staging
`

func TestParseBroken(t *testing.T) {
	_, err := Parse("hoist.yml", []byte(brokenFile))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %T %v", err, err)
	}
	want := []string{
		`hoist.yml:3:16: keep_releases: expected an integer, got "five"`,
		`hoist.yml:6:3: env.DJANGO_SECRET_KEY: looks like a secret: list it under secrets and keep its value out of hoist.yml`,
		`hoist.yml:7:1: unknown key "stagse" (did you mean "stages"?)`,
		`hoist.yml:14:9: stages.production.hosts[1]: unknown key "primay" (did you mean "primary"?)`,
		`hoist.yml:18:18: stages.production.hosts[3].primary: hosts[2] is already the primary: a stage has one primary, which runs migrations`,
		`hoist.yml:19:3: stages.staging: missing required key "hosts" (a list of addresses like deploy@203.0.113.5)`,
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("Errors.Error():\n%s", err)
	}
	// The parts are there for tools, not only in the text.
	if e := errs[3]; e.File != "hoist.yml" || e.Line != 14 || e.Col != 9 || e.Key != "stages.production.hosts[1]" {
		t.Errorf("fields: %+v", e)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("a secret-looking value leaked into the message")
	}
}

// head is enough of a file to be valid; each case adds to it.
const head = "app: notes\nsettings: notes.settings\nstages:\n  production:\n    hosts: [deploy@example.com]\n"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string // each an error line, in order
	}{
		{"syntax", "app: notes\n  bad: [\n", []string{"hoist.yml:1:6: invalid YAML: mapping value is not allowed in this context"}},
		{"duplicate key", "app: a\napp: b\n", []string{`hoist.yml:2:1: invalid YAML: mapping key "app" already defined at [1:1]`}},
		{"empty", "# nothing\n", []string{`hoist.yml:1:1: the file is empty: run "hoist init" to write a commented one`}},
		{"not a mapping", "- a\n", []string{`hoist.yml:1:1: expected a mapping, got a list`}},
		{"two documents", head + "---\napp: x\n", []string{`hoist.yml:6:1: hoist.yml holds one YAML document: remove the second one`}},
		{"required", "strategy: release\n", []string{
			`hoist.yml:1:1: missing required key "app"`,
			`hoist.yml:1:1: missing required key "settings" (your DJANGO_SETTINGS_MODULE, like mysite.settings)`,
			`hoist.yml:1:1: missing required key "stages" (at least one stage and its hosts)`,
		}},
		{"null app", "app:\n" + head[len("app: notes\n"):], []string{`hoist.yml:1:1: app: needs a value`}},
		{"app name", "app: My_App\n" + head[11:], []string{`hoist.yml:1:6: app: "My_App" is not a valid app name`}},
		{"list for string", head + "python: [python3]\n", []string{`hoist.yml:6:9: python: expected a string, got a list`}},
		{"mapping for list", head + "secrets: {A: b}\n", []string{`hoist.yml:6:10: secrets: expected a list, got a mapping`}},
		{"container keys need strategy container", head + "container:\n  workdir: /app\n", []string{`hoist.yml:6:1: container: is read only with strategy: container`}},
		{"container", head + "strategy: container\nrequirements: req.txt\ncontainer:\n  workdir: app\n  build_args:\n    API_TOKEN: x\n    1X: y\n", []string{
			`hoist.yml:7:1: requirements: is for strategy release: with strategy container the Dockerfile installs the app's packages`,
			`hoist.yml:9:12: container.workdir: "app" must be a clean absolute path inside the image, like /app`,
			`hoist.yml:11:5: container.build_args.API_TOKEN: looks like a secret: build arguments stay in the image's history; list it under secrets, which the container gets at run time`,
			`hoist.yml:12:5: container.build_args.1X: "1X" is not a build argument name: use letters, digits and _, not starting with a digit`,
		}},
		{"strategy", head + "strategy: containr\n", []string{`hoist.yml:6:11: strategy: "containr" is not one of: release, container (did you mean "container"?)`}},
		{"deploy_to relative", head + "deploy_to: srv/x\n", []string{`hoist.yml:6:12: deploy_to: "srv/x" must be an absolute path`}},
		{"deploy_to root", head + "deploy_to: /\n", []string{`hoist.yml:6:12: deploy_to: must not be /`}},
		{"deploy_to unclean", head + "deploy_to: /srv//x/\n", []string{`hoist.yml:6:12: deploy_to: write "/srv//x/" as "/srv/x"`}},
		{"project_dir up", head + "project_dir: ../x\n", []string{`hoist.yml:6:14: project_dir: "../x" must stay inside the project`}},
		{"settings", "app: notes\nsettings: notes/settings.py\nstages:\n  p:\n    hosts: [h]\n", []string{`hoist.yml:2:11: settings: "notes/settings.py" is not a python module name`}},
		{"wsgi", head + "wsgi: notes.wsgi application\n", []string{`hoist.yml:6:7: wsgi: "notes.wsgi application" is not a WSGI application`}},
		{"env name", head + "env:\n  DJANGO-DEBUG: 1\n", []string{`hoist.yml:7:3: env.DJANGO-DEBUG: "DJANGO-DEBUG" is not an environment variable name`}},
		{"env list value", head + "env:\n  HOSTS: [a, b]\n", []string{`hoist.yml:7:10: env.HOSTS: expected a string, number or boolean, got a list`}},
		{"env secret words", head + "env:\n  DB_PASSWORD: x\n  GITHUB_TOKEN: y\n  stripe_api_key: z\n", []string{
			`hoist.yml:7:3: env.DB_PASSWORD: looks like a secret`,
			`hoist.yml:8:3: env.GITHUB_TOKEN: looks like a secret`,
			`hoist.yml:9:3: env.stripe_api_key: looks like a secret`,
		}},
		{"settings in env", head + "env:\n  DJANGO_SETTINGS_MODULE: x.settings\n", []string{`hoist.yml:7:3: env.DJANGO_SETTINGS_MODULE: set it with the top-level settings: key`}},
		{"secrets", head + "env:\n  DATABASE_URL: x\nsecrets: [A, A, 1B, DATABASE_URL]\n", []string{
			`hoist.yml:8:14: secrets[1]: A is listed twice`,
			`hoist.yml:8:17: secrets[2]: "1B" is not an environment variable name`,
			`hoist.yml:8:21: secrets[3]: DATABASE_URL is also set under env: keep it in one place`,
		}},
		{"shared", head + "shared_files: [/etc/x, db.sqlite3]\nshared_dirs: [media, ./db.sqlite3, .]\n", []string{
			`hoist.yml:6:16: shared_files[0]: "/etc/x" must be relative to the project root, not absolute`,
			`hoist.yml:7:22: shared_dirs[1]: db.sqlite3 is already listed as shared_files[1]`,
			`hoist.yml:7:36: shared_dirs[2]: must name a file or directory inside the release`,
		}},
		{"keep_releases", head + "keep_releases: 1\n", []string{`hoist.yml:6:16: keep_releases: must be between 2 and 1000: one live release and one to roll back to, not 1`}},
		{"web", head + "web:\n  server: apache\n  port: 70000\n  static_url: static/\n  max_body_size: 10MB\n  domains: [https://example.com, example.com:8000, bad_name.com]\n  colour: red\n", []string{
			`hoist.yml:7:11: web.server: "apache" is not one of: nginx, caddy, none`,
			`hoist.yml:8:9: web.port: must be between 1 and 65535, not 70000`,
			`hoist.yml:9:15: web.static_url: "static/" must start and end with /`,
			`hoist.yml:10:18: web.max_body_size: "10MB" is not a size like 10m`,
			`hoist.yml:11:13: web.domains[0]: "https://example.com": write the host name alone, without http://`,
			`hoist.yml:11:34: web.domains[1]: "example.com:8000": write the host name alone, without a port`,
			`hoist.yml:11:52: web.domains[2]: "bad_name.com": not a host name`,
			`hoist.yml:12:3: web: unknown key "colour"`,
		}},
		{"gunicorn options hoist sets", head + "gunicorn:\n  args: [--workers=4, -t, \"60\", --graceful-timeout, \"90\", -D, --threads, \"4\", --preload]\n", []string{
			`hoist.yml:7:10: gunicorn.args[0]: --workers=4: hoist sets it: use gunicorn.workers`,
			`hoist.yml:7:23: gunicorn.args[1]: -t: hoist sets it: use gunicorn.timeout`,
			`hoist.yml:7:33: gunicorn.args[3]: --graceful-timeout: hoist sets it: use gunicorn.graceful_timeout, which also sets how long systemd waits for the old instance to stop`,
			`hoist.yml:7:59: gunicorn.args[5]: -D: systemd runs gunicorn and must keep it in the foreground; remove it`,
		}},
		{"gunicorn bind", head + "gunicorn:\n  args: [--bind, \"0.0.0.0:8000\"]\n", []string{
			`hoist.yml:7:10: gunicorn.args[0]: --bind: hoist binds gunicorn to the release's own socket, which the web server proxies to; remove it`,
		}},
		{"gunicorn", head + "gunicorn:\n  workers: 0\n  timeout: 1.5\n  args: [[x]]\n", []string{
			`hoist.yml:7:12: gunicorn.workers: must be between 1 and 1000, not 0`,
			`hoist.yml:8:12: gunicorn.timeout: expected an integer, got "1.5"`,
			`hoist.yml:9:10: gunicorn.args[0]: expected a string, got a list`,
		}},
		{"health", head + "health:\n  path: health\n  status: 42\n  timeout: soon\n  retries: 0\n", []string{
			`hoist.yml:7:9: health.path: "health" must start with /`,
			`hoist.yml:8:11: health.status: must be between 100 and 599: an HTTP status, not 42`,
			`hoist.yml:9:12: health.timeout: "soon" is not a duration like "5s" or "1m30s"`,
			`hoist.yml:10:12: health.retries: must be between 1 and 1000, not 0`,
		}},
		{"no stages", "app: notes\nsettings: notes.settings\nstages: {}\n", []string{`hoist.yml:3:9: stages: needs at least one stage`}},
		{"stages list", "app: notes\nsettings: notes.settings\nstages: [production]\n", []string{`hoist.yml:3:9: stages: expected a mapping of stage names to stages, got a list`}},
		{"stage name", "app: notes\nsettings: notes.settings\nstages:\n  Prod:\n    hosts: [h]\n", []string{`hoist.yml:4:3: stages.Prod: "Prod" is not a valid stage name`}},
		{"null hosts", "app: notes\nsettings: notes.settings\nstages:\n  p:\n    hosts:\n", []string{`hoist.yml:5:5: stages.p.hosts: needs a value (a list of addresses like deploy@203.0.113.5)`}},
		{"empty hosts", "app: notes\nsettings: notes.settings\nstages:\n  p:\n    hosts: []\n", []string{`hoist.yml:5:12: stages.p.hosts: needs at least one host`}},
		{"hosts", "app: notes\nsettings: notes.settings\nstages:\n  p:\n    hosts:\n      - deploy@\n      - [x]\n      - roles: [web]\n      - host: a\n        roles: [db]\n      - host: A:22\n        roles: []\n      - a:22\n", []string{
			`hoist.yml:6:9: stages.p.hosts[0]: invalid host address "deploy@": missing host`,
			`hoist.yml:7:9: stages.p.hosts[1]: expected an address like "deploy@203.0.113.5" or a mapping with host:, got a list`,
			`hoist.yml:8:9: stages.p.hosts[2]: missing required key "host" (an address like deploy@203.0.113.5)`,
			`hoist.yml:10:17: stages.p.hosts[3].roles[0]: unknown role "db": use web or worker`,
			`hoist.yml:12:16: stages.p.hosts[4].roles: needs at least one role: web or worker`,
			`hoist.yml:13:9: stages.p.hosts[5]: a:22 is already listed as hosts[4]`,
		}},
		{"stage keys", head + "    deploy_to: srv\n    ref: --upload-pack=x\n    env:\n      API_TOKEN: x\n      DJANGO_SETTINGS_MODULE: bad-name\n    secrets: [DJANGO_DEBUG]\n    domains: [x..y]\n    hots: []\nenv:\n  DJANGO_DEBUG: 1\n", []string{
			`hoist.yml:6:16: stages.production.deploy_to: "srv" must be an absolute path`,
			`hoist.yml:7:10: stages.production.ref: "--upload-pack=x" is not a git ref`,
			`hoist.yml:9:7: stages.production.env.API_TOKEN: looks like a secret`,
			`hoist.yml:10:31: stages.production.env.DJANGO_SETTINGS_MODULE: "bad-name" is not a python module name`,
			`hoist.yml:11:15: stages.production.secrets[0]: DJANGO_DEBUG is also set under env`,
			`hoist.yml:12:15: stages.production.domains[0]: "x..y": not a host name`,
			`hoist.yml:13:5: stages.production: unknown key "hots" (did you mean "hosts"?)`,
		}},
		{"stage env shadows a secret", head + "    env:\n      DATABASE_URL: x\nsecrets: [DATABASE_URL]\n", []string{
			`hoist.yml:7:7: stages.production.env.DATABASE_URL: DATABASE_URL is listed under secrets: keep it in one place`,
		}},
		{"unknown alias", head + "python: *py\n", []string{`hoist.yml:6:9: unknown alias *py: define &py before using it`}},
		{"prefix suggestion", head + "keep: 3\n", []string{`hoist.yml:6:1: unknown key "keep" (did you mean "keep_releases"?)`}},
		{"no suggestion", head + "colour: red\n", []string{`hoist.yml:6:1: unknown key "colour"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("hoist.yml", []byte(tt.yml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v (config %+v)", err, c)
			}
			if c != nil {
				t.Error("a config came back with errors")
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(tt.want), err)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, e, tt.want[i])
				}
			}
		})
	}
}

func TestParseYAMLFeatures(t *testing.T) {
	yml := `x-hosts: &web
  hosts: [deploy@203.0.113.5]
  env: {DJANGO_DEBUG: "false"}
app: notes
settings: notes.settings
python: !!str 3
env:
  folded: >-
    two
    lines
stages:
  production:
    <<: *web
    ref: main
  staging:
    <<: *web
    env: {DJANGO_DEBUG: "true"}
`
	c, err := Parse("hoist.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if c.Python != "3" || c.Env["folded"] != "two lines" {
		t.Errorf("python %q, folded %q", c.Python, c.Env["folded"])
	}
	p, s := c.Stages[0], c.Stages[1]
	if p.Name != "production" || p.Ref != "main" || len(p.Hosts) != 1 || p.Env["DJANGO_DEBUG"] != "false" {
		t.Errorf("production: %+v", p)
	}
	if s.Name != "staging" || len(s.Hosts) != 1 || s.Env["DJANGO_DEBUG"] != "true" {
		t.Errorf("staging: %+v", s)
	}
}

func TestHealthTimeoutSeconds(t *testing.T) {
	c, err := Parse("hoist.yml", []byte(head+"health:\n  timeout: 7\n"))
	if err != nil || c.Health.Timeout != 7*time.Second {
		t.Fatalf("%v %v", c.Health.Timeout, err)
	}
}

func TestStageHelpers(t *testing.T) {
	yml := `app: notes
settings: notes.settings
deploy_to: /srv/notes
env: {A: app, B: app}
secrets: [S1, S2]
secrets_file: secrets.env
web:
  domains: [example.com]
stages:
  production:
    hosts:
      - worker1
      - host: web1
        roles: [worker]
      - host: web2
      - host: web3
    deploy_to: /srv/notes-prod
    env: {B: stage, C: stage}
    secrets: [S3, S1]
    secrets_file: /etc/prod.env
  staging:
    hosts:
      - host: w
        roles: [worker]
      - host: p
        primary: true
    domains: []
  worker:
    hosts:
      - host: w
        roles: [worker]
`
	c, err := Parse("hoist.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	c.Dir = "/proj"
	prod, err := c.Stage("production")
	if err != nil {
		t.Fatal(err)
	}
	staging, _ := c.Stage("staging")
	worker, _ := c.Stage("worker")
	if _, err := c.Stage("prod"); err == nil || err.Error() != `unknown stage "prod": hoist.yml has production, staging, worker (did you mean "production"?)` {
		t.Errorf("unknown stage: %v", err)
	}
	if _, err := c.Stage(""); err == nil || err.Error() != "name a stage: production, staging, worker" {
		t.Errorf("no stage named: %v", err)
	}
	if got := prod.Primary().Address; got != "worker1" {
		t.Errorf("production primary %s, want the first web host worker1", got)
	}
	if got := staging.Primary().Address; got != "p" {
		t.Errorf("staging primary %s, want p", got)
	}
	if got := worker.Primary().Address; got != "w" {
		t.Errorf("worker primary %s, want w", got)
	}
	if (&Stage{}).Primary() != nil {
		t.Error("no hosts, yet a primary")
	}
	if c.DeployPath(prod) != "/srv/notes-prod" || c.DeployPath(staging) != "/srv/notes" {
		t.Errorf("deploy paths %s %s", c.DeployPath(prod), c.DeployPath(staging))
	}
	wantEnv := map[string]string{"A": "app", "B": "stage", "C": "stage", "DJANGO_SETTINGS_MODULE": "notes.settings"}
	if got := c.StageEnv(prod); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("StageEnv %v", got)
	}
	if got := c.StageSecrets(prod); !reflect.DeepEqual(got, []string{"S1", "S2", "S3"}) {
		t.Errorf("StageSecrets %v", got)
	}
	if got := c.SecretsFileFor(prod); got != "/etc/prod.env" {
		t.Errorf("SecretsFileFor(production) %s", got)
	}
	if got := c.SecretsFileFor(staging); got != filepath.Join("/proj", "secrets.env") {
		t.Errorf("SecretsFileFor(staging) %s", got)
	}
	if got := c.Domains(prod); !reflect.DeepEqual(got, []string{"example.com"}) {
		t.Errorf("Domains(production) %v", got)
	}
	if got := c.Domains(staging); len(got) != 0 {
		t.Errorf("Domains(staging) %v, want none: the stage says []", got)
	}
	one := &Config{Stages: []*Stage{{Name: "only"}}}
	if s, err := one.Stage(""); err != nil || s.Name != "only" {
		t.Errorf("the only stage: %v %v", s, err)
	}
	c.SecretsFile = ""
	if got := c.SecretsFileFor(staging); got != "" {
		t.Errorf("no secrets file: %q", got)
	}
}

// Every value hoist.yml gives is written into a unit, a site, an env file
// or a request line somewhere; these reached them raw before.
func TestParseRefusesInjection(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"deploy_to newline", head + "deploy_to: \"/srv/x\\nExecStartPre=+/bin/sh -c id\"\n", []string{
			`hoist.yml:6:12: deploy_to: must not hold the control character U+000A`}},
		{"deploy_to nginx", head + "deploy_to: \"/srv/x;}location /p {alias /etc/;\"\n", []string{
			`hoist.yml:6:12: deploy_to: "/srv/x;}location /p {alias /etc/;": use only letters, digits, '.', '_', '-' and '/'`}},
		{"deploy_to space", head + "deploy_to: /srv/my app\n", []string{`hoist.yml:6:12: deploy_to: "/srv/my app": use only`}},
		{"deploy_to dots", head + "deploy_to: /srv/../etc\n", []string{`hoist.yml:6:12: deploy_to: write "/srv/../etc" as "/etc"`}},
		{"deploy_to long", head + "deploy_to: /" + strings.Repeat("a", 64) + "\n", []string{`hoist.yml:6:12: deploy_to: "/aaaa`}},
		{"stage deploy_to", head + "    deploy_to: \"/srv/a%i$x\"\n", []string{`hoist.yml:6:16: stages.production.deploy_to: "/srv/a%i$x": use only`}},
		{"args newline", head + "gunicorn:\n  args: [\"--x\\n[Service]\"]\n", []string{`hoist.yml:7:10: gunicorn.args[0]: must not hold the control character U+000A`}},
		{"env", head + "env:\n  A: \"a\\rb\"\n  B: \"a\\0b\"\n  C: \"a\\u2028b\"\n  D: \"tab\\there\"\n", []string{
			`hoist.yml:7:6: env.A: must not hold the control character U+000D`,
			`hoist.yml:8:6: env.B: must not hold the control character U+0000`,
			`hoist.yml:9:6: env.C: must not hold the control character U+2028`,
			`hoist.yml:10:6: env.D: must not hold the control character U+0009`,
		}},
		{"literal block", head + "env:\n  A: |\n    two\n    lines\n", []string{`hoist.yml:7:6: env.A: must not hold the control character U+000A`}},
		{"health", head + "health:\n  path: \"/ HTTP/1.0\\r\\nX: y\"\n  host: \"a b\"\n  timeout: 1h\n", []string{
			`hoist.yml:7:9: health.path: must not hold the control character U+000D`,
			`hoist.yml:8:9: health.host: "a b" is not a Host header`,
			`hoist.yml:9:12: health.timeout: must be more than 0s and at most 10m, not 1h0m0s`,
		}},
		{"health path space", head + "health:\n  path: /a b\n", []string{`hoist.yml:7:9: health.path: "/a b" is not a URL path`}},
		{"numbers", head + "gunicorn:\n  timeout: 9223372036854775807\n  graceful_timeout: -5\n  workers: 100000\nweb:\n  max_body_size: 99999999999999999999g\n", []string{
			`hoist.yml:7:12: gunicorn.timeout: must be between 1 and 86400: seconds, at most a day, not 9223372036854775807`,
			`hoist.yml:8:21: gunicorn.graceful_timeout: must be between 1 and 86400`,
			`hoist.yml:9:12: gunicorn.workers: must be between 1 and 1000`,
			`hoist.yml:11:18: web.max_body_size: "99999999999999999999g" is not a size like 10m`,
		}},
		{"urls", head + "web:\n  static_url: \"/s;}/\"\n  media_url: /\n", []string{
			`hoist.yml:7:15: web.static_url: "/s;}/": use only letters`,
			`hoist.yml:8:14: web.media_url: must not be /`,
		}},
		{"wsgi", head + "wsgi: \"app:x\\u00a0y\"\n", []string{`hoist.yml:6:7: wsgi: "app:x\u00a0y" is not a WSGI application`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, tt.yml, tt.want) })
	}
}

// wantErrors parses yml and checks its errors start as want, in order.
func wantErrors(t *testing.T, yml string, want []string) {
	t.Helper()
	c, err := Parse("hoist.yml", []byte(yml))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v (config %s)", err, sprint(c))
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(want), err)
	}
	for i, e := range errs {
		if !strings.HasPrefix(e.Error(), want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, e, want[i])
		}
	}
}

// With media and media/avatars both shared, the build made the second link
// through the first one, inside shared/, and its rm -rf deleted uploads.
func TestParseRefusesOverlappingShared(t *testing.T) {
	wantErrors(t, head+"project_dir: src\nshared_files: [media/x.db, data]\nshared_dirs: [media, data/, media/avatars, .hoist-media, .venv/lib, src, src/static, ..]\n", []string{
		`hoist.yml:8:15: shared_dirs[0]: media overlaps media/x.db (shared_files[0]): shared paths must not be inside one another`,
		`hoist.yml:8:22: shared_dirs[1]: data is already listed as shared_files[1]`,
		`hoist.yml:8:29: shared_dirs[2]: media/avatars overlaps media (shared_dirs[0])`,
		`hoist.yml:8:44: shared_dirs[3]: .hoist-media is where hoist keeps the release's own links`,
		`hoist.yml:8:58: shared_dirs[4]: .venv/lib is where hoist keeps`,
		`hoist.yml:8:69: shared_dirs[5]: src holds project_dir src`,
		`hoist.yml:8:86: shared_dirs[7]: ".." must stay inside the project`,
	})
	wantErrors(t, head+"shared_dirs: [media, media/avatars, \"media x\"]\n", []string{
		`hoist.yml:6:22: shared_dirs[1]: media/avatars overlaps media (shared_dirs[0])`,
		`hoist.yml:6:37: shared_dirs[2]: "media x": use only letters`,
	})
	c, err := Parse("hoist.yml", []byte(head+"shared_files: [media.db]\nshared_dirs: [media, media2/avatars]\n"))
	if err != nil || strings.Join(c.SharedDirs, ",") != "media,media2/avatars" {
		t.Errorf("paths that only share a prefix are fine: %v", err)
	}
}

func TestHealthPaths(t *testing.T) {
	c, err := Parse("hoist.yml", []byte(head+"health:\n  paths: [/, \"/db/?q=1\"]\n"))
	if err != nil || strings.Join(c.Health.Paths, " ") != "/ /db/?q=1" || c.Health.Path != "/" {
		t.Errorf("paths: %+v %v", c, err)
	}
	c, err = Parse("hoist.yml", []byte(head+"health:\n  path: /up\n"))
	if err != nil || strings.Join(c.Health.Paths, " ") != "/up" {
		t.Errorf("path is a one-item paths: %+v %v", c, err)
	}
	wantErrors(t, head+"health:\n  path: /\n  paths: [/a]\n", []string{`hoist.yml:8:3: health.paths: health.path is one path of health.paths: set one of them, not both`})
	wantErrors(t, head+"health:\n  paths: []\n", []string{`hoist.yml:7:10: health.paths: needs at least one path`})
	wantErrors(t, head+"health:\n  paths: [/, x, \"/a\\nb\"]\n", []string{
		`hoist.yml:7:14: health.paths[1]: "x" must start with /`,
		`hoist.yml:7:17: health.paths[2]: must not hold the control character U+000A`,
	})
}

func TestProcessesCommandsAndChecks(t *testing.T) {
	c, err := Parse("hoist.yml", []byte(`app: shop
settings: shop.settings
processes:
  worker: celery -A shop worker -l info
  alerts:
    command: python manage.py sendalerts
    roles: [web]
    stop_timeout: 90s
build: [python manage.py compress]
release: [python manage.py loaddata fixtures.json]
hooks:
  after_deploy: [./notify.sh]
checks:
  silence: [security.W004]
stages:
  staging:
    hosts: [deploy@203.0.113.5]
    checks:
      fail_level: warning
  production:
    hosts: [deploy@203.0.113.6]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Processes) != 2 || c.Processes[0].Name != "worker" || c.Processes[0].Command != "celery -A shop worker -l info" ||
		c.Processes[0].StopTimeout != 30*time.Second || c.Processes[0].Roles != nil {
		t.Errorf("worker = %+v", c.Processes[0])
	}
	if p := c.Processes[1]; p.Command != "python manage.py sendalerts" || p.StopTimeout != 90*time.Second || len(p.Roles) != 1 || p.Roles[0] != WebRole {
		t.Errorf("alerts = %+v", p)
	}
	if len(c.Build) != 1 || len(c.Release) != 1 || len(c.Hooks.AfterDeploy) != 1 {
		t.Errorf("commands: %v %v %+v", c.Build, c.Release, c.Hooks)
	}
	staging, production := c.Stages[0].Checks, c.Stages[1].Checks
	if staging.FailLevel != FailOnWarning || production.FailLevel != FailOnError || len(production.Silence) != 1 || len(staging.Silence) != 1 {
		t.Errorf("checks: staging %+v, production %+v", staging, production)
	}
}
