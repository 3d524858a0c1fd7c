package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// layoutScript creates the directory layout, owned by the deploy user:
// $2 is deploy_to, $7 the state dir (private), the rest are public.
const layoutScript = `
set -e
user=$1 state=$7
group=$(id -gn "$user")
install -d -o "$user" -g "$group" -m 0755 "$2" "$3" "$4" "$5" "$6"
install -d -o "$user" -g "$group" -m 0700 "$state"
shift 7
for d in "$@"; do install -d -o "$user" -g "$group" -m 0755 "$d"; done
`

// Setup prepares every host of the stage to receive releases: packages,
// directories, systemd units, the web server site. Running it again
// changes nothing. It holds the stage's lock while it changes units and
// sites, so it never runs beside a deploy; packages go in before the lock
// (which lives in the layout) and apt has its own.
func (t *Target) Setup(ctx context.Context, command string) error {
	if err := Each(ctx, t.Hosts, "setup", t.prepare); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lock, err := t.TakeLock(ctx, command, cancel)
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	// Like every command that takes the lock, repair what a dead run left.
	if _, err := t.reconcile(ctx, t.gunicorn("")); err != nil {
		return err
	}
	return Each(ctx, t.Hosts, "setup", t.install)
}

// prepare checks sudo, installs what a release needs and the packages of
// hoist.yml, and makes the directory layout (where the lock lives).
func (t *Target) prepare(ctx context.Context, h *remote.Host) error {
	c, u := t.Config, t.UI
	if !h.Root {
		if _, err := remote.Output(ctx, h, remote.Command("sudo", "-n", "true")); err != nil {
			return fmt.Errorf("%s cannot run sudo without a password, and setup needs root to install systemd units and the web server site.\n"+
				"As root on the host, run: echo '%s ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/%s (or connect as root for setup)", h.User, h.User, h.User)
		}
	} else {
		u.Step(h.Name, "setup", "warning: connected as root, so the app will run as root; prefer a deploy user with sudo")
	}
	server := c.Web.Server
	if !t.isWeb(h) {
		server = config.NoWebServer
	}
	if err := t.installPackages(ctx, h, server); err != nil {
		return err
	}
	if t.Stage.Strategy == config.ContainerStrategy {
		if err := t.startDocker(ctx, h); err != nil {
			return err
		}
	}
	l := t.Layout
	args := []string{h.User, l.Root, l.Releases(), l.Venvs(), l.Shared(), l.Run(), l.State()}
	for _, d := range c.SharedDirs {
		args = append(args, path.Join(l.Shared(), d))
	}
	if _, err := remote.Output(ctx, h, h.SudoScript(layoutScript, args...)); err != nil {
		return fmt.Errorf("create %s: %w", l.Root, err)
	}
	return nil
}

// install writes the units and the web server site, and marks the host set
// up for this hoist.yml.
func (t *Target) install(ctx context.Context, h *remote.Host) error {
	site := t.Site(h)
	if !t.isWeb(h) {
		site.Web.Server = config.NoWebServer
	}
	changes, err := serve.Install(ctx, h, site)
	for _, ch := range changes {
		state := "unchanged"
		if ch.Changed {
			state = "changed"
		}
		t.UI.Step(h.Name, "setup", "%-9s %s", state, ch.What)
	}
	if err != nil {
		return err
	}
	marker, _ := json.Marshal(map[string]string{"fingerprint": t.Site(h).Fingerprint(), "app": t.Config.App})
	_, err = remote.OutputWithInput(ctx, h, remote.Script(`cat > "$1"`, t.Layout.SetupMarker()), strings.NewReader(string(marker)+"\n"))
	return err
}

// startDocker starts the Docker engine and enables it at boot, where the
// containers' units need it.
func (t *Target) startDocker(ctx context.Context, h *remote.Host) error {
	script := `
if systemctl is-active --quiet docker.service && systemctl is-enabled --quiet docker.service; then echo running; exit 0; fi
systemctl enable --now docker.service >/dev/null 2>&1 || { systemctl status --no-pager docker.service >&2; exit 1; }
docker info >/dev/null || exit 1
echo started`
	out, err := remote.Output(ctx, h, h.SudoScript(script))
	if err != nil {
		return fmt.Errorf("start Docker (systemctl enable --now docker): %w", err)
	}
	if strings.TrimSpace(out) == "started" {
		t.UI.Step(h.Name, "setup", "changed   docker.service started and enabled at boot")
	} else {
		t.UI.Step(h.Name, "setup", "unchanged docker.service running")
	}
	return nil
}
