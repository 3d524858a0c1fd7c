package config

import (
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml/ast"
)

var (
	// app names systemd units and directories, so it stays short and plain.
	appRe     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)
	stageRe   = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	moduleRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	// gunicorn takes "module", "module:name" or "module:factory(args)".
	wsgiRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][!-~]*)?$`)
	// Nine digits keep nginx's and Caddy's size parsers from overflowing.
	sizeRe = regexp.MustCompile(`^[0-9]{1,9}[kKmMgG]?$`)
	// Paths on the hosts go into unit files (which take no quotes), nginx
	// and Caddy configs unquoted by habit, and shell scripts: only
	// characters that mean nothing in any of them.
	pathRe = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	// URL prefixes become nginx locations and Caddy matchers.
	urlPrefixRe = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)*$`)
	// A health path is sent in an HTTP request line: RFC 3986 path and
	// query characters only, so no space or line break can split it.
	healthPathRe = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$`)
	// A Host header: a name or address, with an optional port.
	hostHeaderRe = regexp.MustCompile(`^[A-Za-z0-9._:\[\]-]+$`)
)

// maxDeployTo keeps each release's socket, deploy_to/run/<id>.sock, within
// the 107 bytes a unix socket path may have.
const maxDeployTo = 64

// maxPath bounds a path inside the release, which systemd and the kernel
// take only up to PATH_MAX in full.
const maxPath = 255

// Bounds of numbers that become timeouts and counts in unit and site
// files: large enough for any real use, small enough that adding to them
// never overflows.
const (
	maxSeconds = 86400 // a day
	maxCount   = 1000
)

// given reports whether the file holds a well-typed, non-null value at key.
func (d *decoder) given(key string) bool {
	f := d.fields[key]
	return f != nil && f.val != nil && !f.bad
}

// at is where to point for a problem with key's value.
func (d *decoder) at(key string) ast.Node {
	f := d.fields[key]
	switch {
	case f == nil:
		return nil
	case f.val != nil:
		return f.val
	}
	return f.key
}

// keyAt is where the key naming key's value is.
func (d *decoder) keyAt(key string) ast.Node {
	if f := d.fields[key]; f != nil && f.key != nil {
		return f.key
	}
	return d.at(key)
}

// required reports a required key that is absent or null, with hint on
// what to write. It returns whether a usable value is there.
func (d *decoder) required(parent, name, hint string) bool {
	key := join(parent, name)
	f := d.fields[key]
	if hint != "" {
		hint = " (" + hint + ")"
	}
	switch {
	case f == nil:
		d.errorf(d.keyAt(parent), parent, "missing required key %q%s", name, hint)
	case f.bad:
	case f.val == nil:
		d.errorf(f.key, key, "needs a value%s", hint)
	default:
		return true
	}
	return false
}

// oneOf applies the first allowed value when key is not given, and checks
// the value is one of allowed.
func oneOf[T ~string](d *decoder, key string, p *T, allowed ...T) {
	if !d.given(key) {
		*p = allowed[0]
		return
	}
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = string(a)
	}
	if !slices.Contains(words, string(*p)) {
		msg := fmt.Sprintf("%q is not one of: %s", *p, strings.Join(words, ", "))
		if s := suggest(string(*p), words); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.errorf(d.at(key), key, "%s", msg)
	}
}

// number applies def when key is not given, and checks lo <= *p <= hi.
func (d *decoder) number(key string, p *int, def, lo, hi int, why string) {
	if !d.given(key) {
		*p = def
		return
	}
	if *p >= lo && *p <= hi {
		return
	}
	msg := fmt.Sprintf("must be at least %d", lo)
	if hi != math.MaxInt {
		msg = fmt.Sprintf("must be between %d and %d", lo, hi)
	}
	if why != "" {
		msg += ": " + why
	}
	d.errorf(d.at(key), key, "%s, not %d", msg, *p)
}

// seconds is number for a count of seconds.
func (d *decoder) seconds(key string, p *int, def int) {
	d.number(key, p, def, 1, maxSeconds, "seconds, at most a day")
}

func (d *decoder) text(key string, p *string, def string) {
	if !d.given(key) {
		*p = def
	} else if strings.TrimSpace(*p) == "" {
		d.errorf(d.at(key), key, "must not be empty")
	}
}

// absPath checks a directory on the hosts.
func (d *decoder) absPath(key, p string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		d.errorf(d.at(key), key, "%q must be an absolute path, like /srv/app", p)
	case p == "/":
		d.errorf(d.at(key), key, "must not be /: releases and shared files go under it")
	case !d.plainPath(key, p): // reported there
	case path.Clean(p) != p:
		d.errorf(d.at(key), key, "write %q as %q", p, path.Clean(p))
	case len(p) > maxDeployTo:
		d.errorf(d.at(key), key, "%q is longer than %d characters: the socket paths under it would not fit in a unix socket address", p, maxDeployTo)
	}
}

// plainPath reports a path on the hosts with a character outside pathRe.
func (d *decoder) plainPath(key, p string) bool {
	switch {
	case !pathRe.MatchString(p):
		d.errorf(d.at(key), key, "%q: use only letters, digits, '.', '_', '-' and '/' in paths on the hosts", p)
	case len(p) > maxPath:
		d.errorf(d.at(key), key, "is %d characters long: at most %d, so paths under it stay within the system's limit", len(p), maxPath)
	default:
		return true
	}
	return false
}

// relPath checks a path inside the project (or release) and cleans it, so
// "media/" and "./media" both become "media". It reports whether p is good.
func (d *decoder) relPath(key string, p *string) bool {
	clean := path.Clean(*p)
	switch {
	case strings.TrimSpace(*p) == "":
		d.errorf(d.at(key), key, "must not be empty")
	case strings.HasPrefix(*p, "/"):
		d.errorf(d.at(key), key, "%q must be relative to the project root, not absolute", *p)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		d.errorf(d.at(key), key, "%q must stay inside the project: no ..", *p)
	default:
		*p = clean
		return true
	}
	return false
}

func (d *decoder) check(c *Config) {
	if d.required("", "app", "") && !appRe.MatchString(c.App) {
		d.errorf(d.at("app"), "app", "%q is not a valid app name: use lowercase letters, digits, - and _, "+
			"start with a letter, at most 40 characters (it names systemd units and directories)", c.App)
	}
	oneOf(d, "strategy", &c.Strategy, ReleaseStrategy, ContainerStrategy)
	if d.given("deploy_to") {
		d.absPath("deploy_to", c.DeployTo)
	} else {
		c.DeployTo = "/srv/" + c.App
	}
	if d.given("project_dir") {
		// It is the gunicorn unit's WorkingDirectory.
		if d.relPath("project_dir", &c.ProjectDir) {
			d.plainPath("project_dir", c.ProjectDir)
		}
	} else {
		c.ProjectDir = "."
	}
	d.text("python", &c.Python, "python3")
	d.checkRequirements(c)
	if d.required("", "settings", "your DJANGO_SETTINGS_MODULE, like mysite.settings") && !moduleRe.MatchString(c.Settings) {
		d.errorf(d.at("settings"), "settings", "%q is not a python module name like mysite.settings", c.Settings)
	}
	if d.given("wsgi") {
		if !wsgiRe.MatchString(c.WSGI) {
			d.errorf(d.at("wsgi"), "wsgi", "%q is not a WSGI application like mysite.wsgi:application", c.WSGI)
		}
	} else {
		pkg, _, _ := strings.Cut(c.Settings, ".")
		c.WSGI = pkg + ".wsgi:application"
	}
	d.checkEnv("env", c.Env, nil, false)
	d.checkSecrets("secrets", c.Secrets, c.Env)
	if d.given("secrets_file") {
		d.text("secrets_file", &c.SecretsFile, "")
	}
	d.checkShared(c)
	d.number("keep_releases", &c.KeepReleases, 5, 2, maxCount, "one live release and one to roll back to")
	d.checkWeb(&c.Web)
	d.checkGunicorn(&c.Gunicorn)
	d.checkHealth(&c.Health)
	d.checkPackages(c.Packages)
	d.checkProcesses(c.Processes)
	d.checkCommands("build", c.Build)
	d.checkCommands("release", c.Release)
	d.checkCommands("hooks.before_deploy", c.Hooks.BeforeDeploy)
	d.checkCommands("hooks.after_deploy", c.Hooks.AfterDeploy)
	d.checkCommands("hooks.on_failure", c.Hooks.OnFailure)
	d.checkChecks("checks", &c.Checks, FailOnError)
	d.checkStages(c)
	d.checkContainer(c)
	d.checkPipeline(c)
}

var (
	packageRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	processRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)
	checkIDRe = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$`)
)

