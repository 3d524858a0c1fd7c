package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// packagesScript prints one line per package setup cares about: "present
// PKG" or "missing PKG"; then "no-systemd" and "no-apt" when the host lacks
// those. hoist's own needs ($1 the python, $2 the web server, and for $3
// container Docker instead of python3-venv) are judged by
// whether the tool works, so a server whose python or nginx came from
// elsewhere is not given a second one; the packages of hoist.yml ($3...) by
// dpkg's status.
const packagesScript = `
py=$1 web=$2 strategy=$3
shift 3
say() { if "$@" >/dev/null 2>&1; then echo present; else echo missing; fi; }
echo "$(say command -v "$py") python3"
case $strategy in
container) echo "$(say command -v docker) docker.io" ;;
*) echo "$(say "$py" -c 'import venv, ensurepip') python3-venv" ;;
esac
case $web in
nginx) echo "$(say sh -c 'command -v nginx || test -x /usr/sbin/nginx') nginx" ;;
caddy) echo "$(say command -v caddy) caddy" ;;
esac
for p in "$@"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ]; then
		echo "present $p"
	else
		echo "missing $p"
	fi
done
command -v systemctl >/dev/null 2>&1 || echo no-systemd
command -v apt-get >/dev/null 2>&1 || echo no-apt
`

// aptUpdateScript and aptInstallScript run as root. The lock timeout
// waits out unattended-upgrades, busy on a freshly booted server.
//
// apt-get update exits 0 when a source cannot be fetched, and the install
// would then only say it cannot locate the package: the script fails on
// apt's (untranslated) fetch warnings and passes them on.
const aptUpdateScript = `
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
msgs=$(apt-get -q -o DPkg::Lock::Timeout=300 update 2>&1 >/dev/null); rc=$?
[ -z "$msgs" ] || printf '%s\n' "$msgs" >&2
case $msgs in *"Failed to fetch"*|*"failed to download"*) exit 100 ;; esac
exit $rc
`

// Recommends stay on, as on any server (python3-django recommends the
// libjs-jquery its admin links to); confold keeps a config file someone
// already edited.
const aptInstallScript = `DEBIAN_FRONTEND=noninteractive LC_ALL=C exec apt-get -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold install "$@"`

// hostPackages is what packagesScript found on a host.
type hostPackages struct {
	present, missing []string
	noSystemd, noApt bool
}

// checkPackages asks h which of hoist's needs and of the packages of
// hoist.yml it lacks. server is the web server h runs.
func (t *Target) checkPackages(ctx context.Context, h *remote.Host, server config.WebServer) (hostPackages, error) {
	var p hostPackages
	args := append([]string{t.Config.HostPython(t.Stage), string(server), string(t.Stage.Strategy)}, t.Config.Packages...)
	out, err := remote.Output(ctx, h, remote.Script(packagesScript, args...))
	if err != nil {
		return p, fmt.Errorf("check installed packages: %w", err)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "no-systemd":
			p.noSystemd = true
		case len(f) == 1 && f[0] == "no-apt":
			p.noApt = true
		case len(f) != 2:
		case slices.Contains(p.present, f[1]) || slices.Contains(p.missing, f[1]):
			// hoist.yml may list python3 or nginx too: report it once.
		case f[0] == "present":
			p.present = append(p.present, f[1])
		case f[0] == "missing":
			p.missing = append(p.missing, f[1])
		}
	}
	return p, nil
}

// installPackages installs with apt-get what h lacks of hoist's needs and
// of the packages of hoist.yml, and only that, so a second run installs
// nothing. It reports every package as a setup step.
func (t *Target) installPackages(ctx context.Context, h *remote.Host, server config.WebServer) error {
	u := t.UI
	p, err := t.checkPackages(ctx, h, server)
	if err != nil {
		return err
	}
	if p.noSystemd {
		return fmt.Errorf("the host has no systemd (systemctl), and hoist runs the app as systemd units: use a Debian or Ubuntu server booted with systemd")
	}
	for _, name := range p.present {
		u.Step(h.Name, "setup", "package   %s already installed", name)
	}
	if len(p.missing) == 0 {
		u.Step(h.Name, "setup", "packages  nothing to install")
		return nil
	}
	list := strings.Join(p.missing, " ")
	if p.noApt {
		return fmt.Errorf("the host lacks %s and has no apt-get (hoist installs packages on Debian and Ubuntu only): install them by hand, then run hoist setup again", list)
	}
	u.Step(h.Name, "setup", "packages  installing %s (apt-get)", list)
	if _, err := remote.Output(ctx, h, h.SudoScript(aptUpdateScript)); err != nil {
		return fmt.Errorf("apt-get update failed, so nothing was installed; fix the host's APT sources (/etc/apt/sources.list, /etc/apt/sources.list.d) and run hoist setup again: %w", err)
	}
	if _, err := remote.Output(ctx, h, h.SudoScript(aptInstallScript, p.missing...)); err != nil {
		return fmt.Errorf("apt-get install %s failed; fix what apt says and run hoist setup again: %w", list, err)
	}
	// Installing a package is not always enough: python may name an
	// interpreter that python3-venv does not serve.
	after, err := t.checkPackages(ctx, h, server)
	if err != nil {
		return err
	}
	for _, name := range p.missing {
		if slices.Contains(after.missing, name) {
			return fmt.Errorf("apt-get installed %s, but the host still lacks %s; if it is python3-venv, check that python: %s in hoist.yml is the interpreter Debian's python3 provides", list, name, t.Config.HostPython(t.Stage))
		}
		u.Step(h.Name, "setup", "package   %s installed", name)
	}
	return nil
}
