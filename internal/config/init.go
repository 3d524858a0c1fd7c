package config

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// Project is what hoist init learns from a Django project's files.
type Project struct {
	App          string // a valid app name
	Settings     string // DJANGO_SETTINGS_MODULE
	Requirements string // relative to the project root; "" when none was found
	ProjectDir   string // where manage.py is, relative to the project root: "." or one level down
}

var settingsRe = regexp.MustCompile(`os\.environ\.setdefault\(\s*['"]DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z_][A-Za-z0-9_.]*)['"]`)

// Detect looks at the Django project in dir: manage.py (in dir or one level
// down), the settings module manage.py sets, and a requirements file.
func Detect(dir string) (Project, error) {
	var p Project
	pd, err := findManage(dir)
	if err != nil {
		return p, err
	}
	p.ProjectDir = pd
	manage := filepath.Join(dir, filepath.FromSlash(pd), "manage.py")
	src, err := os.ReadFile(manage)
	if err != nil {
		return p, err
	}
	if m := settingsRe.FindSubmatch(src); m != nil {
		p.Settings = string(m[1])
	} else if p.Settings = guessSettings(filepath.Join(dir, filepath.FromSlash(pd))); p.Settings == "" {
		return p, fmt.Errorf("%s does not set DJANGO_SETTINGS_MODULE with os.environ.setdefault: write settings: in %s yourself", manage, FileName)
	}
	p.App = appName(p.Settings, dir)
	p.Requirements = findRequirements(dir, pd)
	return p, nil
}

// skipDirs are directories below a project root that never hold the
// project's own manage.py.
var skipDirs = []string{"venv", "env", "node_modules", "site-packages", "build", "dist"}

