// Package config reads and validates hoist.yml.
package config

import "time"

// FileName is the name hoist looks for at the project root.
const FileName = "hoist.yml"

// Config is hoist.yml after defaults are applied.
type Config struct {
	// Dir is the directory holding hoist.yml (not a YAML key).
	Dir string `yaml:"-"`

	App                string            `yaml:"app"`
	Strategy           string            `yaml:"strategy"`    // release (default); container is planned and refused for now
	DeployTo           string            `yaml:"deploy_to"`   // default /srv/<app>
	ProjectDir         string            `yaml:"project_dir"` // holds manage.py, relative to Dir; default "."
	Python             string            `yaml:"python"`      // interpreter on the hosts; default python3
	SystemSitePackages bool              `yaml:"system_site_packages"`
	Requirements       string            `yaml:"requirements"` // relative to Dir; default requirements.txt if present
	Settings           string            `yaml:"settings"`     // DJANGO_SETTINGS_MODULE
	WSGI               string            `yaml:"wsgi"`         // default <settings package>.wsgi:application
	Env                map[string]string `yaml:"env"`
	Secrets            []string          `yaml:"secrets"`
	SecretsFile        string            `yaml:"secrets_file"`
	SharedFiles        []string          `yaml:"shared_files"`
	SharedDirs         []string          `yaml:"shared_dirs"`
	KeepReleases       int               `yaml:"keep_releases"` // default 5
	Web                Web               `yaml:"web"`
	Gunicorn           Gunicorn          `yaml:"gunicorn"`
	Health             Health            `yaml:"health"`
	Stages             []*Stage          `yaml:"stages"` // a mapping in YAML, kept in file order
}

// WebServer is the web server in front of gunicorn on each web host.
type WebServer string

const (
	Nginx       WebServer = "nginx" // the default
	Caddy       WebServer = "caddy"
	NoWebServer WebServer = "none" // the user runs their own
)

// TLS says how Caddy gets certificates; nginx ignores it.
type TLS string

const (
	TLSAuto     TLS = "auto"     // the default: ACME (Let's Encrypt)
	TLSInternal TLS = "internal" // Caddy's own CA, for staging and tests
	TLSOff      TLS = "off"      // plain HTTP
)

// Web is the front web server on each web host.
type Web struct {
	Server      WebServer `yaml:"server"`        // nginx (default) | caddy | none
	Domains     []string  `yaml:"domains"`       // empty: any host name
	Port        int       `yaml:"port"`          // default 80
	StaticURL   string    `yaml:"static_url"`    // default /static/
	MediaURL    string    `yaml:"media_url"`     // default /media/
	MaxBodySize string    `yaml:"max_body_size"` // default 10m
	TLS         TLS       `yaml:"tls"`           // caddy only: auto (default) | internal | off
}

// Gunicorn is how each release's app server runs.
type Gunicorn struct {
	Workers         int      `yaml:"workers"`          // default 2
	Timeout         int      `yaml:"timeout"`          // seconds, default 30
	GracefulTimeout int      `yaml:"graceful_timeout"` // seconds, default 30
	Args            []string `yaml:"args"`
}

// Health is the check a new release must pass before it gets traffic.
type Health struct {
	// Paths are checked in turn, each must pass; default [/]. health.path
	// is a one-item shorthand: after Load, Path is Paths[0].
	Paths    []string      `yaml:"paths"`
	Path     string        `yaml:"path"`
	Status   int           `yaml:"status"`   // default 200
	Contains string        `yaml:"contains"` // optional text the body must hold
	Host     string        `yaml:"host"`     // Host header; default first domain, else first ALLOWED_HOSTS entry
	Timeout  time.Duration `yaml:"timeout"`  // per attempt, default 5s
	Retries  int           `yaml:"retries"`  // default 10
}

// Stage is one named environment.
type Stage struct {
	Name        string            `yaml:"-"` // the mapping key
	Hosts       []*Host           `yaml:"hosts"`
	DeployTo    string            `yaml:"deploy_to"` // overrides the app's
	Ref         string            `yaml:"ref"`       // default git ref to deploy; default HEAD
	Env         map[string]string `yaml:"env"`       // merged over the app's
	Secrets     []string          `yaml:"secrets"`   // added to the app's
	SecretsFile string            `yaml:"secrets_file"`
	Domains     []string          `yaml:"domains"` // overrides web.domains
}

// Host is one SSH target. In YAML it is either a string or a mapping.
type Host struct {
	Address string `yaml:"host"`  // user@host:port, an ~/.ssh/config alias, or "local"
	Roles   []Role `yaml:"roles"` // default [web]
	Primary bool   `yaml:"primary"`
}

// Role is what a host does for the app.
type Role string

const (
	WebRole    Role = "web"    // serves HTTP: gunicorn behind the web server
	WorkerRole Role = "worker" // gets every release, serves no HTTP
)
