package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Change is one thing setup did, or found already done.
type Change struct {
	What    string
	Changed bool
}

// installFileScript puts stdin at $1 with mode $2, unless the file already
// holds exactly that. The previous file is kept as $1.hoist-old so a
// config the web server rejects can be put back.
const installFileScript = `
set -e
mkdir -p "$(dirname "$1")"
tmp="$1.hoist-new"
cat > "$tmp"
if cmp -s "$tmp" "$1"; then rm -f "$tmp"; echo unchanged; exit 0; fi
chmod "$2" "$tmp"
if [ -f "$1" ]; then cp -p "$1" "$1.hoist-old"; else rm -f "$1.hoist-old"; fi
mv -f "$tmp" "$1"
echo changed
`

const restoreFileScript = `if [ -f "$1.hoist-old" ]; then mv -f "$1.hoist-old" "$1"; else rm -f "$1"; fi`

func installFile(ctx context.Context, h *remote.Host, f File) (bool, error) {
	out, err := remote.OutputWithInput(ctx, h, h.SudoScript(installFileScript, f.Path, f.Mode), bytes.NewReader(f.Content))
	if err != nil {
		return false, fmt.Errorf("write %s: %w", f.Path, err)
	}
	return strings.TrimSpace(out) == "changed", nil
}

// Install writes the site's units, sudo rule and web server config and
// reloads what changed. Running it again changes nothing.
func Install(ctx context.Context, h *remote.Host, s Site) ([]Change, error) {
	var changes []Change
	changed := map[string]bool{}
	for _, f := range s.Files() {
		c, err := installFile(ctx, h, f)
		if err != nil {
			return changes, err
		}
		changed[f.Path] = c
		changes = append(changes, Change{What: f.Path, Changed: c})
	}

	if changed["/etc/systemd/system/"+s.Unit()+"@.service"] || changed["/etc/systemd/system/"+s.Unit()+"@.socket"] {
		if _, err := remote.Output(ctx, h, h.Sudo("systemctl", "daemon-reload")); err != nil {
			return changes, fmt.Errorf("systemctl daemon-reload: %w", err)
		}
	}

	var web []Change
	var err error
	switch s.Web.Server {
	case "nginx":
		web, err = s.enableNginx(ctx, h, changed)
	case "caddy":
		web, err = s.enableCaddy(ctx, h, changed)
	}
	return append(changes, web...), err
}

// enableNginx links the sites, retires Debian's welcome page (it would
// claim the default server), validates with nginx -t and reloads. A config
// nginx rejects is undone, so the running nginx never sees it.
func (s Site) enableNginx(ctx context.Context, h *remote.Host, changed map[string]bool) ([]Change, error) {
	const linkScript = `
set -e
out=""
for site in "$@"; do
	if [ "$(readlink "/etc/nginx/sites-enabled/$site" 2>/dev/null)" != "/etc/nginx/sites-available/$site" ]; then
		ln -sfn "/etc/nginx/sites-available/$site" "/etc/nginx/sites-enabled/$site"; out="$out linked:$site"
	fi
done
if [ -e /etc/nginx/sites-enabled/default ]; then rm -f /etc/nginx/sites-enabled/default; out="$out default-removed"; fi
echo "$out"
`
	sites := []string{s.nginxSite()}
	if len(s.Domains) > 0 {
		sites = append(sites, catchAllSite)
	}
	out, err := remote.Output(ctx, h, h.SudoScript(linkScript, sites...))
	if err != nil {
		return nil, fmt.Errorf("enable the nginx site: %w", err)
	}
	var changes []Change
	for _, word := range strings.Fields(out) {
		if site, ok := strings.CutPrefix(word, "linked:"); ok {
			changes = append(changes, Change{What: "enabled nginx site " + site, Changed: true})
		} else if word == "default-removed" {
			changes = append(changes, Change{What: "disabled Debian's default nginx site", Changed: true})
		}
	}
	anyFile := false
	for _, site := range sites {
		anyFile = anyFile || changed[nginxAvailable+site]
	}
	if len(changes) == 0 && !anyFile {
		// Nothing new, but make sure nginx runs: a fresh host may have it stopped.
		_, err := remote.Output(ctx, h, h.Sudo("systemctl", "enable", "--now", "--quiet", "nginx"))
		return nil, err
	}
	if _, err := remote.Output(ctx, h, h.Sudo("nginx", "-t")); err != nil {
		for _, site := range sites {
			if changed[nginxAvailable+site] {
				remote.Output(ctx, h, h.SudoScript(restoreFileScript, nginxAvailable+site))
			}
		}
		return changes, fmt.Errorf("nginx -t rejected the new config, so the previous one was put back and nginx was not reloaded: %w", err)
	}
	if _, err := remote.Output(ctx, h, h.SudoScript(`systemctl enable --quiet nginx && if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi`)); err != nil {
		return changes, fmt.Errorf("reload nginx: %w", err)
	}
	return append(changes, Change{What: "nginx reloaded", Changed: true}), nil
}

// Fingerprint hashes the generated files, so a deploy can tell whether the
// host was set up with the same hoist.yml.
func (s Site) Fingerprint() string {
	h := sha256.New()
	for _, f := range s.Files() {
		h.Write([]byte(f.Path))
		h.Write(f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
