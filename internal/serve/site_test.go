package serve

import (
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/config"
)

func testSite(server config.WebServer, domains ...string) Site {
	return Site{
		App: "shop", Root: "/srv/shop", User: "deploy", ProjectDir: ".", WSGI: "shop.wsgi:application", Python: "python3",
		Gunicorn: config.Gunicorn{Workers: 3, Timeout: 30, GracefulTimeout: 20, Args: []string{"--max-requests", "100 % $x"}},
		Web:      config.Web{Server: server, Port: 80, StaticURL: "/static/", MediaURL: "/media/", MaxBodySize: "20m", TLS: "internal"},
		Domains:  domains,
	}
}

func content(t *testing.T, s Site, path string) string {
	t.Helper()
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == path {
			return string(f.Content)
		}
	}
	t.Fatalf("no file %s among %v", path, files)
	return ""
}

func TestServiceRunsFromTheReleaseNotCurrent(t *testing.T) {
	unit := content(t, testSite("nginx"), "/etc/systemd/system/hoist-shop@.service")
	for _, want := range []string{
		"WorkingDirectory=/srv/shop/releases/%i\n",
		"EnvironmentFile=/srv/shop/.hoist/env/%i.env",
		"--graceful-timeout 20",
		`"--max-requests" "100 %% $$x" "shop.wsgi:application"`,
		"TimeoutStopSec=30",
		"Type=notify",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("service unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "current") {
		t.Errorf("the service must not run through the current symlink:\n%s", unit)
	}
	sock := content(t, testSite("nginx"), "/etc/systemd/system/hoist-shop@.socket")
	if !strings.Contains(sock, "ListenStream=/srv/shop/run/%i.sock") || !strings.Contains(sock, "SocketGroup=www-data") {
		t.Errorf("socket unit:\n%s", sock)
	}
}

func TestNginxSite(t *testing.T) {
	any := content(t, testSite("nginx"), "/etc/nginx/sites-available/hoist-shop")
	if !strings.Contains(any, "listen 80 default_server;") || !strings.Contains(any, "server_name _;") {
		t.Errorf("without domains the site answers any name:\n%s", any)
	}
	named := testSite("nginx", "shop.example.com")
	site := content(t, named, "/etc/nginx/sites-available/hoist-shop")
	for _, want := range []string{
		`server_name "shop.example.com";`, `client_max_body_size "20m";`,
		`proxy_pass "http://unix:/srv/shop/run/live.sock";`, "X-Forwarded-Proto $scheme",
		`location ~ "(?s)^/static/(?<hoist_static>.*)" {`, `root "/srv/shop";`,
		`try_files "/current/.hoist-static/$hoist_static" "/static-fallback/served/$hoist_static" =404;`,
		`alias "/srv/shop/current/.hoist-media/";`,
	} {
		if !strings.Contains(site, want) {
			t.Errorf("site lacks %q:\n%s", want, site)
		}
	}
	if strings.Contains(site, "default_server") {
		t.Errorf("with domains the catch-all is the default server, not the app:\n%s", site)
	}
	if !strings.Contains(content(t, named, "/etc/nginx/sites-available/hoist-catchall"), "return 444;") {
		t.Errorf("the catch-all must drop unknown hosts")
	}
}

func TestCaddySite(t *testing.T) {
	s := testSite("caddy", "shop.example.com")
	site := content(t, s, "/etc/caddy/hoist.d/shop.caddy")
	for _, want := range []string{
		`"shop.example.com" {`, "tls internal", `max_size "20MB"`,
		`handle_path "/static/*" {`, `root * "/srv/shop"`,
		`try_files "/current/.hoist-static{path}" "/static-fallback/served{path}" =404`,
		`reverse_proxy "unix//srv/shop/run/live.sock"`, "keepalive off",
		`"www.shop.example.com" {`, `redir "https://shop.example.com{uri}" permanent`,
	} {
		if !strings.Contains(site, want) {
			t.Errorf("Caddy site lacks %q:\n%s", want, site)
		}
	}
	if !s.HTTPS() || s.WebGroup() != "caddy" {
		t.Errorf("a Caddy site with domains is HTTPS and its sockets belong to group caddy")
	}
	plain := testSite("caddy")
	if !strings.Contains(content(t, plain, "/etc/caddy/hoist.d/shop.caddy"), `":80" {`) || plain.HTTPS() {
		t.Errorf("without domains Caddy serves plain HTTP on the port")
	}
}

func TestFingerprintFollowsTheFiles(t *testing.T) {
	a, b := testSite("nginx"), testSite("nginx")
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("same site, different fingerprints")
	}
	b.Gunicorn.Workers = 5
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("a change to the units must change the fingerprint")
	}
}
