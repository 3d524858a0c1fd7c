package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// toolsScript lists what a host lacks to run a release, as Debian package
// names, so the fix is one apt-get line.
const toolsScript = `
py=$1; web=$2; missing=""
"$py" -c 'import venv, ensurepip' 2>/dev/null || missing="$missing python3-venv"
command -v systemctl >/dev/null 2>&1 || missing="$missing systemd"
if [ "$web" = nginx ]; then command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"; fi
if [ "$web" = caddy ]; then command -v caddy >/dev/null 2>&1 || missing="$missing caddy"; fi
echo "$missing"
`

// layoutScript creates the directory layout, owned by the deploy user.
const layoutScript = `
set -e
root=$1; user=$2; shift 2
install -d -o "$user" -g "$(id -gn "$user")" -m 0755 "$root" "$root/releases" "$root/venvs" "$root/shared" "$root/run"
install -d -o "$user" -g "$(id -gn "$user")" -m 0700 "$root/.hoist"
for d in "$@"; do install -d -o "$user" -g "$(id -gn "$user")" -m 0755 "$root/shared/$d"; done
`

// Setup prepares every host of the stage to receive releases: directories,
// systemd units, the web server site. Running it again changes nothing.
func (t *Target) Setup(ctx context.Context) error {
	c := t.Config
	return Each(ctx, t.Hosts, "setup", func(ctx context.Context, h *remote.Host) error {
		u := t.UI
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
			server = "none"
		}
		out, err := remote.Output(ctx, h, remote.Script(toolsScript, c.Python, server))
		if err != nil {
			return err
		}
		if missing := strings.TrimSpace(out); missing != "" {
			return fmt.Errorf("the host lacks what hoist needs; install it with: sudo apt-get install -y %s", missing)
		}
		dirs := append([]string{}, c.SharedDirs...)
		if _, err := remote.Output(ctx, h, h.SudoScript(layoutScript, append([]string{t.Layout.Root, h.User}, dirs...)...)); err != nil {
			return fmt.Errorf("create %s: %w", t.Layout.Root, err)
		}
		site := t.Site(h)
		if !t.isWeb(h) {
			site.Web.Server = "none"
		}
		changes, err := serve.Install(ctx, h, site)
		for _, ch := range changes {
			state := "unchanged"
			if ch.Changed {
				state = "changed"
			}
			u.Step(h.Name, "setup", "%-9s %s", state, ch.What)
		}
		if err != nil {
			return err
		}
		marker, _ := json.Marshal(map[string]string{"fingerprint": t.Site(h).Fingerprint(), "app": c.App})
		if _, err := remote.OutputWithInput(ctx, h, remote.Script(`cat > "$1"`, t.Layout.SetupMarker()), strings.NewReader(string(marker)+"\n")); err != nil {
			return err
		}
		return nil
	})
}