func findManage(dir string) (string, error) {
	if isFile(filepath.Join(dir, "manage.py")) {
		return ".", nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || slices.Contains(skipDirs, name) {
			continue
		}
		if isFile(filepath.Join(dir, name, "manage.py")) {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no manage.py in %s or the directories just below it: run hoist init at the root of your Django project", dir)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("manage.py in %s: run hoist init in the directory of one project", strings.Join(found, " and "))
}

// guessSettings finds the one settings module next to manage.py when
// manage.py does not name it.
func guessSettings(projectDir string) string {
	a, _ := filepath.Glob(filepath.Join(projectDir, "*", "settings.py"))
	b, _ := filepath.Glob(filepath.Join(projectDir, "*", "settings", "__init__.py"))
	var pkgs []string
	for _, m := range append(a, b...) {
		rel, _ := filepath.Rel(projectDir, m)
		pkg, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		pkgs = append(pkgs, pkg)
	}
	if len(pkgs) != 1 || !moduleRe.MatchString(pkgs[0]) {
		return ""
	}
	return pkgs[0] + ".settings"
}

// genericPackages are settings packages named after their role, not the
// project (cookiecutter-django's "config", for one): the directory name
// says more.
var genericPackages = []string{"config", "conf", "core", "project", "settings", "src", "app", "main", "django_project", "website", "site"}

func appName(settings, dir string) string {
	pkg, _, _ := strings.Cut(settings, ".")
	if slices.Contains(genericPackages, pkg) {
		if abs, err := filepath.Abs(dir); err == nil && filepath.Base(abs) != string(filepath.Separator) {
			pkg = filepath.Base(abs)
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(pkg) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-':
			b.WriteRune(r)
		case r == '_' || r == ' ' || r == '.':
			b.WriteRune('-')
		}
	}
	name := strings.TrimLeft(b.String(), "0123456789-")
	name = strings.TrimRight(name[:min(len(name), 40)], "-")
	if !appRe.MatchString(name) {
		return "app"
	}
	return name
}

var requirementFiles = []string{"requirements.txt", "requirements/production.txt", "requirements/prod.txt", "requirements/base.txt"}

func findRequirements(dir, projectDir string) string {
	for _, r := range requirementFiles {
		for _, base := range []string{".", projectDir} {
			p := path.Join(base, r)
			if isFile(filepath.Join(dir, filepath.FromSlash(p))) {
				return p
			}
		}
	}
	return ""
}

// InitTemplate is the hoist.yml that hoist init writes: the detected values,
// every other key commented out at its default, and one production stage
// with a placeholder host.
func InitTemplate(p Project) []byte {
	pkg, _, _ := strings.Cut(p.Settings, ".")
	if p.ProjectDir == "" {
		p.ProjectDir = "."
	}
	var b bytes.Buffer
	err := initTemplate.Execute(&b, map[string]string{
		"App":          yamlScalar(p.App),
		"Settings":     yamlScalar(p.Settings),
		"WSGI":         yamlScalar(pkg + ".wsgi:application"),
		"ProjectDir":   yamlScalar(p.ProjectDir),
		"Requirements": yamlScalar(p.Requirements),
		"DeployTo":     yamlScalar("/srv/" + p.App),
	})
	if err != nil {
		panic(err) // the template is fixed and its data are strings
	}
	return b.Bytes()
}

var plainRe = regexp.MustCompile(`^[A-Za-z_./][A-Za-z0-9_./:-]*$`)

// yamlScalar writes s so YAML reads it back as the same string: plain when
// that is safe, else double-quoted (Go's quoting is valid YAML for text).
func yamlScalar(s string) string {
	switch strings.ToLower(s) {
	case "", "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		if s == "" {
			return ""
		}
		return strconv.Quote(s)
	}
	if plainRe.MatchString(s) && !strings.HasSuffix(s, ":") && !strings.Contains(s, ": ") {
		return s
	}
	return strconv.Quote(s)
}

var initTemplate = template.Must(template.New(FileName).Parse(`# hoist.yml tells hoist how to deploy this Django project to your servers.
# A commented-out key shows its default: remove the "# " to change it.

# The app's name. It names the systemd units and the directories on the servers.
app: {{.App}}
# DJANGO_SETTINGS_MODULE on the servers.
settings: {{.Settings}}
# The WSGI application gunicorn serves.
# wsgi: {{.WSGI}}
# The directory holding manage.py, relative to this file.
{{if ne .ProjectDir "."}}project_dir: {{.ProjectDir}}{{else}}# project_dir: .{{end}}
# The requirements file pip installs in each release's virtualenv ("" for none).
{{if .Requirements}}requirements: {{.Requirements}}{{else}}# requirements: requirements.txt{{end}}
# The python on the servers that builds the virtualenv (it needs venv).
# python: python3
# Let the virtualenv see python packages installed on the servers, e.g. by apt.
# system_site_packages: false
# How a release is built: "release" ships the git commit and builds a virtualenv
# on each server (the only strategy this version has).
# strategy: release
# The directory on the servers for releases, shared files and the live release.
# deploy_to: {{.DeployTo}}
# How many releases each server keeps, to roll back to.
# keep_releases: 5

# Environment variables for the app on every stage (none by default). Plain
# settings only: anything secret goes under secrets.
# env:
#   DJANGO_DEBUG: "false"
#   DJANGO_ALLOWED_HOSTS: example.com

# Names of secret environment variables. Their values never go in this file:
# hoist reads them from your environment when you deploy, else from secrets_file.
secrets: [DJANGO_SECRET_KEY]
# A file of KEY=VALUE lines holding secret values, relative to this file (none
# by default). Keep it out of git and private to you: chmod 600.
# secrets_file: .env.production

# Paths in the project that survive from one release to the next (kept in
# shared/ on each server), like a sqlite database or uploaded media.
# shared_files: []
# shared_dirs: []

# The web server in front of gunicorn on each web host.
# web:
#   server: nginx         # nginx, caddy, or none (you bring your own)
#   domains: []           # host names to answer, like [example.com]; empty answers any
#   port: 80
#   static_url: /static/  # your STATIC_URL
#   media_url: /media/    # your MEDIA_URL
#   max_body_size: 10m    # largest request body, for uploads
#   tls: auto             # caddy only: auto (Let's Encrypt), internal (Caddy's own CA), off

# How gunicorn runs the app.
# gunicorn:
#   workers: 2
#   timeout: 30           # seconds a request may take
#   graceful_timeout: 30  # seconds requests get to finish when a release stops
#   args: []              # more gunicorn options, like ["--max-requests", "1000"]

# The check a new release must pass before it gets any traffic.
# health:
#   paths: [/]            # each must answer; best pages that read the database
#   status: 200           # the HTTP status expected
#   contains: ""          # text the page must contain
#   host: ""              # Host header; default: the first domain, else ALLOWED_HOSTS
#   timeout: 5s           # per attempt
#   retries: 10

# Where to deploy: each stage is a named set of servers.
stages:
  production:
    hosts:
      # user@host[:port], an ~/.ssh/config alias, or local for this machine.
      - deploy@your-server.example.com
      # A host with options:
      # - host: deploy@203.0.113.6:2222
      #   roles: [web]        # web (the default) and/or worker
      #   primary: true       # runs migrations; default: the first web host
    # ref: HEAD                 # the git ref deployed when you name none
    # This stage's own deploy_to, domains and secrets_file replace the ones
    # above; its env and secrets add to them.
    # deploy_to: {{.DeployTo}}
    # domains: []
    # secrets_file: .env.production
    # env: {}
    # secrets: []
  # Another stage, for example:
  # staging:
  #   hosts: [deploy@staging.example.com]
`))
