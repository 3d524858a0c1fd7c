package serve

import (
	"context"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Start starts the gunicorn instance of release id beside whatever runs.
// A crash-looping instance from an earlier try is reset first.
func Start(ctx context.Context, h *remote.Host, s Site, id string) error {
	unit := s.Instance(id)
	script := `systemctl reset-failed "$1.service" "$1.socket" 2>/dev/null; systemctl start "$1.socket" "$1.service"`
	_, err := remote.Output(ctx, h, h.SudoScript(script, unit))
	return err
}

// Stop stops release instances. gunicorn gets SIGTERM and finishes the
// requests it holds within graceful_timeout.
func Stop(ctx context.Context, h *remote.Host, s Site, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	argv := []string{"systemctl", "stop"}
	for _, id := range ids {
		argv = append(argv, s.Instance(id)+".service", s.Instance(id)+".socket")
	}
	_, err := remote.Output(ctx, h, h.Sudo(argv...))
	return err
}

// Enable makes id the instance systemd starts at boot, and no other.
func Enable(ctx context.Context, h *remote.Host, s Site, id string) error {
	script := `set -e
unit=$1; live=$2
for f in /etc/systemd/system/sockets.target.wants/$unit@*.socket /etc/systemd/system/multi-user.target.wants/$unit@*.service; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	case "$f" in *"@$live."*) ;; *) rm -f "$f" ;; esac
done
systemctl enable --quiet "$unit@$live.socket" "$unit@$live.service"`
	_, err := remote.Output(ctx, h, h.SudoScript(script, s.Unit(), id))
	return err
}

// Running lists the release ids whose instance is active on the host.
func Running(ctx context.Context, h *remote.Host, s Site) ([]string, error) {
	out, err := remote.Output(ctx, h, remote.Command("systemctl", "list-units", "--no-legend", "--plain", "--state=active", s.Unit()+"@*.service"))
	if err != nil {
		return nil, err
	}
	return instanceIDs(out, s.Unit()+"@"), nil
}

// DrainTime is how long the old socket keeps being served after a switch:
// nginx may already have connections queued on it, which would be reset if
// the old instance stopped at once.
const DrainTime = 2 * time.Second
