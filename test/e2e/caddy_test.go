package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// Caddy serves the app over HTTPS with its own CA, static files directly,
// redirects HTTP and www, and Django sees the requests as secure.
func TestCaddyServesHTTPS(t *testing.T) {
	t.Parallel()
	skipShort(t)
	f := fleet.Start(t, fleet.Options{Hosts: 1})
	h := f.Hosts[0]
	sh(t, h, "systemctl disable --now nginx")
	const domain = "shop.test"
	// The secure settings are on: SSL redirect, secure cookies, HSTS.
	a := newApp(t, f, "notes", "tls", `app: %APP%
settings: notes.settings
system_site_packages: true
shared_dirs: [media]
web:
  server: caddy
  domains: [`+domain+`]
  tls: internal
env:
  DJANGO_ALLOWED_HOSTS: "`+domain+`"
  DATABASE_URL: "sqlite:////srv/tls/shared/db.sqlite3"
secrets: [DJANGO_SECRET_KEY]
stages:
  prod:
    hosts: [web1]
`)
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")

	pem := sh(t, h, "cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt")
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(pem)) {
		t.Fatalf("cannot read Caddy's root certificate:\n%s", pem)
	}
	ports := map[string]int{"80": h.HTTPPort, "443": h.HTTPSPort}
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(ports[port]))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fetch := func(url string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	resp, body := fetch("https://" + domain + "/")
	if resp.StatusCode != 200 || !strings.Contains(body, "version: v1") {
		t.Fatalf("https page: %d\n%.300s", resp.StatusCode, body)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Errorf("Django did not see the request as secure (no HSTS header): X-Forwarded-Proto is not reaching it")
	}
	if resp, css := fetch("https://" + domain + "/static/board/site.css"); resp.StatusCode != 200 || !strings.Contains(css, "{") {
		t.Errorf("static over https: %d", resp.StatusCode)
	}
	if resp, _ := fetch("http://" + domain + "/"); resp.StatusCode/100 != 3 || !strings.HasPrefix(resp.Header.Get("Location"), "https://"+domain) {
		t.Errorf("http should redirect to https: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := fetch("https://www." + domain + "/x"); resp.StatusCode != 301 || resp.Header.Get("Location") != "https://"+domain+"/x" {
		t.Errorf("www should redirect to the bare domain: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A second setup changes nothing; a redeploy works through Caddy.
	if out := a.mustHoist("setup", "prod"); strings.Contains(out, " changed ") {
		t.Errorf("second setup changed something:\n%s", out)
	}
	a.write("VERSION", "v2\n")
	a.commit("v2")
	a.mustHoist("deploy", "prod")
	if resp, body := fetch("https://" + domain + "/"); resp.StatusCode != 200 || !strings.Contains(body, "version: v2") {
		t.Errorf("after redeploy: %d %.200s", resp.StatusCode, body)
	}
}
