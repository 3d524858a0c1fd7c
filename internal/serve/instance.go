package serve

import (
	"context"
	"strconv"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// StartCmd starts the gunicorn instance of release id beside whatever runs.
// A crash-looping instance from an earlier try is reset first, and a stop
// scheduled by an earlier switch away from id is cancelled (a rollback
// right after a deploy returns to an instance that is still draining). A
// stop that timer already began must end first: its stop job would cancel
// the start.
func StartCmd(h *remote.Host, s Site, id string) string {
	script := `
timer=$1; shift
systemctl stop "$timer.timer" 2>/dev/null
for i in $(seq 600); do systemctl is-active --quiet "$timer.service" || break; sleep 0.1; done
systemctl reset-failed "$@" 2>/dev/null
systemctl start "$@" || { sleep 1; systemctl start "$@"; }`
	return h.SudoScript(script, append([]string{s.stopTimer(id)}, s.instanceUnits(id)...)...)
}

// instanceUnits are the units of release id's web instance: its socket
// (strategy release) and its service.
func (s Site) instanceUnits(id string) []string {
	if s.Container {
		return []string{s.Instance(id) + ".service"}
	}
	return []string{s.Instance(id) + ".socket", s.Instance(id) + ".service"}
}

// Stop stops release instances now. gunicorn gets SIGTERM and finishes the
// requests it holds within graceful_timeout.
func Stop(ctx context.Context, h *remote.Host, s Site, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	argv := []string{"systemctl", "stop"}
	for _, id := range ids {
		argv = append(argv, s.instanceUnits(id)...)
	}
	_, err := remote.Output(ctx, h, h.Sudo(argv...))
	return err
}

// stopTimer names the transient unit that stops a retired instance later.
func (s Site) stopTimer(id string) string { return s.Unit() + "-stop-" + id }

// retireScript makes $2 the instance systemd starts at boot, and no other,
// then has systemd stop each older instance after $3 seconds, on its own:
// the command returns at once, and a stop is never lost with the SSH link.
// A timer's AccuracySec defaults to a minute, which systemd may use to
// coalesce wake-ups: without a tighter one the old instance could run, and
// stop in the middle of the next command, up to a minute late.
// Enabling only matters at boot, which reads the links afresh: --no-reload
// spares a daemon-reload, most of a second on a busy host.
const retireScript = `
set -e
unit=$1 live=$2 delay=$3 socket=$4; shift 4
for f in /etc/systemd/system/sockets.target.wants/$unit@*.socket /etc/systemd/system/multi-user.target.wants/$unit@*.service; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	case "$f" in *"@$live."*) ;; *) rm -f "$f" ;; esac
done
if [ "$socket" = yes ]; then
	systemctl enable --quiet --no-reload "$unit@$live.socket" "$unit@$live.service"
else
	systemctl enable --quiet --no-reload "$unit@$live.service"
fi
for id in "$@"; do
	t="$unit-stop-$id"
	systemctl stop "$t.timer" "$t.service" 2>/dev/null || true
	systemctl reset-failed "$t.timer" "$t.service" 2>/dev/null || true
	if [ "$socket" = yes ]; then
		systemd-run --quiet --collect --unit="$t" --on-active="$delay" --timer-property=AccuracySec=100ms systemctl stop "$unit@$id.service" "$unit@$id.socket"
	else
		systemd-run --quiet --collect --unit="$t" --on-active="$delay" --timer-property=AccuracySec=100ms systemctl stop "$unit@$id.service"
	fi
done
`

// RetireCmd makes live the instance that starts at boot and stops the
// others once their sockets have drained.
func RetireCmd(h *remote.Host, s Site, live string, others []string) string {
	socket := "yes"
	if s.Container {
		socket = "no"
	}
	args := append([]string{s.Unit(), live, strconv.Itoa(int(DrainTime / time.Second)), socket}, others...)
	return h.SudoScript(retireScript, args...)
}

// DrainTime is how long the old socket keeps being served after a switch:
// nginx may already have connections queued on it, which would be reset if
// the old instance stopped at once.
const DrainTime = 2 * time.Second
