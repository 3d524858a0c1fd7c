package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// Change is one thing setup did, or found already done.
type Change struct {
	What    string
	Changed bool
}

// installFileScript puts stdin at $1 with mode $2, unless the file already
// holds exactly that. The previous file is kept as $1.hoist-old so a
// config the web server rejects can be put back. The temporary name is
// unique: apps set up at once on one host share the catch-all site.
const installFileScript = `
set -e
mkdir -p "$(dirname "$1")"
tmp=$(mktemp "$1.hoist-new.XXXXXX")
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
	files, err := s.allFiles()
	if err != nil {
		return nil, err
	}
	var changes []Change
	changed := map[string]bool{}
	for _, f := range files {
		c, err := installFile(ctx, h, f)
		if err != nil {
			return changes, err
		}
		changed[f.Path] = c
		changes = append(changes, Change{What: f.Path, Changed: c})
	}

	unitChanged := false
	for path, c := range changed {
		unitChanged = unitChanged || c && strings.HasPrefix(path, "/etc/systemd/system/")
	}
	if unitChanged {
		if _, err := remote.Output(ctx, h, h.Sudo("systemctl", "daemon-reload")); err != nil {
			return changes, fmt.Errorf("systemctl daemon-reload: %w", err)
		}
	}

	var web []Change
	switch s.Web.Server {
	case config.Nginx:
		web, err = s.enableNginx(ctx, h, changed)
	case config.Caddy:
		web, err = s.enableCaddy(ctx, h, changed)
	}
	return append(changes, web...), err
}

const nginxDir = "/etc/nginx"

// linkNginxScript enables sites in nginx dir $1 and retires Debian's
// welcome page (it would claim the default server). What it replaces or
// removes in sites-enabled is moved to the undo directory $2, so that
// unlinkNginxScript can put back exactly what was there. It prints one
// word per change: linked:SITE, default-removed.
const linkNginxScript = `
set -e
dir=$1 undo=$2; shift 2
rm -rf "$undo"; mkdir -p "$undo"
out=""
for site in "$@"; do
	link="$dir/sites-enabled/$site"
	if [ "$(readlink "$link" 2>/dev/null)" != "$dir/sites-available/$site" ]; then
		if [ -e "$link" ] || [ -L "$link" ]; then mv "$link" "$undo/$site"; fi
		ln -s "$dir/sites-available/$site" "$link"; out="$out linked:$site"
	fi
done
if [ -e "$dir/sites-enabled/default" ] || [ -L "$dir/sites-enabled/default" ]; then
	mv "$dir/sites-enabled/default" "$undo/default"; out="$out default-removed"
fi
echo "$out"
`

// unlinkNginxScript undoes linkNginxScript for the names after $1 and $2:
// each link it made is removed and what was there before comes back.
const unlinkNginxScript = `
dir=$1 undo=$2; shift 2
for name in "$@"; do
	rm -f "$dir/sites-enabled/$name"
	if [ -e "$undo/$name" ] || [ -L "$undo/$name" ]; then mv "$undo/$name" "$dir/sites-enabled/$name"; fi
done
rm -rf "$undo"
`

// enableNginx links the sites, retires Debian's welcome page, validates
// with nginx -t and reloads. A config nginx rejects is undone exactly
// (files, links and the default site), so the running nginx, and the next
// reload or reboot, never sees it.
func (s Site) enableNginx(ctx context.Context, h *remote.Host, changed map[string]bool) ([]Change, error) {
	sites := []string{s.nginxSite()}
	if len(s.Domains) > 0 {
		sites = append(sites, catchAllSite)
	}
	undo := nginxDir + "/hoist-undo-" + s.App
	out, err := remote.Output(ctx, h, h.SudoScript(linkNginxScript, append([]string{nginxDir, undo}, sites...)...))
	if err != nil {
		return nil, fmt.Errorf("enable the nginx site: %w", err)
	}
	var changes []Change
	var undone []string // names in sites-enabled to put back on failure
	for _, word := range strings.Fields(out) {
		if site, ok := strings.CutPrefix(word, "linked:"); ok {
			changes = append(changes, Change{What: "enabled nginx site " + site, Changed: true})
			undone = append(undone, site)
		} else if word == "default-removed" {
			changes = append(changes, Change{What: "disabled Debian's default nginx site", Changed: true})
			undone = append(undone, "default")
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
		// Links first: once the files are restored, a new link would dangle.
		_, uerr := remote.Output(ctx, h, h.SudoScript(unlinkNginxScript, append([]string{nginxDir, undo}, undone...)...))
		for _, site := range sites {
			if changed[nginxAvailable+site] {
				_, ferr := remote.Output(ctx, h, h.SudoScript(restoreFileScript, nginxAvailable+site))
				uerr = errors.Join(uerr, ferr)
			}
		}
		if uerr != nil {
			return nil, fmt.Errorf("nginx -t rejected the new config: %w; putting the previous one back failed too, so check %s before nginx reloads: %w", err, nginxDir, uerr)
		}
		return nil, fmt.Errorf("nginx -t rejected the new config, so the previous one was put back (sites and links) and nginx was not reloaded: %w", err)
	}
	if _, err := remote.Output(ctx, h, h.SudoScript(`rm -rf "$1"; systemctl enable --quiet nginx && if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi`, undo)); err != nil {
		return changes, fmt.Errorf("reload nginx: %w", err)
	}
	return append(changes, Change{What: "nginx reloaded", Changed: true}), nil
}

// Fingerprint hashes the generated files, so a deploy can tell whether the
// host was set up with the same hoist.yml.
func (s Site) Fingerprint() string {
	h := sha256.New()
	files, err := s.allFiles()
	if err != nil {
		// No host can have been set up with files that cannot be
		// written: the fingerprint matches none, and setup says why.
		h.Write([]byte(err.Error()))
	}
	for _, f := range files {
		h.Write([]byte(f.Path))
		h.Write(f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
