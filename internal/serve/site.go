// Package serve is how a release is served on a host: the systemd units
// that run each release's gunicorn, the nginx or Caddy site in front, and
// the health check a release must pass before it gets traffic.
package serve

import (
	"bytes"
	"fmt"
	"path"
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
}

// NewSite gathers the site of one stage as run by user.
func NewSite(c *config.Config, s *config.Stage, user string) Site {
	return Site{
		App: c.App, Root: c.DeployPath(s), User: user, ProjectDir: c.ProjectDir, WSGI: c.WSGI, Python: c.Python,
		Gunicorn: c.Gunicorn, Web: c.Web, Domains: c.Domains(s),
	}
}

// Unit is the systemd template unit name; an instance per release runs as
// Unit()+"@"+id.
func (s Site) Unit() string { return "hoist-" + s.App }

// Instance is the service of one release.
func (s Site) Instance(id string) string { return s.Unit() + "@" + id }

func (s Site) layout() release.Layout { return release.Layout{Root: s.Root} }

// WebGroup is the group the web server runs as; it must reach the sockets.
func (s Site) WebGroup() string {
	if s.Web.Server == "caddy" {
		return "caddy"
	}
	return "www-data"
}

// HTTPS tells whether the web server terminates TLS for the site.
func (s Site) HTTPS() bool {
	return s.Web.Server == "caddy" && len(s.Domains) > 0 && s.Web.TLS != "off"
}

// File is one file setup installs on a host.
type File struct {
	Path    string
	Content []byte
	Mode    string
}

// Files lists every file setup writes for the site, in install order.
func (s Site) Files() []File {
	files := []File{
		{Path: "/etc/systemd/system/" + s.Unit() + "@.socket", Content: s.render(socketUnit, s), Mode: "0644"},
		{Path: "/etc/systemd/system/" + s.Unit() + "@.service", Content: s.render(serviceUnit, s), Mode: "0644"},
	}
	switch s.Web.Server {
	case "nginx":
		if len(s.Domains) > 0 {
			files = append(files, File{Path: nginxAvailable + catchAllSite, Content: s.render(nginxCatchAll, s), Mode: "0644"})
		}
		files = append(files, File{Path: nginxAvailable + s.nginxSite(), Content: s.render(nginxSite, s), Mode: "0644"})
	case "caddy":
		files = append(files, File{Path: s.caddySite(), Content: s.renderCaddy(), Mode: "0644"})
	}
	return files
}

func (s Site) render(t *template.Template, data any) []byte {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		panic(err) // the templates are ours; a failure is a bug
	}
	return b.Bytes()
}

var funcs = template.FuncMap{
	"join":    path.Join,
	"sdquote": systemdQuote,
	"add":     func(a, b int) int { return a + b },
	"names":   func(d []string) string { return strings.Join(d, " ") },
}

// systemdQuote makes s one word on an ExecStart line.
func systemdQuote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`).Replace(s)
	return `"` + s + `"`
}

var socketUnit = template.Must(template.New("socket").Funcs(funcs).Parse(`# Written by hoist setup for {{.App}}; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{.App}}: socket of release %i

[Socket]
ListenStream={{.Root}}/run/%i.sock
SocketUser={{.User}}
SocketGroup={{.WebGroup}}
SocketMode=0660
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
`))

// The service runs from the release's own directory, never through the
// current symlink: each instance keeps its code until it stops.
var serviceUnit = template.Must(template.New("service").Funcs(funcs).Parse(`# Written by hoist setup for {{.App}}; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{.App}}: gunicorn of release %i
Requires={{.Unit}}@%i.socket
After=network.target {{.Unit}}@%i.socket

[Service]
Type=notify
NotifyAccess=main
User={{.User}}
WorkingDirectory={{join .Root "releases/%i" .ProjectDir}}
EnvironmentFile=-{{.Root}}/shared/.env
EnvironmentFile={{.Root}}/.hoist/env/%i.env
Environment=HOIST_RELEASE=%i PATH={{.Root}}/releases/%i/.venv/bin:/usr/local/bin:/usr/bin:/bin
ExecStart={{.Root}}/releases/%i/.venv/bin/python -m gunicorn --workers {{.Gunicorn.Workers}} --timeout {{.Gunicorn.Timeout}} --graceful-timeout {{.Gunicorn.GracefulTimeout}} --access-logfile -{{range .Gunicorn.Args}} {{sdquote .}}{{end}} {{sdquote .WSGI}}
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
var nginxCatchAll = template.Must(template.New("catchall").Parse(`# Written by hoist setup: drops requests for host names no app serves.
server {
    listen {{.Web.Port}} default_server;
    listen [::]:{{.Web.Port}} default_server;
    server_name _;
    return 444;
}
`))

// Upstream keepalive stays off: nginx opens a new connection per request
// and so follows live.sock to the new release at once.
var nginxSite = template.Must(template.New("nginx").Funcs(funcs).Parse(`# Written by hoist setup for {{.App}}; edit hoist.yml and run setup again instead.
server {
    listen {{.Web.Port}}{{if not .Domains}} default_server{{end}};
    listen [::]:{{.Web.Port}}{{if not .Domains}} default_server{{end}};
    server_name {{if .Domains}}{{names .Domains}}{{else}}_{{end}};
    client_max_body_size {{.Web.MaxBodySize}};

    location {{.Web.StaticURL}} {
        alias {{.Root}}/current/.hoist-static/;
        expires 7d;
        access_log off;
    }

    location {{.Web.MediaURL}} {
        alias {{.Root}}/current/.hoist-media/;
    }

    location / {
        proxy_pass http://unix:{{.Root}}/run/live.sock;
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
