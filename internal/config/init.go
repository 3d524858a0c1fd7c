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
	// Found is what the settings files say; nil when they could not be
	// read, and init proposes the usual names instead.
	Found *Findings
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
	p.Found = ScanSettings(dir, p)
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
// what the settings read, every other key commented out at its default, and
// one production stage with a placeholder host.
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
		"StaticRoot":   staticRootNote(p.Found),
		"Env":          envBlock(p.Found),
		"Secrets":      secretsBlock(p.Found),
		"Build":        buildBlock(p.Found),
		"Processes":    processesBlock(p.Found),
	})
	if err != nil {
		panic(err) // the template is fixed and its data are strings
	}
	return b.Bytes()
}

// Placeholder is the value init proposes for a variable the settings need
// and give no default: something to replace, not a value that looks real.
const Placeholder = "change-me"

// readBy says where the settings read a variable, for a comment.
func readBy(v EnvVar) string {
	where := v.Where
	more := ""
	if len(where) > 3 {
		where, more = where[:3], fmt.Sprintf(" and %d more", len(v.Where)-3)
	}
	return "read by " + comment(strings.Join(where, ", ")) + more
}

// comment keeps text from a file name on one comment line.
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// staticRootNote tells the user to set STATIC_ROOT when the settings do not:
// collectstatic refuses to run without it.
func staticRootNote(f *Findings) string {
	if f == nil || f.StaticRoot {
		return ""
	}
	return fmt.Sprintf(`# Your settings (%s) set no STATIC_ROOT: collectstatic, which
# hoist runs in every release, needs it. Set it there, for example:
#   STATIC_ROOT = BASE_DIR / "static"
`, comment(strings.Join(f.Files, ", ")))
}