// checkPackages: Debian package names, passed to apt-get as they are.
func (d *decoder) checkPackages(names []string) {
	for i, n := range names {
		if k := fmt.Sprintf("packages[%d]", i); !packageRe.MatchString(n) {
			d.errorf(d.at(k), k, "%q is not a Debian package name like libpq5 or python3-psycopg2", n)
		}
	}
}

func (d *decoder) checkProcesses(procs []*Process) {
	for _, p := range procs {
		key := join("processes", p.Name)
		if !processRe.MatchString(p.Name) {
			d.errorf(d.keyAt(key), key, "%q is not a valid process name: lowercase letters, digits, - and _, starting with a letter, at most 31 characters (it names systemd units)", p.Name)
		}
		if strings.TrimSpace(p.Command) == "" {
			d.errorf(d.keyAt(key), key, "needs a command, like celery -A proj worker -l info")
		}
		for j, r := range p.Roles {
			if k := fmt.Sprintf("%s.roles[%d]", key, j); r != WebRole && r != WorkerRole {
				d.errorf(d.at(k), k, "%q is not a role: web or worker", r)
			}
		}
		if k := key + ".stop_timeout"; !d.given(k) {
			p.StopTimeout = 30 * time.Second
		} else if p.StopTimeout < time.Second || p.StopTimeout > time.Hour {
			d.errorf(d.at(k), k, "must be between 1s and 1h, not %s", p.StopTimeout)
		}
	}
}

