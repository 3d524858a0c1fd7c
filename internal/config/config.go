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
	Strategy           Strategy          `yaml:"strategy"`    // release (default) | container
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
	Container          Container         `yaml:"container"`     // strategy container only
	Web                Web               `yaml:"web"`
	Gunicorn           Gunicorn          `yaml:"gunicorn"`
	Health             Health            `yaml:"health"`
	Packages           []string          `yaml:"packages"`  // Debian packages setup installs on every host
	Processes          []*Process        `yaml:"processes"` // background processes; a mapping in YAML, kept in file order
	Build              []string          `yaml:"build"`     // shell commands run in every new release on every host, after collectstatic
	Release            []string          `yaml:"release"`   // shell commands run once on the primary after migrating, before the switch
	Hooks              Hooks             `yaml:"hooks"`
	Checks             Checks            `yaml:"checks"`
	Stages             []*Stage          `yaml:"stages"` // a mapping in YAML, kept in file order
	// Pipeline is the order hoist ship deploys the stages in, by name; a
	// deploy to a stage refuses a commit the earlier stages did not pass.
	Pipeline []string `yaml:"pipeline"`
}

// Strategy is how a release is built and run on the hosts.
type Strategy string

const (
	// ReleaseStrategy unpacks the commit into a release directory with a
	// virtualenv, run by gunicorn under systemd: the default.
	ReleaseStrategy Strategy = "release"
	// ContainerStrategy builds an image on the deploying machine, ships the
	// layers each host lacks over SSH and runs a container per release.
	ContainerStrategy Strategy = "container"
)

// Container is how the image of strategy container is built and run.
type Container struct {
	Dockerfile string            `yaml:"dockerfile"` // relative to the project root; default Dockerfile
	Context    string            `yaml:"context"`    // the build context, relative to the project root; default .
	BuildArgs  map[string]string `yaml:"build_args"` // docker build --build-arg; never secrets: they stay in the image's history
	// Workdir is the directory inside the image that holds manage.py;
	// shared_dirs and shared_files are relative to it. Default: the
	// image's WORKDIR.
	Workdir string `yaml:"workdir"`
}

// HostPython is the interpreter hoist runs on the hosts of stage s: python,
// except with strategy container, where python names the image's and the
// host's is Debian's python3 (it runs the health probe).
func (c *Config) HostPython(s *Stage) string {
	if s.Strategy == ContainerStrategy {
		return "python3"
	}
	return c.Python
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
	// Standby keeps the previous release's web instance running, idle,
	// after a deploy, so that hoist rollback switches back to a warm
	// instance in about a second instead of booting one. It costs that
	// instance's memory. Default true.
	Standby bool `yaml:"standby"`
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
	Strategy    Strategy          `yaml:"strategy"`  // overrides the app's
	Ref         string            `yaml:"ref"`       // default git ref to deploy; default HEAD
	Env         map[string]string `yaml:"env"`       // merged over the app's
	Secrets     []string          `yaml:"secrets"`   // added to the app's
	SecretsFile string            `yaml:"secrets_file"`
	Domains     []string          `yaml:"domains"` // overrides web.domains
	Checks      Checks            `yaml:"checks"`  // overrides the app's, key by key
	Test        string            `yaml:"test"`    // functional tests run on the deploying machine after a deploy
	URL         string            `yaml:"url"`     // the stage's address for its tests; default from the first domain
	Tags        Tags              `yaml:"tags"`
}

// Tags are the git tags hoist puts on a commit once it is live on a stage.
// Formats may hold {stage}, {commit} (short hash) and the UTC time of the
// deploy as {YYYY}, {MM}, {DD}, {hh}, {mm}, {ss}.
type Tags struct {
	Moving string `yaml:"moving"` // moved to each commit that goes live; default LIVE on the last pipeline stage
	Dated  string `yaml:"dated"`  // a new tag per deploy; default DEPLOYED-{YYYY}-{MM}-{DD}/{hh}{mm} on the last pipeline stage
	Push   bool   `yaml:"push"`   // push the tags to Remote
	Remote string `yaml:"remote"` // default origin
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

// Process is a background process of the app (a Celery worker, a
// management command loop), run per release beside the web processes.
type Process struct {
	Name        string        `yaml:"-"`            // the mapping key
	Command     string        `yaml:"command"`      // a shell command line, run in the release
	Roles       []Role        `yaml:"roles"`        // hosts with these roles run it; default: worker hosts, else the primary
	StopTimeout time.Duration `yaml:"stop_timeout"` // how long a stop waits before SIGKILL; default 30s
}

// Hooks are shell commands run on the deploying machine.
type Hooks struct {
	BeforeDeploy []string `yaml:"before_deploy"`
	AfterDeploy  []string `yaml:"after_deploy"`
	OnFailure    []string `yaml:"on_failure"`
}

// Checks tunes Django's checks before a deploy.
type Checks struct {
	FailLevel FailLevel `yaml:"fail_level"` // error (default) | warning
	Silence   []string  `yaml:"silence"`    // check ids never shown nor fatal, like security.W004
}

// FailLevel is the lowest level of Django check message that stops a
// deploy.
type FailLevel string

const (
	FailOnError   FailLevel = "error"   // errors, DEBUG on, a missing or weak SECRET_KEY stop it; warnings are shown
	FailOnWarning FailLevel = "warning" // every warning stops it too
)
