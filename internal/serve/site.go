// Package serve is how a release is served on a host: the systemd units
// that run each release's gunicorn, the nginx or Caddy site in front, and
// the health check a release must pass before it gets traffic.
package serve

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
)

// Site is everything the generated server files depend on.
type Site struct {
	App        string
	Root       string // deploy_to
	User       string // runs gunicorn and owns deploy_to
	ProjectDir string
	WSGI       string
	Python     string // interpreter on the host
	Gunicorn   config.Gunicorn
	Web        config.Web
	Domains    []string
	Processes  []*config.Process // the ones this host runs
	Container  bool              // strategy container: each release runs as containers
}

// NewSite gathers the site of one stage as run by user.
func NewSite(c *config.Config, s *config.Stage, user string) Site {
	return Site{
		App: c.App, Root: c.DeployPath(s), User: user, ProjectDir: c.ProjectDir, WSGI: c.WSGI, Python: c.HostPython(s),
		Gunicorn: c.Gunicorn, Web: c.Web, Domains: c.Domains(s), Container: s.Strategy == config.ContainerStrategy,
	}
}

// Unit is the systemd template unit name; an instance per release runs as
// Unit()+"@"+id.
func (s Site) Unit() string { return "hoist-" + s.App }

// Instance is the service of one release.
func (s Site) Instance(id string) string { return s.Unit() + "@" + id }

func (s Site) layout() release.Layout { return release.Layout{Root: s.Root, Container: s.Container} }

// WebGroup is the group the web server runs as; it must reach the sockets.
func (s Site) WebGroup() string {
	if s.Web.Server == config.Caddy {
		return "caddy"
	}
	return "www-data"
}

// HTTPS tells whether the web server terminates TLS for the site.
func (s Site) HTTPS() bool {
	return s.Web.Server == config.Caddy && len(s.Domains) > 0 && s.Web.TLS != config.TLSOff
}

// File is one file setup installs on a host.
type File struct {
	Path    string
	Content []byte
	Mode    string
}

// Files lists every file setup writes for the site, in install order. It
// fails when a value cannot be written safely into its file (see escape.go).
func (s Site) Files() ([]File, error) {
	v := view{Site: s, L: s.layout()}
	type spec struct {
		path string
		t    *template.Template
	}
	specs := []spec{
		{"/etc/systemd/system/" + s.Unit() + "@.socket", socketUnit},
		{"/etc/systemd/system/" + s.Unit() + "@.service", serviceUnit},
	}
	if s.Container {
		specs = []spec{{"/etc/systemd/system/" + s.Unit() + "@.service", containerUnit}}
	}
	switch s.Web.Server {
	case config.Nginx:
		if len(s.Domains) > 0 {
			specs = append(specs, spec{nginxAvailable + catchAllSite, nginxCatchAll})
		}
		specs = append(specs, spec{nginxAvailable + s.nginxSite(), nginxSite})
	case config.Caddy:
		v.CaddyAddresses, v.WWWRedirects = s.caddyAddresses(), s.wwwRedirects()
		specs = append(specs, spec{s.caddySite(), caddySiteTemplate})
	}
	var files []File
	for _, sp := range specs {
		var b bytes.Buffer
		if err := sp.t.Execute(&b, v); err != nil {
			return nil, fmt.Errorf("write %s: %w", sp.path, err)
		}
		files = append(files, File{Path: sp.path, Content: b.Bytes(), Mode: "0644"})
	}
	return files, nil
}

// view is what the templates see: the site, its layout, and the values
// computed for Caddy.
type view struct {
	Site
	L              release.Layout
	CaddyAddresses []string
	WWWRedirects   []string
}

// Every value a template writes goes through the helper of the file's
// format; numbers are the only thing written bare.
var funcs = template.FuncMap{
	"unit":  unitPlain,
	"inst":  unitInstancePath,
	"arg":   unitArg,
	"ngx":   nginxString,
	"caddy": caddyString,
	"add":   func(a, b int) int { return a + b },
	"size":  caddySize,
	"redir": caddyRedirect,

	"ngxStaticRegex": nginxStaticRegex,
	"ngxTry":         nginxTry,
	"caddyTry":       caddyTry,
}

// staticVar names the path of a static file after the static URL, as the
// nginx static location captures it.
const staticVar = "hoist_static"

// nginxStaticRegex matches a URI under the static URL and captures the rest.
// (?s) keeps a newline decoded from %0A inside the capture instead of
// cutting the path there; there is no $ anchor, as nginxString refuses $
// and the greedy capture runs to the end anyway.
func nginxStaticRegex(url string) (string, error) {
	return nginxString("(?s)^" + regexp.QuoteMeta(url) + "(?<" + staticVar + ">.*)")
}