// checkCommands: shell command lines from the user's own hoist.yml; only
// emptiness is wrong (control characters are refused everywhere).
func (d *decoder) checkCommands(key string, cmds []string) {
	for i, c := range cmds {
		if k := fmt.Sprintf("%s[%d]", key, i); strings.TrimSpace(c) == "" {
			d.errorf(d.at(k), k, "an empty command")
		}
	}
}

// checkChecks validates checks (the app's, or a stage's over it); def is
// the fail level when none is given.
func (d *decoder) checkChecks(key string, c *Checks, def FailLevel) {
	if !d.given(key + ".fail_level") {
		c.FailLevel = def
	} else {
		oneOf(d, key+".fail_level", &c.FailLevel, FailOnError, FailOnWarning)
	}
	for i, id := range c.Silence {
		if k := fmt.Sprintf("%s.silence[%d]", key, i); !checkIDRe.MatchString(id) {
			d.errorf(d.at(k), k, "%q is not a Django check id like security.W004", id)
		}
	}
}

// checkRequirements defaults requirements to requirements.txt when the
// project has one; `requirements: ""` says there is nothing to install.
func (d *decoder) checkRequirements(c *Config) {
	if !d.given("requirements") {
		if c.Dir != "" && isFile(filepath.Join(c.Dir, "requirements.txt")) {
			c.Requirements = "requirements.txt"
		}
		return
	}
	if c.Requirements == "" {
		return
	}
	if d.relPath("requirements", &c.Requirements) && c.Dir != "" && !isFile(filepath.Join(c.Dir, filepath.FromSlash(c.Requirements))) {
		d.errorf(d.at("requirements"), "requirements", "no file %s in %s", c.Requirements, c.Dir)
	}
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// looksSecret catches the usual names of values that must not be committed.
func looksSecret(name string) bool {
	up := strings.ToUpper(name)
	for _, w := range []string{"SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "PRIVATE_KEY"} {
		if strings.Contains(up, w) {
			return true
		}
	}
	return false
}

// checkEnv checks env names. A stage may set DJANGO_SETTINGS_MODULE, to run
// other settings than the app's; at the top, settings: says it already.
// appSecrets are the app's secret names, which a stage's env must not shadow.
func (d *decoder) checkEnv(key string, env map[string]string, appSecrets []string, stage bool) {
	for name, value := range env {
		k := join(key, name)
		where := d.keyAt(k)
		switch {
		case !envNameRe.MatchString(name):
			d.errorf(where, k, "%q is not an environment variable name: use letters, digits and _, not starting with a digit", name)
		case looksSecret(name):
			d.errorf(where, k, "looks like a secret: list it under secrets and keep its value out of %s", FileName)
		case name == "DJANGO_SETTINGS_MODULE" && !stage:
			d.errorf(where, k, "set it with the top-level settings: key")
		case name == "DJANGO_SETTINGS_MODULE" && !moduleRe.MatchString(value):
			d.errorf(d.at(k), k, "%q is not a python module name like mysite.settings", value)
		case slices.Contains(appSecrets, name):
			d.errorf(where, k, "%s is listed under secrets: keep it in one place", name)
		}
	}
}

func (d *decoder) checkSecrets(key string, names []string, envs ...map[string]string) {
	seen := map[string]bool{}
	for i, name := range names {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !d.given(k) {
			continue
		}
		inEnv := false
		for _, env := range envs {
			_, ok := env[name]
			inEnv = inEnv || ok
		}
		switch {
		case !envNameRe.MatchString(name):
			d.errorf(d.at(k), k, "%q is not an environment variable name: use letters, digits and _, not starting with a digit", name)
		case seen[name]:
			d.errorf(d.at(k), k, "%s is listed twice", name)
		case name == "DJANGO_SETTINGS_MODULE":
			d.errorf(d.at(k), k, "DJANGO_SETTINGS_MODULE is not a secret: set it with settings:")
		case inEnv:
			d.errorf(d.at(k), k, "%s is also set under env: keep it in one place", name)
		}
		seen[name] = true
	}
}

// checkShared refuses shared paths that overlap. The build replaces each
// with a link into shared/: with media and media/avatars both listed, the
// second would be made through the first's link, inside shared/, and its
// rm -rf would delete uploads there.
func (d *decoder) checkShared(c *Config) {
	type item struct{ path, key string }
	var seen []item
	for _, list := range []struct {
		key   string
		paths []string
	}{{"shared_files", c.SharedFiles}, {"shared_dirs", c.SharedDirs}} {
		for i := range list.paths {
			k := fmt.Sprintf("%s[%d]", list.key, i)
			if !d.given(k) || !d.relPath(k, &list.paths[i]) || !d.plainPath(k, list.paths[i]) {
				continue
			}
			p := list.paths[i]
			first, _, _ := strings.Cut(p, "/")
			switch {
			case p == ".":
				d.errorf(d.at(k), k, "must name a file or directory inside the release, not the release itself")
				continue
			case strings.HasPrefix(first, ".hoist") || first == ".venv":
				d.errorf(d.at(k), k, "%s is where hoist keeps the release's own links: share another path", p)
				continue
			case c.ProjectDir != "." && within(c.ProjectDir, p):
				d.errorf(d.at(k), k, "%s holds project_dir %s: sharing it would replace the code", p, c.ProjectDir)
				continue
			}
			for _, o := range seen {
				switch {
				case o.path == p:
					d.errorf(d.at(k), k, "%s is already listed as %s", p, o.key)
				case within(p, o.path) || within(o.path, p):
					d.errorf(d.at(k), k, "%s overlaps %s (%s): shared paths must not be inside one another", p, o.path, o.key)
				default:
					continue
				}
				break
			}
			seen = append(seen, item{p, k})
		}
	}
}

// within tells whether p is inside dir, or is dir.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func (d *decoder) checkWeb(w *Web) {
	oneOf(d, "web.server", &w.Server, Nginx, Caddy, NoWebServer)
	oneOf(d, "web.tls", &w.TLS, TLSAuto, TLSInternal, TLSOff)
	d.checkDomains("web.domains", w.Domains)
	d.number("web.port", &w.Port, 80, 1, 65535, "")
	for _, u := range []struct {
		key string
		p   *string
		def string
	}{{"web.static_url", &w.StaticURL, "/static/"}, {"web.media_url", &w.MediaURL, "/media/"}} {
		switch {
		case !d.given(u.key):
			*u.p = u.def
		case !strings.HasPrefix(*u.p, "/") || !strings.HasSuffix(*u.p, "/"):
			d.errorf(d.at(u.key), u.key, "%q must start and end with /, like %q", *u.p, u.def)
		case *u.p == "/":
			d.errorf(d.at(u.key), u.key, "must not be /: the app itself is served there")
		case !urlPrefixRe.MatchString(*u.p):
			d.errorf(d.at(u.key), u.key, "%q: use only letters, digits, '.', '_', '~', '-' and '/', like %q", *u.p, u.def)
		}
	}
	if w.StaticURL == w.MediaURL && d.given("web.media_url") {
		d.errorf(d.at("web.media_url"), "web.media_url", "must differ from static_url")
	}
	if !d.given("web.max_body_size") {
		w.MaxBodySize = "10m"
	} else if !sizeRe.MatchString(w.MaxBodySize) {
		d.errorf(d.at("web.max_body_size"), "web.max_body_size", "%q is not a size like 10m: digits, then k, m or g", w.MaxBodySize)
	}
}

