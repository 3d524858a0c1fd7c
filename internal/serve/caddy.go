package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

const (
	caddyfile = "/etc/caddy/Caddyfile"
	caddyDir  = "/etc/caddy/hoist.d/"
	// caddyImport is the line the main Caddyfile needs to load hoist's sites.
	caddyImport = "import /etc/caddy/hoist.d/*.caddy"
)

func (s Site) caddySite() string { return caddyDir + s.App + ".caddy" }

// caddyAddresses are the site addresses: the domains (Caddy then gets and
// renews certificates, and redirects HTTP to HTTPS), or a plain port.
func (s Site) caddyAddresses() []string {
	if len(s.Domains) == 0 {
		return []string{fmt.Sprintf(":%d", s.Web.Port)}
	}
	addrs := make([]string, len(s.Domains))
	for i, d := range s.Domains {
		if s.Web.TLS == config.TLSOff {
			d = "http://" + d
		}
		addrs[i] = d
	}
	return addrs
}

// wwwRedirects are the www. names that redirect to the bare domain: each
// bare domain gets one, unless its www. name is served itself.
func (s Site) wwwRedirects() []string {
	served := map[string]bool{}
	for _, d := range s.Domains {
		served[d] = true
	}
	var www []string
	for _, d := range s.Domains {
		if !strings.HasPrefix(d, "www.") && !strings.HasPrefix(d, "*.") && !served["www."+d] {
			www = append(www, d)
		}
	}
	return www
}

// caddySize turns nginx's 10m into Caddy's 10MB, as one token.
func caddySize(size string) (string, error) {
	if size == "" {
		return caddyString(size)
	}
	unit := map[byte]string{'k': "KB", 'm': "MB", 'g': "GB"}[size[len(size)-1]|0x20]
	if unit != "" {
		size = size[:len(size)-1] + unit
	}
	return caddyString(size)
}

// caddyRedirect is the target of a www. redirect: the bare domain, with
// the request's path and query ({uri}).
func caddyRedirect(tls config.TLS, domain string) (string, error) {
	scheme := "https"
	if tls == config.TLSOff {
		scheme = "http"
	}
	return caddyQuote(scheme+"://"+domain, "{uri}")
}

// Static files come from the live release, then from the releases before
// it still on the host (see KeepStaticCmd), as with nginx. try_files
// ends in =404 so a miss never falls through to file_server, whose root is
// deploy_to.
//
// Caddy adds X-Forwarded-For and X-Forwarded-Proto itself. Keepalive to
// the upstream is off, so each request follows live.sock to the release
// that is live now; pooled connections would keep reaching the old one.
var caddySiteTemplate = template.Must(template.New("caddy").Funcs(funcs).Parse(`# Written by hoist setup; edit hoist.yml and run setup again instead.
{{range .CaddyAddresses}}{{caddy .}} {{end}}{
{{- if eq .Web.TLS "internal"}}
	tls internal
{{- end}}
	request_body {
		max_size {{size .Web.MaxBodySize}}
	}
	handle_path {{caddy (print .Web.StaticURL "*")}} {
		root * {{caddy .L.Root}}
		try_files {{caddyTry .L.Root .L.LiveStatic}} {{caddyTry .L.Root .L.StaticFallback}} =404
		header Cache-Control "public, max-age=604800"
		file_server
	}
	handle_path {{caddy (print .Web.MediaURL "*")}} {
		root * {{caddy .L.LiveMedia}}
		file_server
	}
	handle {
		reverse_proxy {{caddy (print "unix/" .L.LiveSocket)}} {
			transport http {
				keepalive off
			}
		}
	}
}
{{- range .WWWRedirects}}

{{caddy (print "www." .)}} {
{{- if eq $.Web.TLS "internal"}}
	tls internal
{{- end}}
	redir {{redir $.Web.TLS .}} permanent
}
{{- end}}
`))

// enableCaddyScript makes the main Caddyfile import hoist's sites. Debian's
// stock Caddyfile (a welcome page on :80) is replaced; any other is kept
// and gets the import line appended.
const enableCaddyScript = `
set -e
main=$1; line=$2
mkdir -p "$(dirname "$main")"
if [ -f "$main" ] && grep -qxF "$line" "$main"; then echo unchanged; exit 0; fi
# The previous file, or none, is what a failed validation puts back.
if [ -f "$main" ]; then cp -p "$main" "$main.hoist-old"; else rm -f "$main.hoist-old"; fi
if [ -f "$main" ] && ! grep -q '/usr/share/caddy' "$main"; then
	printf '\n# Sites deployed by hoist.\n%s\n' "$line" >> "$main"
else
	printf '# Written by hoist setup: the sites of hoist apps.\n%s\n' "$line" > "$main"
fi
echo changed
`

// enableCaddy wires the site into Caddy, validates the whole config with
// caddy validate and reloads. A config Caddy rejects is undone.
func (s Site) enableCaddy(ctx context.Context, h *remote.Host, changed map[string]bool) ([]Change, error) {
	if out, _ := remote.Output(ctx, h, remote.Command("systemctl", "is-active", "nginx")); strings.TrimSpace(out) == "active" {
		return nil, fmt.Errorf("nginx is running on this host and holds the ports Caddy needs: if nothing else uses it, stop it with: sudo systemctl disable --now nginx")
	}
	out, err := remote.Output(ctx, h, h.SudoScript(enableCaddyScript, caddyfile, caddyImport))
	if err != nil {
		return nil, fmt.Errorf("add hoist's sites to %s: %w", caddyfile, err)
	}
	var changes []Change
	if strings.TrimSpace(out) == "changed" {
		changes = append(changes, Change{What: caddyfile + " imports " + caddyDir, Changed: true})
	}
	if len(changes) == 0 && !changed[s.caddySite()] {
		_, err := remote.Output(ctx, h, h.Sudo("systemctl", "enable", "--now", "--quiet", "caddy"))
		return nil, err
	}
	if _, err := remote.Output(ctx, h, h.Sudo("caddy", "validate", "--config", caddyfile, "--adapter", "caddyfile")); err != nil {
		// Put back exactly what this run changed, and only that: an
		// unchanged file's .hoist-old is from an earlier run.
		var restore []string
		if len(changes) > 0 {
			restore = append(restore, caddyfile)
		}
		if changed[s.caddySite()] {
			restore = append(restore, s.caddySite())
		}
		var uerr error
		for _, f := range restore {
			_, ferr := remote.Output(ctx, h, h.SudoScript(restoreFileScript, f))
			uerr = errors.Join(uerr, ferr)
		}
		if uerr != nil {
			return nil, fmt.Errorf("caddy validate rejected the new config: %w; putting the previous one back failed too, so check %s before Caddy reloads: %w", err, caddyfile, uerr)
		}
		return nil, fmt.Errorf("caddy validate rejected the new config, so the previous one was put back and Caddy was not reloaded: %w", err)
	}
	if _, err := remote.Output(ctx, h, h.SudoScript(`systemctl enable --quiet caddy && if systemctl is-active --quiet caddy; then systemctl reload caddy; else systemctl start caddy; fi`)); err != nil {
		return changes, fmt.Errorf("reload caddy: %w", err)
	}
	return append(changes, Change{What: "caddy reloaded", Changed: true}), nil
}
