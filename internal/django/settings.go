// Package django runs Django's own tools in a release: the settings hoist
// needs to serve it, collectstatic, migrate.
package django

import (
	"context"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// Settings are the values of the app's settings that hoist acts on.
type Settings struct {
	StaticRoot   string   `json:"static_root"`
	StaticURL    string   `json:"static_url"`
	MediaRoot    string   `json:"media_root"`
	MediaURL     string   `json:"media_url"`
	AllowedHosts []string `json:"allowed_hosts"`
	Debug        bool     `json:"debug"`
	StaticFiles  bool     `json:"staticfiles"` // django.contrib.staticfiles is installed
	Version      string   `json:"version"`
	// ProxySSLHeader is SECURE_PROXY_SSL_HEADER, e.g. [HTTP_X_FORWARDED_PROTO https].
	ProxySSLHeader []string `json:"proxy_ssl_header"`
}

const settingsScript = `
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "static_root": str(settings.STATIC_ROOT or ""),
    "static_url": str(settings.STATIC_URL or ""),
    "media_root": str(settings.MEDIA_ROOT or ""),
    "media_url": str(settings.MEDIA_URL or ""),
    "allowed_hosts": list(settings.ALLOWED_HOSTS),
    "debug": bool(settings.DEBUG),
    "staticfiles": "django.contrib.staticfiles" in settings.INSTALLED_APPS,
    "version": django.get_version(),
    "proxy_ssl_header": list(getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or []),
}))
`

// ReadSettings imports the app's settings in the release, with the
// release's environment, exactly as gunicorn will.
func ReadSettings(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string) (Settings, error) {
	var s Settings
	if err := runJSON(ctx, t, l, id, projectDir, settingsScript, &s); err != nil {
		return Settings{}, fmt.Errorf("load Django settings: %w", err)
	}
	return s, nil
}

// TrustsForwardedProto tells whether Django believes X-Forwarded-Proto,
// which it must behind a proxy that terminates HTTPS, or it sees every
// request as plain HTTP (redirect loops, CSRF failures, insecure cookies).
func (s Settings) TrustsForwardedProto() bool {
	return len(s.ProxySSLHeader) == 2 && s.ProxySSLHeader[0] == "HTTP_X_FORWARDED_PROTO" && s.ProxySSLHeader[1] == "https"
}

// HealthHost picks the Host header for health checks: Django answers 400
// to any name outside ALLOWED_HOSTS, so use one it accepts.
func (s Settings) HealthHost() string {
	for _, h := range s.AllowedHosts {
		h = strings.TrimPrefix(h, ".")
		if h != "" && h != "*" {
			return h
		}
	}
	return "localhost"
}

// CollectStatic gathers static files into the release and links them where
// the web server looks (release.Layout.LiveStatic), and links media likewise.
func CollectStatic(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string, s Settings) (string, error) {
	if !s.StaticFiles || s.StaticRoot == "" {
		return "", nil
	}
	out, err := remote.Output(ctx, t, release.Manage(l, id, projectDir, "collectstatic", "--noinput"))
	if err != nil {
		return "", fmt.Errorf("collectstatic: %w", err)
	}
	return lastLine(out), nil
}

// LinkServed points the release's .hoist-static and .hoist-media at the
// app's STATIC_ROOT and MEDIA_ROOT, the stable paths the web server serves.
func LinkServed(ctx context.Context, t remote.Transport, l release.Layout, id string, s Settings) error {
	script := `set -e; [ -z "$1" ] || ln -sfn "$1" "$2"; [ -z "$3" ] || ln -sfn "$3" "$4"`
	_, err := remote.Output(ctx, t, remote.Script(script, s.StaticRoot, l.Static(id), s.MediaRoot, l.Media(id)))
	return err
}

// Migrate applies migrations and returns Django's report.
func Migrate(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string) (string, error) {
	out, err := remote.Output(ctx, t, release.Manage(l, id, projectDir, "migrate", "--noinput"))
	if err != nil {
		return out, fmt.Errorf("migrate: %w", err)
	}
	return out, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