func (d *decoder) checkDomains(key string, domains []string) {
	for i, dom := range domains {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !d.given(k) {
			continue
		}
		var why string
		switch {
		case strings.Contains(dom, "://"):
			why = "write the host name alone, without http:// or https://"
		case strings.Contains(dom, "/"):
			why = "write the host name alone, without a path"
		case strings.Contains(dom, ":"):
			why = "write the host name alone, without a port (the port is web.port)"
		case !validHostname(strings.TrimPrefix(dom, "*."), false):
			why = "not a host name like example.com"
		default:
			continue
		}
		d.errorf(d.at(k), k, "%q: %s", dom, why)
	}
}

func (d *decoder) checkGunicorn(g *Gunicorn) {
	d.number("gunicorn.workers", &g.Workers, 2, 1, maxCount, "")
	d.seconds("gunicorn.timeout", &g.Timeout, 30)
	d.seconds("gunicorn.graceful_timeout", &g.GracefulTimeout, 30)
	if !d.given("gunicorn.standby") {
		g.Standby = true
	}
	for i, a := range g.Args {
		key := fmt.Sprintf("gunicorn.args[%d]", i)
		for _, o := range gunicornOwnOptions {
			if a == o.long || strings.HasPrefix(a, o.long+"=") || (o.short != "" && strings.HasPrefix(a, o.short)) {
				d.errorf(d.at(key), key, "%s: %s", a, o.why)
			}
		}
	}
}