func envBlock(f *Findings) string {
	const head = "# Environment variables for the app on every stage. Plain settings only:\n# anything secret goes under secrets.\n"
	if f == nil {
		return head + "# env:\n#   DJANGO_DEBUG: \"false\"\n#   DJANGO_ALLOWED_HOSTS: example.com\n"
	}
	var required, optional []EnvVar
	for _, v := range f.Vars {
		switch {
		case v.Secret:
		case v.Optional:
			optional = append(optional, v)
		default:
			required = append(required, v)
		}
	}
	if len(required)+len(optional) == 0 {
		return head + "# Your settings read no other environment variable.\n# env:\n#   NAME: value\n"
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("# hoist init found these in your settings.")
	if len(required) > 0 {
		fmt.Fprintf(&b, " Replace each %s with its value.", Placeholder)
	}
	if len(optional) > 0 {
		// Writing a default out would change the app: os.environ.get("DEBUG",
		// False) is False unset, but the true string "False" once set.
		b.WriteString("\n# The commented ones have a default in your settings (shown when it is\n# plain); uncomment one to set it.")
	}
	b.WriteString("\n")
	indent := "#   "
	if len(required) > 0 {
		b.WriteString("env:\n")
		indent = "  # "
	} else {
		b.WriteString("# env:\n")
	}
	for _, v := range required {
		fmt.Fprintf(&b, "  %s: %s  # %s\n", yamlScalar(v.Name), Placeholder, readBy(v))
	}
	for _, v := range optional {
		value := yamlScalar(v.Default)
		if v.Default == "" { // none, None, "" or an expression
			value = Placeholder
		}
		fmt.Fprintf(&b, "%s%s: %s  # %s\n", indent, yamlScalar(v.Name), value, readBy(v))
	}
	return b.String()
}

func secretsBlock(f *Findings) string {
	const head = "# Names of secret environment variables. Their values never go in this file:\n# hoist reads them from your environment when you deploy, else from secrets_file.\n"
	if f == nil {
		return head + "secrets: [DJANGO_SECRET_KEY]\n"
	}
	var b strings.Builder
	b.WriteString(head)
	for _, v := range f.Vars {
		if !v.Secret {
			continue
		}
		if b.Len() == len(head) {
			b.WriteString("# hoist init found these in your settings. A default there is for development:\n# each must be set for a deploy.\nsecrets:\n")
		}
		fmt.Fprintf(&b, "  - %s  # %s\n", yamlScalar(v.Name), readBy(v))
	}
	if b.Len() == len(head) {
		b.WriteString(`# Your settings read no secret from the environment. Keep SECRET_KEY out of
# the repository: make them read it, like
# SECRET_KEY = os.environ["DJANGO_SECRET_KEY"], and list it here.
# secrets: [DJANGO_SECRET_KEY]
`)
	}
	return b.String()
}

func buildBlock(f *Findings) string {
	const head = "# Shell commands run in every new release on every host, after collectstatic and\n# before any of its processes start (none by default).\n"
	switch {
	case f == nil || !f.Compressor:
		return head + "# build:\n#   - python manage.py compilemessages\n"
	case f.CompressOffline:
		return head + `# django-compressor is in your INSTALLED_APPS, with COMPRESS_OFFLINE: every page
# with {% compress %} fails until manage.py compress has run in the release.
build:
  - python manage.py compress
`
	}
	return head + `# django-compressor is in your INSTALLED_APPS. With COMPRESS_OFFLINE = True in
# your settings (compress once per release, not on requests), uncomment this:
# manage.py compress refuses to run without it.
# build:
#   - python manage.py compress
`
}

func processesBlock(f *Findings) string {
	const head = `# Background processes, one systemd unit each per release, in the release's
# virtualenv and environment: name: command, or a mapping with command, roles
# (default: hosts with the worker role, else the primary) and stop_timeout
# (how long a stop waits for it to finish, default 30s). None by default.
`
	const example = `#   alerts:
#     command: python manage.py sendalerts
#     roles: [worker]
#     stop_timeout: 30s
`
	if f == nil || f.Celery == "" {
		return head + "# processes:\n#   worker: python -m celery -A proj worker -l info\n" + example
	}
	// python -m celery runs the virtualenv's python: a celery script would
	// be missing when celery comes from the system's packages.
	return head + fmt.Sprintf(`# hoist init found Celery (%s): this runs its
# worker. For periodic tasks, run celery beat on one host only.
processes:
  worker: python -m celery -A %s worker -l info
`, comment(f.CeleryFile), f.Celery) +
		strings.ReplaceAll(example, "#   ", "  # ")
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
{{.StaticRoot -}}
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
# on each server; "container" builds an image from your Dockerfile here and
# ships the layers each server lacks over SSH (see container: in the README).
# strategy: release
# The directory on the servers for releases, shared files and the live release.
# deploy_to: {{.DeployTo}}
# How many releases each server keeps, to roll back to.
# keep_releases: 5

{{.Env}}
{{.Secrets -}}
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

{{.Build}}
# Shell commands run once per deploy on the primary host, after migrating and
# before the switch (none by default).
# release:
#   - python manage.py createcachetable

{{.Processes}}
# Debian packages hoist setup installs on every host, only those missing (none
# by default), like the libraries your requirements link to.
# packages:
#   - libpq5

# Shell commands run on this machine, with HOIST_STAGE, HOIST_RELEASE,
# HOIST_COMMIT and HOIST_HOSTS set (none by default).
# hooks:
#   before_deploy: []
#   after_deploy: []
#   on_failure: []

# Django's checks before a deploy: "error" stops it on errors, DEBUG on and a
# weak SECRET_KEY, and shows the other warnings; "warning" stops it on those too.
# checks:
#   fail_level: error
#   silence: []           # check ids never shown, like [security.W004]

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
    # checks: {}              # its fail_level and silence replace the ones above
  # Another stage, for example:
  # staging:
  #   hosts: [deploy@staging.example.com]
`))

// Reading the settings. hoist init proposes env and secrets from what the
// settings files actually read, so a project whose settings read APP_SECRET
// is not told to set DJANGO_SECRET_KEY. The files are read as text, without
// running them: the project's python and its packages may not be here, and
// settings that raise without their variables are the usual case.

// Findings are what hoist init read in the project's settings files.
type Findings struct {
	Files           []string // the settings files read, relative to the project root
	Vars            []EnvVar // the environment variables they read, in the order first read
	Compressor      bool     // "compressor" is in the settings (INSTALLED_APPS)
	CompressOffline bool     // they set COMPRESS_OFFLINE, to something other than False
	StaticRoot      bool     // they set STATIC_ROOT
	Celery          string   // the celery -A argument for the project's Celery app; "" when none
	CeleryFile      string   // the file that says the project uses Celery
}

// EnvVar is one environment variable the settings read.
type EnvVar struct {
	Name     string
	Secret   bool     // proposed under secrets, not env
	Optional bool     // every read has a default, so the app starts without it
	Default  string   // the settings' default when it is a plain literal, as text
	Where    []string // file:line of each read, relative to the project root
}

// pyToken is one token of python source. Only what finding environment reads
// needs is kept: no indentation tokens, no newlines, no comments.
type pyToken struct {
	kind  byte   // 'n' name, 's' string, 'f' f-string, '0' number, 'o' operator
	text  string // the name, operator, number, or the string's contents (escapes kept as written)
	line  int
	depth int  // brackets open around it (a bracket itself counts as outside)
	first bool // the first token of a line outside brackets: a statement starts here
	col   int  // its column, for first tokens: the statement's indentation
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// pyTokens splits python source into tokens. It is forgiving: broken source
// gives odd tokens, never an error, since a guess is all init needs.
func pyTokens(src string) []pyToken {
	var toks []pyToken
	line, depth, lineStart := 1, 0, 0
	first := true
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			i++
			line++
			lineStart = i
			first = first || depth == 0
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
			continue
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n': // a continued line
			i += 2
			line++
			lineStart = i
			continue
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		t := pyToken{line: line, depth: depth, first: first, col: i - lineStart}
		first = false
		j := i + 1
		switch {
		case isNameByte(c):
			for j < len(src) && (isNameByte(src[j]) || isDigit(src[j])) {
				j++
			}
			word := src[i:j]
			t.kind, t.text = 'n', word
			if j < len(src) && (src[j] == '"' || src[j] == '\'') && isStringPrefix(word) {
				t.kind = 's'
				if strings.ContainsAny(word, "fF") {
					t.kind = 'f' // its value is computed: never a constant name
				}
				t.text, j = pyString(src, j)
			}
		case c == '"' || c == '\'':
			t.kind = 's'
			t.text, j = pyString(src, i)
		case isDigit(c) || c == '.' && j < len(src) && isDigit(src[j]):
			for j < len(src) && (isNameByte(src[j]) || isDigit(src[j]) || src[j] == '.') {
				j++
			}
			t.kind, t.text = '0', src[i:j]
		default:
			t.kind, t.text = 'o', src[i:j]
			switch {
			case strings.IndexByte("([{", c) >= 0:
				depth++
			case strings.IndexByte(")]}", c) >= 0:
				depth = max(depth-1, 0)
				t.depth = depth
			case j < len(src) && src[j] == '=' && strings.IndexByte("=!<>+-*/%&|^:@", c) >= 0:
				// "==" is no assignment and "x=" in "x==y" no keyword argument.
				j++
				t.text = src[i:j]
			}
		}
		line += strings.Count(src[i:j], "\n")
		if k := strings.LastIndexByte(src[i:j], '\n'); k >= 0 {
			lineStart = i + k + 1
		}
		toks = append(toks, t)
		i = j
	}
	return toks
}

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "f", "br", "rb", "fr", "rf":
		return true
	}
	return false
}

// pyString reads the string literal whose quote is at src[q]: its contents
// and the index just after it.
func pyString(src string, q int) (string, int) {
	quote := src[q : q+1]
	if strings.HasPrefix(src[q:], quote+quote+quote) {
		quote = quote + quote + quote
	}
	var b strings.Builder
	j := q + len(quote)
	for j < len(src) {
		switch {
		case src[j] == '\\' && j+1 < len(src):
			b.WriteString(src[j : j+2])
			j += 2
			continue
		case strings.HasPrefix(src[j:], quote):
			return b.String(), j + len(quote)
		case src[j] == '\n' && len(quote) == 1:
			return b.String(), j // unterminated: stop at the line's end
		}
		b.WriteByte(src[j])
		j++
	}
	return b.String(), j
}

// pyCall is the arguments of a call or subscript: each positional argument
// and each keyword argument as its tokens.
type pyCall struct {
	pos []([]pyToken)
	kw  map[string][]pyToken
}

// pyArgs reads the arguments of the bracket at toks[open], and says where
// its closing bracket is.
func pyArgs(toks []pyToken, open int) (pyCall, int) {
	call := pyCall{kw: map[string][]pyToken{}}
	d := toks[open].depth
	var arg []pyToken
	add := func() {
		switch {
		case len(arg) == 0:
		case len(arg) > 2 && arg[0].kind == 'n' && arg[1].kind == 'o' && arg[1].text == "=":
			call.kw[arg[0].text] = arg[2:]
		default:
			call.pos = append(call.pos, arg)
		}
		arg = nil
	}
	i := open + 1
	for ; i < len(toks); i++ {
		t := toks[i]
		if t.depth <= d {
			if t.kind == 'o' && t.depth == d && strings.IndexByte(")]}", t.text[0]) >= 0 {
				add()
			}
			break // the call's end, or broken source
		}
		if t.depth == d+1 && t.kind == 'o' && t.text == "," {
			add()
			continue
		}
		arg = append(arg, t)
	}
	return call, i
}

// literal is the text of a default that is one plain literal ("x", 5,
// True), and whether it is one.
func literal(arg []pyToken) (string, bool) {
	if len(arg) != 1 {
		return "", false
	}
	switch t := arg[0]; {
	case t.kind == 's' && !strings.ContainsAny(t.text, "\\\n\t\r") && len(t.text) <= 100:
		return t.text, true
	case t.kind == '0', t.kind == 'n' && (t.text == "True" || t.text == "False"):
		return t.text, true
	case t.kind == 'n' && t.text == "None":
		return "", true
	}
	return "", false
}

// constName is the environment variable name a key argument names, or "".
func constName(arg []pyToken) string {
	if len(arg) == 1 && arg[0].kind == 's' && envNameRe.MatchString(arg[0].text) {
		return arg[0].text
	}
	return ""
}

// envMethods are django-environ's Env methods that read a variable, with the
// variable each reads when the call names none (env.db() reads DATABASE_URL).
var envMethods = map[string]string{
	"str": "", "bool": "", "int": "", "float": "", "json": "", "list": "", "tuple": "", "dict": "",
	"url": "", "path": "", "bytes": "", "get_value": "",
	"db": "DATABASE_URL", "db_url": "DATABASE_URL", "cache": "CACHE_URL", "cache_url": "CACHE_URL",
	"email": "EMAIL_URL", "email_url": "EMAIL_URL", "search_url": "SEARCH_URL",
	"channels": "CHANNELS_URL", "channels_url": "CHANNELS_URL",
}

// pyNames are the names under which the settings files reach the
// environment, gathered from all of them: settings star-import each other,
// so a name bound in base.py is used in production.py.
type pyNames struct {
	environ map[string]bool     // os.environ and its aliases
	getenv  map[string]bool     // os.getenv and its aliases
	envObj  map[string]bool     // django-environ Env instances
	schema  map[string]*EnvVar  // defaults declared in environ.Env(NAME=(type, default))
	config  map[string]bool     // python-decouple's config and AutoConfig instances
	helpers map[string]pyHelper // the project's own functions that read the variable they are given
}

// pyHelper is a function of the settings like env_bool(name, default) that
// reads the variable named by its first argument.
type pyHelper struct{ optional bool }

// pyRead is one read of the environment found in the source.
type pyRead struct {
	key      []pyToken // the argument naming the variable
	name     string    // the variable when the call fixes it (env.db(): DATABASE_URL)
	optional bool      // the read has a default
	def      []pyToken // the default's tokens, when given
	schema   bool      // a django-environ read: Env(...) may declare a default
}

// matchRead says whether the tokens at i start a read of the environment.
func (n *pyNames) matchRead(toks []pyToken, i int) (pyRead, bool) {
	if toks[i].kind != 'n' || i > 0 && toks[i-1].kind == 'o' && toks[i-1].text == "." {
		return pyRead{}, false
	}
	callee := toks[i].text
	j := i
	for j+2 < len(toks) && toks[j+1].text == "." && toks[j+1].kind == 'o' && toks[j+2].kind == 'n' {
		j += 2
		callee += "." + toks[j].text
	}
	if j+1 >= len(toks) || toks[j+1].kind != 'o' {
		return pyRead{}, false
	}
	bracket := toks[j+1].text
	if bracket != "(" && bracket != "[" {
		return pyRead{}, false
	}
	args, end := pyArgs(toks, j+1)
	arg := func(k int, kw string) []pyToken {
		if a, ok := args.kw[kw]; ok {
			return a
		}
		if k < len(args.pos) {
			return args.pos[k]
		}
		return nil
	}
	var base, method string // env.bool: env and bool
	if k := strings.LastIndexByte(callee, '.'); k >= 0 {
		base, method = callee[:k], callee[k+1:]
	}
	switch {
	case bracket == "[":
		// os.environ["X"] = "y" sets it: no read.
		if n.environ[callee] && !(end+1 < len(toks) && toks[end+1].kind == 'o' && toks[end+1].text == "=") {
			return pyRead{key: arg(0, "")}, true
		}
	case n.getenv[callee], n.environ[base] && (method == "get" || method == "setdefault"):
		// Both give a value (None at worst) when the variable is unset.
		return pyRead{key: arg(0, "key"), optional: true, def: arg(1, "default")}, true
	case n.envObj[callee]: // env("X", cast=None, default=NOTSET)
		d := arg(2, "default")
		return pyRead{key: arg(0, "var"), optional: d != nil, def: d, schema: true}, true
	case n.envObj[base] && hasKey(envMethods, method): // env.bool("X", default=NOTSET)
		r := pyRead{key: arg(0, "var"), def: arg(1, "default"), schema: true}
		r.optional = r.def != nil
		if r.key == nil {
			r.name = envMethods[method]
		}
		return r, r.key != nil || r.name != ""
	case n.config[callee]: // config("X", default=undefined, cast=undefined)
		d := arg(1, "default")
		return pyRead{key: arg(0, "option"), optional: d != nil, def: d}, true
	case callee == "dj_database_url.config": // config(default=None, ..., env="DATABASE_URL")
		r := pyRead{key: args.kw["env"], def: arg(0, "default")}
		r.optional = r.def != nil
		if r.key == nil {
			r.name = "DATABASE_URL"
		}
		return r, true
	case hasKey(n.helpers, callee):
		return pyRead{key: arg(0, ""), optional: n.helpers[callee].optional, def: arg(1, "default")}, true
	}
	return pyRead{}, false
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// pyImport reads "from MODULE import a, b as c" or "import MODULE" at i: the
// module (with its leading dots), the names it binds (their local names,
// keyed by the imported ones), and whether it is "import *".
func pyImport(toks []pyToken, i int) (module string, names map[string]string, star bool) {
	if toks[i].kind != 'n' || !toks[i].first {
		return "", nil, false
	}
	names = map[string]string{}
	j := i + 1
	switch toks[i].text {
	case "import": // import a.b as c, d
		importList(toks, j, names)
		return "", names, false
	case "from":
		for j < len(toks) && (toks[j].text == "." || toks[j].kind == 'n' && toks[j].text != "import") {
			module += toks[j].text
			j++
		}
		if j+1 >= len(toks) || toks[j].text != "import" {
			return "", nil, false
		}
		switch toks[j+1].text {
		case "*":
			return module, names, true
		case "(":
			j++
		}
		importList(toks, j+1, names)
		return module, names, false
	}
	return "", nil, false
}

// importList reads "a.b as c, d" from toks[j:] into names.
func importList(toks []pyToken, j int, names map[string]string) {
	for j < len(toks) && toks[j].kind == 'n' {
		name := toks[j].text
		for j++; j+1 < len(toks) && toks[j].text == "."; j += 2 {
			name += "." + toks[j+1].text
		}
		local := name
		if j+1 < len(toks) && toks[j].text == "as" {
			local = toks[j+1].text
			j += 2
		}
		names[name] = local
		if j >= len(toks) || toks[j].text != "," {
			return
		}
		j++
	}
}

// assigned is the value of each top-level "NAME = value" in toks, by NAME:
// the tokens after "=", up to the next statement.
func assigned(toks []pyToken, name string) [][]pyToken {
	var values [][]pyToken
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].kind != 'n' || toks[i].text != name || toks[i].depth != 0 || toks[i+1].text != "=" || toks[i+1].kind != 'o' ||
			i > 0 && toks[i-1].text == "." && toks[i-1].kind == 'o' {
			continue
		}
		j := i + 2
		for j < len(toks) && !toks[j].first {
			j++
		}
		values = append(values, toks[i+2:j])
	}
	return values
}

// pyFile is one settings file.
type pyFile struct {
	rel  string // relative to the project root, with slashes
	toks []pyToken
}

// devModules are settings modules for a developer's machine or the tests:
// what they read is not needed on a server, unless the deployed settings
// import them.
var devModules = []string{"local", "dev", "develop", "development", "test", "tests", "testing", "ci"}

// ScanSettings reads the settings module of a project (and the modules it
// star-imports, and the other modules of its settings package) and what
// the project says about Celery. root is the project root, p what Detect
// found there. It returns nil when the settings module is not a file
// there.
func ScanSettings(root string, p Project) *Findings {
	base := filepath.Join(root, filepath.FromSlash(p.ProjectDir)) // python imports start here
	file := moduleFile(base, p.Settings)
	if file == "" {
		return nil
	}
	s := &settingsReader{root: root, base: base, seen: map[string]bool{}}
	s.visit(file)
	// The settings package: settings/base.py, settings/production.py and
	// the rest of the directory the settings module is part of, when it is
	// a package of settings rather than the project's own package.
	parts := strings.Split(p.Settings, ".")
	dir := filepath.Dir(file)
	if filepath.Base(file) == "__init__.py" || len(parts) >= 3 || len(parts) == 2 && strings.Contains(parts[0], "settings") {
		names, _ := filepath.Glob(filepath.Join(dir, "*.py"))
		slices.Sort(names)
		for _, name := range names {
			if !slices.Contains(devModules, strings.TrimSuffix(filepath.Base(name), ".py")) {
				s.visit(name)
			}
		}
	}
	f := s.findings()
	f.Celery, f.CeleryFile = findCelery(root, base, parts[0], filepath.Dir(file))
	if !moduleRe.MatchString(f.Celery) { // a directory name python cannot import
		f.Celery, f.CeleryFile = "", ""
	}
	return f
}

type settingsReader struct {
	root, base string
	seen       map[string]bool
	files      []pyFile
}

// visit reads a settings file, after the files it star-imports: settings
// run in that order, and variables are listed in the order they are read.
func (s *settingsReader) visit(file string) {
	if s.seen[file] || len(s.seen) > 50 {
		return
	}
	s.seen[file] = true
	src, err := os.ReadFile(file)
	if err != nil || len(src) > 1<<20 {
		return
	}
	toks := pyTokens(string(src))
	for i := range toks {
		module, _, star := pyImport(toks, i)
		if !star {
			continue
		}
		var target string
		if rel := strings.TrimLeft(module, "."); rel != module {
			// from .base import *: relative to this file's package.
			pkg := filepath.Dir(file)
			for range len(module) - len(rel) - 1 {
				pkg = filepath.Dir(pkg)
			}
			target = moduleFileIn(pkg, rel)
		} else {
			target = moduleFile(s.base, module)
		}
		if target != "" {
			s.visit(target)
		}
	}
	rel, err := filepath.Rel(s.root, file)
	if err != nil {
		rel = file
	}
	s.files = append(s.files, pyFile{rel: filepath.ToSlash(rel), toks: toks})
}

// moduleFile is the file of a python module below base, or "".
func moduleFile(base, module string) string {
	if !moduleRe.MatchString(module) {
		return ""
	}
	return moduleFileIn(base, module)
}

func moduleFileIn(dir, module string) string {
	p := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(module, ".", "/")))
	for _, f := range []string{p + ".py", filepath.Join(p, "__init__.py")} {
		if module != "" && isFile(f) {
			return f
		}
	}
	if module == "" && isFile(filepath.Join(dir, "__init__.py")) { // from . import *
		return filepath.Join(dir, "__init__.py")
	}
	return ""
}

// findings reads what the visited files say.
func (s *settingsReader) findings() *Findings {
	f := &Findings{}
	n := &pyNames{
		environ: map[string]bool{"os.environ": true},
		getenv:  map[string]bool{"os.getenv": true},
		envObj:  map[string]bool{},
		schema:  map[string]*EnvVar{},
		config:  map[string]bool{},
		helpers: map[string]pyHelper{},
	}
	for _, file := range s.files {
		f.Files = append(f.Files, file.rel)
		n.bind(file.toks)
		for _, t := range file.toks {
			f.Compressor = f.Compressor || t.kind == 's' && t.text == "compressor"
		}
		f.StaticRoot = f.StaticRoot || len(assigned(file.toks, "STATIC_ROOT")) > 0
		for _, v := range assigned(file.toks, "COMPRESS_OFFLINE") {
			f.CompressOffline = f.CompressOffline || !(len(v) == 1 && v[0].text == "False")
		}
	}
	// Helpers may call helpers (env_list calling env_str): a few rounds
	// find them all.
	for range 3 {
		for _, file := range s.files {
			n.findHelpers(file.toks)
		}
	}
	byName := map[string]*EnvVar{}
	var order []string
	for _, file := range s.files {
		for i := range file.toks {
			r, ok := n.matchRead(file.toks, i)
			if !ok {
				continue
			}
			name := r.name
			if name == "" {
				name = constName(r.key)
			}
			if name == "" || name == "DJANGO_SETTINGS_MODULE" { // hoist sets that one itself
				continue
			}
			def, isLit := literal(r.def)
			if sc := n.schema[name]; r.schema && r.def == nil && sc != nil {
				r.optional, def, isLit = sc.Optional, sc.Default, true
			}
			v := byName[name]
			if v == nil {
				v = &EnvVar{Name: name, Optional: true}
				byName[name] = v
				order = append(order, name)
			}
			v.Optional = v.Optional && r.optional
			if isLit && v.Default == "" {
				v.Default = def
			}
			where := fmt.Sprintf("%s:%d", file.rel, file.toks[i].line)
			if !slices.Contains(v.Where, where) {
				v.Where = append(v.Where, where)
			}
		}
	}
	for _, name := range order {
		v := byName[name]
		v.Secret = secretName(v.Name, v.Default)
		f.Vars = append(f.Vars, *v)
	}
	return f
}

// bind learns the names the file reaches the environment by.
func (n *pyNames) bind(toks []pyToken) {
	for i := range toks {
		module, names, _ := pyImport(toks, i)
		switch module {
		case "os":
			if l, ok := names["environ"]; ok {
				n.environ[l] = true
			}
			if l, ok := names["getenv"]; ok {
				n.getenv[l] = true
			}
		case "decouple":
			if l, ok := names["config"]; ok {
				n.config[l] = true
			}
		case "":
			if l, ok := names["decouple"]; ok {
				n.config[l+".config"] = true
			}
		}
		// NAME = os.environ, NAME = environ.Env(...), NAME = AutoConfig(...)
		if toks[i].kind != 'n' || !toks[i].first || i+3 >= len(toks) || toks[i+1].text != "=" || toks[i+1].kind != 'o' {
			continue
		}
		name, callee, j := toks[i].text, "", i+2
		for ; j < len(toks) && (toks[j].kind == 'n' || toks[j].text == "."); j++ {
			callee += toks[j].text
		}
		call := j < len(toks) && toks[j].text == "(" && toks[j].kind == 'o'
		switch {
		case n.environ[callee] && !call && (j >= len(toks) || toks[j].first):
			n.environ[name] = true
		case call && (callee == "environ.Env" || callee == "Env"):
			n.envObj[name] = true
			// Env(DEBUG=(bool, False)) gives DEBUG a default for env("DEBUG").
			args, _ := pyArgs(toks, j)
			for k, v := range args.kw {
				sc := &EnvVar{Name: k}
				if len(v) > 2 && v[0].text == "(" {
					if t, _ := pyArgs(v, 0); len(t.pos) >= 2 {
						sc.Default, _ = literal(t.pos[1])
						sc.Optional = true
					}
				}
				n.schema[k] = sc
			}
		case call && slices.Contains([]string{"AutoConfig", "decouple.AutoConfig", "Config", "decouple.Config"}, callee):
			n.config[name] = true
		}
	}
}

// findHelpers finds the settings' own functions that read the variable
// named by their first parameter, like
//
//	def env_bool(name, default):
//	    value = os.environ.get(name)
func (n *pyNames) findHelpers(toks []pyToken) {
	for i := 0; i+3 < len(toks); i++ {
		if toks[i].kind != 'n' || toks[i].text != "def" || !toks[i].first || toks[i+2].text != "(" || toks[i+3].kind != 'n' {
			continue
		}
		fn, param, indent := toks[i+1].text, toks[i+3].text, toks[i].col
		if hasKey(n.helpers, fn) {
			continue
		}
		for j := i + 4; j < len(toks); j++ {
			if toks[j].first && toks[j].col <= indent && toks[j].line > toks[i].line {
				break // the end of the function
			}
			r, ok := n.matchRead(toks, j)
			if ok && len(r.key) == 1 && r.key[0].kind == 'n' && r.key[0].text == param {
				n.helpers[fn] = pyHelper{optional: r.optional}
				break
			}
		}
	}
}

// secretName says whether a variable goes under secrets. Every name the
// checks of hoist.yml refuse under env does (looksSecret), and more: keys,
// private things, credentials, Sentry DSNs (they hold a key), database URLs
// (they hold the password), and any URL whose default in the settings has a
// password in it.
func secretName(name, def string) bool {
	if looksSecret(name) {
		return true
	}
	words := strings.Split(strings.ToUpper(name), "_")
	for i, w := range words {
		switch w {
		case "PASS", "PWD", "PRIVATE", "CREDENTIAL", "CREDENTIALS", "DSN", "APIKEY", "ACCESSKEY":
			return true
		case "KEY", "KEYS":
			// CACHE_KEY_PREFIX and KEY_FUNCTION name how cache keys are
			// made; a public key is public.
			if i+1 < len(words) && (words[i+1] == "PREFIX" || words[i+1] == "FUNCTION") ||
				i > 0 && (words[i-1] == "PUBLIC" || words[i-1] == "PUBLISHABLE") {
				continue
			}
			return true
		}
	}
	up := strings.ToUpper(name)
	return strings.HasSuffix(up, "DATABASE_URL") || strings.HasSuffix(up, "URL") && urlPasswordRe.MatchString(def)
}

var urlPasswordRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]+@`)

var (
	celeryImportRe = regexp.MustCompile(`(?m)^[ \t]*(from[ \t]+celery[ \t]+import|import[ \t]+celery\b)`)
	celeryAppRe    = regexp.MustCompile(`\bCelery\(`)
)

// findCelery finds the project's Celery app: a celery.py next to the
// settings (or in a package above them, up to the top-level one), else a
// module of the top-level package that makes a Celery(...) app, else any
// module there that imports celery. It returns the -A argument for the
// worker and the file that says so.
func findCelery(root, base, top, settingsDir string) (app, where string) {
	rel := func(f string) string {
		r, err := filepath.Rel(root, f)
		if err != nil {
			return f
		}
		return filepath.ToSlash(r)
	}
	module := func(f string) string {
		r, err := filepath.Rel(base, strings.TrimSuffix(f, ".py"))
		if err != nil {
			return top
		}
		return strings.TrimSuffix(strings.ReplaceAll(filepath.ToSlash(r), "/", "."), ".__init__")
	}
	topDir := filepath.Join(base, top)
	for d := settingsDir; strings.HasPrefix(d, topDir); d = filepath.Dir(d) {
		if f := filepath.Join(d, "celery.py"); isFile(f) {
			return module(filepath.Join(d, "__init__.py")), rel(f) // -A pkg: Celery looks in pkg.celery
		}
	}
	var importer string
	count := 0
	filepath.WalkDir(topDir, func(p string, e os.DirEntry, err error) error {
		if err != nil || app != "" || count > 5000 {
			return filepath.SkipDir
		}
		name := e.Name()
		if e.IsDir() {
			if p != topDir && (strings.HasPrefix(name, ".") || slices.Contains(skipDirs, name) || name == "migrations" || name == "static" || name == "templates") {
				return filepath.SkipDir
			}
			return nil
		}
		count++
		if !strings.HasSuffix(name, ".py") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil || len(src) > 1<<20 || !celeryImportRe.Match(src) {
			return nil
		}
		if celeryAppRe.Match(src) {
			app, where = module(p), rel(p)
		} else if importer == "" {
			importer = rel(p)
		}
		return nil
	})
	if app == "" && importer != "" {
		app, where = top, importer
	}
	return app, where
}
