package serve

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// With strategy container, a release's web instance and processes are the
// same systemd template units as with strategy release (so starting,
// checking, retiring and reconciling them is the same code), but each runs
// a container through the release's own container script, which holds
// everything the release's containers are made of. gunicorn binds a unix
// socket under run/, mounted into the container, where the web server's
// live.sock points after the switch: the cut-over is the same symlink
// switch with no port to allocate and no proxy to reload. systemd cannot
// hand a socket to a container, so there is no socket unit: the health
// check waits until gunicorn binds.
var containerUnit = template.Must(template.New("container").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{unit .App}}: container of release %i
Requires=docker.service
After=docker.service network-online.target

[Service]
Type=simple
ExecStart=/bin/sh {{inst (.L.ContainerScript "%i")}} web
ExecStop=/bin/sh {{inst (.L.ContainerScript "%i")}} stop
TimeoutStopSec={{add .Gunicorn.GracefulTimeout 15}}
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
`))

var containerProcessUnit = template.Must(template.New("container-process").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{unit .App}}: process {{unit .Proc.Name}} of release %i (container)
Requires=docker.service
After=docker.service network-online.target

[Service]
Type=simple
ExecStart=/bin/sh {{inst (.L.ContainerScript "%i")}} process {{unit .Proc.Name}}
ExecStop=/bin/sh {{inst (.L.ContainerScript "%i")}} stop {{unit .Proc.Name}}
TimeoutStopSec={{add .StopSeconds 15}}
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
`))

// ContainerRun is what the containers of one release are made of.
type ContainerRun struct {
	Image   string // the image id every container of the release runs
	Ref     string // the image's tag on the host; removing the release removes it
	Python  string // the interpreter inside the image
	Workdir string // the project directory inside the image: holds manage.py
	// StaticRoot is STATIC_ROOT inside the image, once the release's
	// settings are known: its collected static files are mounted there,
	// where Django (a manifest storage, compressor) looks for them.
	StaticRoot              string
	SharedFiles, SharedDirs []string // mounted from shared/ under Workdir
}

// ContainerName is the name of release id's web container; its processes'
// are ContainerName(id)+"."+name.
func (s Site) ContainerName(id string) string { return s.Unit() + "-" + id }

// ContainerScript renders the container script of release id (see
// release.Layout.ContainerScript). Every value in it is quoted by
// remote.Quote. Its modes: web and process NAME run a container in the
// foreground for systemd; exec ARGV runs a one-off container (manage.py,
// migrations, build and release commands, hoist run); stop [NAME] stops
// one gracefully; tag tags the image; remove removes the release's
// containers and its tag, and with it the image once no release uses it.
//
// Every container runs with the host's network, so the app reaches its
// database and broker at the addresses the host uses (localhost included)
// exactly as with strategy release, and as the owner of shared/ (the
// deploy user), so what it writes there stays the deploy user's.
func (s Site) ContainerScript(id string, r ContainerRun) (string, error) {
	if !release.ValidID(id) {
		return "", fmt.Errorf("invalid release id %q", id)
	}
	l := s.layout()
	q := remote.Quote
	mounts := func(list []string) string {
		var b strings.Builder
		for _, p := range list {
			fmt.Fprintf(&b, " -v %s", q(path.Join(l.Shared(), p)+":"+path.Join(r.Workdir, p)))
		}
		return b.String()
	}
	static := ""
	if r.StaticRoot != "" {
		if err := release.MountPath(r.StaticRoot); err != nil {
			return "", fmt.Errorf("STATIC_ROOT %w", err)
		}
		static = " -v " + q(l.Static(id)+":"+r.StaticRoot)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Written by hoist for release %s: how its containers run. Edit hoist.yml, not this.\n", id)
	w("set -e\nsudo=; [ \"$(id -u)\" = 0 ] || sudo=\"sudo -n\"\nname=%s\n", q(s.ContainerName(id)))
	w("run() {\n\texec $sudo docker run --rm --network host --user \"$(stat -c %%u:%%g %s)\" --env-file %s -e %s --workdir %s --label %s --label %s%s%s%s \"$@\"\n}\n",
		q(l.Shared()), q(l.EnvFile(id)), q("HOIST_RELEASE="+id), q(r.Workdir), q("hoist.app="+s.App), q("hoist.release="+id),
		mounts(r.SharedDirs), mounts(r.SharedFiles), static)
	w("case ${1:-} in\nweb)\n\t$sudo docker rm -f \"$name\" >/dev/null 2>&1 || true\n")
	gunicorn := []string{r.Python, "-m", "gunicorn", "--bind", "unix:" + l.Socket(id), "--workers", strconv.Itoa(s.Gunicorn.Workers),
		"--timeout", strconv.Itoa(s.Gunicorn.Timeout), "--graceful-timeout", strconv.Itoa(s.Gunicorn.GracefulTimeout), "--access-logfile", "-"}
	gunicorn = append(append(gunicorn, s.Gunicorn.Args...), s.WSGI)
	w("\trun --name \"$name\" -v %s %s %s ;;\n", q(l.Run()+":"+l.Run()), q(r.Image), remote.Command(gunicorn...))
	w("process)\n\tcase ${2:-} in\n")
	for _, p := range s.Processes {
		// sh execs the command, so the signals docker stop sends reach the
		// app itself (Celery's warm shutdown needs the SIGTERM).
		w("\t%s)\n\t\t$sudo docker rm -f \"$name.$2\" >/dev/null 2>&1 || true\n\t\trun --name \"$name.$2\" %s sh -c 'eval \"exec $1\"' sh %s ;;\n",
			q(p.Name), q(r.Image), q(p.Command))
	}
	w("\t*) echo \"hoist: release %s runs no process ${2:-}\" >&2; exit 2 ;;\n\tesac ;;\n", id)
	w("exec)\n\tshift\n\t[ \"${1:-}\" != python ] || { shift; set -- %s \"$@\"; }\n", q(r.Python))
	w("\ttty=; if [ -t 0 ] && [ -t 1 ]; then tty=-t; fi\n\trun -i $tty -v %s %s \"$@\" ;;\n", q(l.Release(id)+":"+l.Release(id)), q(r.Image))
	w("stop)\n\tcase ${2:-} in\n\t'') t=%d ;;\n", s.Gunicorn.GracefulTimeout)
	for _, p := range s.Processes {
		w("\t%s) t=%d ;;\n", q(p.Name), int(p.StopTimeout/time.Second))
	}
	w("\t*) t=30 ;;\n\tesac\n\t$sudo docker stop -t \"$t\" \"$name${2:+.$2}\" >/dev/null 2>&1 || true ;;\n")
	w("tag) $sudo docker tag %s %s ;;\n", q(r.Image), q(r.Ref))
	w("remove)\n\tfor c in $($sudo docker ps -aq --filter %s --filter %s); do $sudo docker rm -f \"$c\" >/dev/null; done\n",
		q("label=hoist.app="+s.App), q("label=hoist.release="+id))
	w("\t$sudo docker image rm %s >/dev/null 2>&1 || true ;;\n", q(r.Ref))
	w("*) echo \"usage: $0 web | process NAME | exec ARGV... | stop [NAME] | tag | remove\" >&2; exit 2 ;;\nesac\n")
	return b.String(), nil
}