// gunicornOwnOptions are the gunicorn options hoist sets itself. Given
// again in gunicorn.args they would fight hoist: a longer
// --graceful-timeout is cut short by the stop timeout hoist derives from
// gunicorn.graceful_timeout; a daemonized gunicorn leaves systemd without
// its process, so every start fails; and with strategy container, whose
// containers share the host's network, a --bind to a port opens the app
// to the world past the web server, and the next release's instance,
// started beside it, finds the port taken.
var gunicornOwnOptions = []struct{ long, short, why string }{
	{"--bind", "-b", "hoist binds gunicorn to the release's own socket, which the web server proxies to; remove it"},
	{"--workers", "-w", "hoist sets it: use gunicorn.workers"},
	{"--timeout", "-t", "hoist sets it: use gunicorn.timeout"},
	{"--graceful-timeout", "", "hoist sets it: use gunicorn.graceful_timeout, which also sets how long systemd waits for the old instance to stop"},
	{"--daemon", "-D", "systemd runs gunicorn and must keep it in the foreground; remove it"},
}

func (d *decoder) checkHealth(h *Health) {
	switch {
	case d.given("health.path") && d.given("health.paths"):
		d.errorf(d.keyAt("health.paths"), "health.paths", "health.path is one path of health.paths: set one of them, not both")
	case d.given("health.path"):
		h.Paths = []string{h.Path}
		d.healthPath("health.path", h.Path)
	case d.given("health.paths"):
		if len(h.Paths) == 0 {
			d.errorf(d.at("health.paths"), "health.paths", "needs at least one path, like [/]")
		}
		for i, p := range h.Paths {
			if k := fmt.Sprintf("health.paths[%d]", i); d.given(k) {
				d.healthPath(k, p)
			}
		}
	default:
		h.Paths = []string{"/"}
	}
	if len(h.Paths) > 0 {
		h.Path = h.Paths[0]
	}
	d.number("health.status", &h.Status, 200, 100, 599, "an HTTP status")
	if d.given("health.host") && h.Host != "" && !hostHeaderRe.MatchString(h.Host) {
		d.errorf(d.at("health.host"), "health.host", "%q is not a Host header like example.com", h.Host)
	}
	if !d.given("health.timeout") {
		h.Timeout = 5 * time.Second
	} else if h.Timeout <= 0 || h.Timeout > 10*time.Minute {
		d.errorf(d.at("health.timeout"), "health.timeout", "must be more than 0s and at most 10m, not %s", h.Timeout)
	}
	d.number("health.retries", &h.Retries, 10, 1, maxCount, "")
}

