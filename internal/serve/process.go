package serve

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// ProcessUnit is the systemd template unit of a background process; an
// instance per release runs as ProcessUnit(name)+"@"+id. The dot cannot
// be in an app name, so no other app's units match hoist-<app>.*.
func (s Site) ProcessUnit(name string) string { return s.Unit() + "." + name }

// processUnits names the template units of the host's processes.
func (s Site) processUnits() []string {
	var units []string
	for _, p := range s.Processes {
		units = append(units, s.ProcessUnit(p.Name))
	}
	return units
}

// The command comes from the release's own environment file
// (ProcessEnv), so each release runs the command it was deployed with and
// changing a command needs no setup. It runs through sh with exec, so the
// process systemd signals is the app's own (Celery's warm shutdown needs
// the SIGTERM itself); only the main process gets it (KillMode=mixed),
// which then stops its children.
var processUnit = template.Must(template.New("process").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
[Unit]
Description=hoist {{unit .App}}: process {{unit .Proc.Name}} of release %i
After=network.target

[Service]
Type=simple
User={{unit .User}}
WorkingDirectory={{inst (.L.Release "%i")}}{{if ne .ProjectDir "."}}/{{unit .ProjectDir}}{{end}}
EnvironmentFile=-{{unit .L.SharedEnv}}
EnvironmentFile={{inst (.L.EnvFile "%i")}}
Environment=HOIST_RELEASE=%i PATH={{inst (.L.Venv "%i")}}/bin:/usr/local/bin:/usr/bin:/bin
ExecStart=/bin/sh -c {{arg (print "eval \"exec $" .EnvName "\"")}}
KillMode=mixed
TimeoutStopSec={{.StopSeconds}}
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
`))

// ProcessEnv names the variable of a release's environment file that
// holds the command of process name.
func ProcessEnv(name string) string {
	return "HOIST_PROCESS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// processFiles are the unit files of the host's processes.
func (s Site) processFiles() ([]File, error) {
	var files []File
	for _, p := range s.Processes {
		v := struct {
			view
			Proc        *config.Process
			EnvName     string
			StopSeconds int
		}{view{Site: s, L: s.layout()}, p, ProcessEnv(p.Name), int(p.StopTimeout / time.Second)}
		t := processUnit
		if s.Container {
			t = containerProcessUnit
		}
		var b bytes.Buffer
		if err := t.Execute(&b, v); err != nil {
			return nil, fmt.Errorf("process %s: %w", p.Name, err)
		}
		files = append(files, File{Path: "/etc/systemd/system/" + s.ProcessUnit(p.Name) + "@.service", Content: b.Bytes(), Mode: "0644"})
	}
	return files, nil
}

// allFiles is every file setup installs: the site's and the processes'.
func (s Site) allFiles() ([]File, error) {
	files, err := s.Files()
	if err != nil {
		return nil, err
	}
	procs, err := s.processFiles()
	return append(files, procs...), err
}

// ProcessSettle is how long a new release's processes must stay up before
// the switch: one that exits at start (a bad import, a broker it cannot
// reach) fails the deploy while the old ones still run.
var ProcessSettle = 3 * time.Second

// StartProcesses starts the host's processes of release id beside the old
// ones, and returns once they are started.
func StartProcesses(ctx context.Context, h *remote.Host, s Site, id string) error {
	if len(s.Processes) == 0 {
		return nil
	}
	var units []string
	for _, u := range s.processUnits() {
		units = append(units, u+"@"+id+".service")
	}
	script := `systemctl reset-failed "$@" 2>/dev/null; systemctl start "$@"`
	if _, err := remote.Output(ctx, h, h.SudoScript(script, units...)); err != nil {
		return fmt.Errorf("start processes %s: %w", strings.Join(units, ", "), err)
	}
	return nil
}

// CheckProcesses fails when a process of release id is not running, or
// had to be restarted since it started: a process that dies at once would
// otherwise be restarted in a loop behind a "successful" deploy.
func CheckProcesses(ctx context.Context, h *remote.Host, s Site, id string) error {
	for _, p := range s.Processes {
		unit := s.ProcessUnit(p.Name) + "@" + id + ".service"
		out, err := remote.Output(ctx, h, remote.Command("systemctl", "show", "-p", "ActiveState", "-p", "NRestarts", unit))
		if err != nil {
			return err
		}
		if !strings.Contains(out, "ActiveState=active") || !strings.Contains(out, "NRestarts=0") {
			log, _ := remote.Output(ctx, h, h.Sudo("journalctl", "-u", unit, "-n", "20", "--no-pager", "-o", "cat"))
			return fmt.Errorf("process %s (%s) did not stay up:\n%s", p.Name, p.Command, strings.TrimSpace(remote.Redact(log)))
		}
	}
	return nil
}

// StopProcesses stops the host's processes of releases ids and waits: each
// gets SIGTERM, then SIGKILL after its stop_timeout.
func StopProcesses(ctx context.Context, h *remote.Host, s Site, ids ...string) error {
	var units []string
	for _, id := range ids {
		for _, u := range s.processUnits() {
			units = append(units, u+"@"+id+".service")
		}
	}
	if len(units) == 0 {
		return nil
	}
	// A process added to hoist.yml has no unit until setup installs it:
	// there is nothing of it to stop.
	script := `set -e; for u in "$@"; do if systemctl cat "$u" >/dev/null 2>&1; then systemctl stop "$u"; fi; done`
	_, err := remote.Output(ctx, h, h.SudoScript(script, units...))
	return err
}

// retireProcessesScript makes $1's processes the ones that start at boot
// and has systemd stop every other instance of the units given, without
// waiting: a worker finishing its tasks (Celery's warm shutdown) may take
// up to its stop_timeout, which the command need not wait for.
const retireProcessesScript = `
set -e
live=$1; shift
for u in "$@"; do
	for f in /etc/systemd/system/multi-user.target.wants/$u@*.service; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		case "$f" in *"@$live.service") ;; *) rm -f "$f" ;; esac
	done
	systemctl enable --quiet --no-reload "$u@$live.service"
	for s in $(systemctl list-units --no-legend --plain --state=active,activating,reloading "$u@*.service" | awk '{print $1}'); do
		[ "$s" = "$u@$live.service" ] || systemctl stop --no-block "$s"
	done
done
`

// RetireProcessesCmd makes live's processes the boot ones and stops the
// rest; "" when the app has no processes.
func RetireProcessesCmd(h *remote.Host, s Site, live string) string {
	if len(s.Processes) == 0 {
		return ""
	}
	return h.SudoScript(retireProcessesScript, append([]string{live}, s.processUnits()...)...)
}