// nginxTry is one try_files entry: dir relative to root, then the captured
// path, in one quoted token (nginx replaces variables inside quotes; the
// value written through nginxString holds no $ of its own).
func nginxTry(root, dir string) (string, error) {
	rel, err := underRoot(root, dir)
	if err != nil {
		return "", err
	}
	q, err := nginxString(rel + "/")
	if err != nil {
		return "", err
	}
	return q[:len(q)-1] + "$" + staticVar + `"`, nil
}

// caddyTry is one try_files entry for Caddy: dir relative to root, then the
// request path handle_path left after the static URL.
func caddyTry(root, dir string) (string, error) {
	rel, err := underRoot(root, dir)
	if err != nil {
		return "", err
	}
	return caddyQuote(rel, "{path}")
}

// underRoot is p relative to root. try_files looks files up under one root,
// and both static dirs lie under deploy_to; the root also bounds what a
// lookup can reach.
func underRoot(root, p string) (string, error) {
	rel := strings.TrimPrefix(p, root)
	if root == "" || rel == p || !strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%s is not under %s", p, root)
	}
	return rel, nil
}

var socketUnit = template.Must(template.New("socket").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{unit .App}}: socket of release %i

[Socket]
ListenStream={{inst (.L.Socket "%i")}}
SocketUser={{unit .User}}
SocketGroup={{unit .WebGroup}}
SocketMode=0660
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
`))

// The service runs from the release's own directory, never through the
// current symlink: each instance keeps its code until it stops.
var serviceUnit = template.Must(template.New("service").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{unit .App}}: gunicorn of release %i
Requires={{unit .Unit}}@%i.socket
After=network.target {{unit .Unit}}@%i.socket

[Service]
Type=notify
NotifyAccess=main
User={{unit .User}}
WorkingDirectory={{inst (.L.Release "%i")}}{{if ne .ProjectDir "."}}/{{unit .ProjectDir}}{{end}}
EnvironmentFile=-{{unit .L.SharedEnv}}
EnvironmentFile={{inst (.L.EnvFile "%i")}}
Environment=HOIST_RELEASE=%i PATH={{inst (.L.Venv "%i")}}/bin:/usr/local/bin:/usr/bin:/bin
ExecStart={{inst (.L.Venv "%i")}}/bin/python -m gunicorn --workers {{.Gunicorn.Workers}} --timeout {{.Gunicorn.Timeout}} --graceful-timeout {{.Gunicorn.GracefulTimeout}} --access-logfile -{{range .Gunicorn.Args}} {{arg .}}{{end}} {{arg .WSGI}}
KillMode=mixed
TimeoutStopSec={{add .Gunicorn.GracefulTimeout 10}}
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
`))

const (
	nginxAvailable = "/etc/nginx/sites-available/"
	// catchAllSite is shared by every app on the host that names domains.
	catchAllSite = "hoist-catchall"
)

func (s Site) nginxSite() string { return "hoist-" + s.App }

// With domains, a catch-all server drops requests for other host names
// (bots scanning IPs), so Django never logs DisallowedHost for them. Its
// content is the same for every app, so apps sharing a host share it.
var nginxCatchAll = template.Must(template.New("catchall").Funcs(funcs).Parse(`# Written by hoist setup: drops requests for host names no app serves.
server {
    listen {{.Web.Port}} default_server;
    listen [::]:{{.Web.Port}} default_server;
    server_name _;
    return 444;
}
`))

// Upstream keepalive stays off: nginx opens a new connection per request
// and so follows live.sock to the new release at once.
var nginxSite = template.Must(template.New("nginx").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
server {
    listen {{.Web.Port}}{{if not .Domains}} default_server{{end}};
    listen [::]:{{.Web.Port}}{{if not .Domains}} default_server{{end}};
    server_name{{range .Domains}} {{ngx .}}{{else}} _{{end}};
    client_max_body_size {{ngx .Web.MaxBodySize}};

    # Static files: the live release's, then those of the earlier releases
    # still on the host (each deploy links them under static-fallback/), so
    # pages those releases rendered keep their hashed CSS and JS. The regex
    # only captures the path after the prefix: which location answers is
    # decided by prefix as usual.
    location {{ngx .Web.StaticURL}} {
        location ~ {{ngxStaticRegex .Web.StaticURL}} {
            root {{ngx .L.Root}};
            try_files {{ngxTry .L.Root .L.LiveStatic}} {{ngxTry .L.Root .L.StaticFallback}} =404;
            expires 7d;
            access_log off;
        }
    }

    location {{ngx .Web.MediaURL}} {
        alias {{ngx (print .L.LiveMedia "/")}};
    }

    location / {
        proxy_pass {{ngx (print "http://unix:" .L.LiveSocket)}};
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_redirect off;
        proxy_read_timeout {{add .Gunicorn.Timeout 5}}s;
    }
}
`))

// String names a file for messages.
func (f File) String() string { return fmt.Sprintf("%s (mode %s)", f.Path, f.Mode) }