func (d *decoder) healthPath(key, p string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		d.errorf(d.at(key), key, "%q must start with /", p)
	case !healthPathRe.MatchString(p):
		d.errorf(d.at(key), key, "%q is not a URL path like /health/?db=1: no spaces or quotes; percent-encode other characters", p)
	}
}

func (d *decoder) checkStages(c *Config) {
	if !d.required("", "stages", "at least one stage and its hosts") {
		return
	}
	if len(c.Stages) == 0 {
		d.errorf(d.at("stages"), "stages", "needs at least one stage, like production: {hosts: [deploy@203.0.113.5]}")
	}
	for _, s := range c.Stages {
		key := join("stages", s.Name)
		if !stageRe.MatchString(s.Name) {
			d.errorf(d.keyAt(key), key, "%q is not a valid stage name: use lowercase letters, digits, - and _, starting with a letter", s.Name)
		}
		if d.fields[key].bad {
			continue
		}
		d.checkHosts(key, s)
		if d.given(key + ".strategy") {
			oneOf(d, key+".strategy", &s.Strategy, ReleaseStrategy, ContainerStrategy)
		} else {
			s.Strategy = c.Strategy
		}
		if d.given(key + ".deploy_to") {
			d.absPath(key+".deploy_to", s.DeployTo)
		}
		if k := key + ".ref"; !d.given(k) {
			s.Ref = "HEAD"
		} else if s.Ref == "" || strings.HasPrefix(s.Ref, "-") || strings.ContainsFunc(s.Ref, unicode.IsSpace) {
			// A leading - would reach git as an option, quoted or not.
			d.errorf(d.at(k), k, "%q is not a git ref like main or v1.2.0", s.Ref)
		}
		d.checkEnv(key+".env", s.Env, c.Secrets, true)
		d.checkSecrets(key+".secrets", s.Secrets, c.Env, s.Env)
		if d.given(key + ".secrets_file") {
			d.text(key+".secrets_file", &s.SecretsFile, "")
		}
		d.checkDomains(key+".domains", s.Domains)
		d.checkChecks(key+".checks", &s.Checks, c.Checks.FailLevel)
		if !d.given(key + ".checks.silence") {
			s.Checks.Silence = c.Checks.Silence
		}
	}
}

func (d *decoder) checkHosts(stage string, s *Stage) {
	key := stage + ".hosts"
	const example = "a list of addresses like deploy@203.0.113.5"
	if !d.required(stage, "hosts", example) {
		return
	}
	if len(s.Hosts) == 0 {
		d.errorf(d.at(key), key, "needs at least one host (%s)", example)
		return
	}
	seen := map[string]string{}
	primary := ""
	for i, h := range s.Hosts {
		short := fmt.Sprintf("hosts[%d]", i) // how the stage's other hosts refer to it
		hk := stage + "." + short
		if d.fields[hk].bad {
			continue
		}
		addrKey := hk
		if _, ok := d.fields[hk].val.(*ast.MappingNode); ok {
			addrKey = hk + ".host"
			if !d.required(hk, "host", "an address like deploy@203.0.113.5") {
				continue
			}
		}
		if !d.given(addrKey) {
			continue
		}
		a, err := ParseHostAddress(h.Address)
		if err != nil {
			d.errorf(d.at(addrKey), addrKey, "%v", err)
		} else {
			id := fmt.Sprintf("%s:%d", strings.ToLower(a.Host), a.Port)
			if other, ok := seen[id]; ok {
				d.errorf(d.at(addrKey), addrKey, "%s is already listed as %s", h.Address, other)
			}
			seen[id] = short
		}
		rk := hk + ".roles"
		if !d.given(rk) {
			h.Roles = []Role{WebRole}
		} else if len(h.Roles) == 0 {
			d.errorf(d.at(rk), rk, "needs at least one role: web or worker")
		}
		for j, r := range h.Roles {
			if k := fmt.Sprintf("%s[%d]", rk, j); d.given(k) && r != WebRole && r != WorkerRole {
				d.errorf(d.at(k), k, "unknown role %q: use web or worker", r)
			}
		}
		if h.Primary {
			if primary != "" {
				d.errorf(d.at(hk+".primary"), hk+".primary", "%s is already the primary: a stage has one primary, which runs migrations", primary)
			} else {
				primary = short
			}
		}
	}
}
