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
	// Migrations are the migration files of the release's code, as
	// app.name, read from disk without the database; nil in settings saved
	// before hoist recorded them.
	Migrations []string `json:"migrations"`
}

// settingsDef reads the settings hoist acts on; Django is set up.
const settingsDef = `
def hoist_settings():
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader
    disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    return {
        "migrations": sorted(app + "." + name for app, name in disk),
        "static_root": str(settings.STATIC_ROOT or ""),
        "static_url": str(settings.STATIC_URL or ""),
        "media_root": str(settings.MEDIA_ROOT or ""),
        "media_url": str(settings.MEDIA_URL or ""),
        "allowed_hosts": list(settings.ALLOWED_HOSTS),
        "debug": bool(settings.DEBUG),
        "staticfiles": "django.contrib.staticfiles" in settings.INSTALLED_APPS,
        "version": django.get_version(),
        "proxy_ssl_header": list(getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or []),
    }
`

const settingsScript = "import json, django\ndjango.setup()\n" + settingsDef + "print(json.dumps(hoist_settings()))\n"

// ReadSettings returns the settings of release id: those Prepare saved
// when it built the release (code and environment of a release never
// change), else read by importing them in the release, with its
// environment, exactly as gunicorn will.
func ReadSettings(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string) (Settings, error) {
	read := release.Command(l, id, projectDir, "python", "-c", settingsScript)
	out, err := remote.Output(ctx, t, remote.Script(`cat "$1" 2>/dev/null && echo || eval "$2"`, l.SettingsFile(id), read))
	if err != nil {
		return Settings{}, fmt.Errorf("load Django settings: %w", err)
	}
	var s Settings
	if err := lastJSON(out, &s); err != nil {
		return Settings{}, fmt.Errorf("load Django settings: %w", err)
	}
	return s, nil
}

// prepareScript is Prepare's one Django start. Its arguments: where to
// save the settings, the links to STATIC_ROOT and MEDIA_ROOT ("" for
// none), "history" to read the migration history too, and a directory to
// collect the static files into instead of STATIC_ROOT ("" for none).
const prepareScript = "import io, json, os, sys, django\ndjango.setup()\n" + settingsDef + historyDef + `
saved, static_link, media_link, want_history, collect_into = sys.argv[1:6]
s = hoist_settings()
out = {"settings": s, "collectstatic": ""}
if s["staticfiles"] and s["static_root"]:
    from django.core.management import call_command
    buf = io.StringIO()
    try:
        if collect_into:
            from django.test.utils import override_settings
            with override_settings(STATIC_ROOT=collect_into):
                call_command("collectstatic", interactive=False, stdout=buf)
        else:
            call_command("collectstatic", interactive=False, stdout=buf)
    except BaseException:
        sys.stderr.write(buf.getvalue())
        sys.stderr.write("hoist: collectstatic failed\n")
        raise
    lines = [l.strip() for l in buf.getvalue().splitlines() if l.strip()]
    out["collectstatic"] = lines[-1] if lines else ""
for target, link in ((s["static_root"], static_link), (s["media_root"], media_link)):
    if target and link:
        if os.path.lexists(link + ".tmp"):
            os.remove(link + ".tmp")
        os.symlink(target, link + ".tmp")
        os.replace(link + ".tmp", link)
with open(saved + ".tmp", "w") as f:
    json.dump(s, f)
os.replace(saved + ".tmp", saved)
if want_history == "history":
    out["history"] = hoist_history()
print(json.dumps(out))
`

// Prepared is what Prepare learned about a new release.
type Prepared struct {
	Settings      Settings `json:"settings"`
	CollectStatic string   `json:"collectstatic"` // collectstatic's last line; "" when there was nothing to collect
	History       *History `json:"history"`       // with history only
}

// Prepare readies a built release in one Django start, each of which costs
// a second or more of CPU: it reads and saves the settings hoist acts on,
// runs collectstatic when the app has static files, points the release's
// .hoist-static and .hoist-media at STATIC_ROOT and MEDIA_ROOT (the stable
// paths the web server serves; with strategy container the static files
// are collected into .hoist-static), and with history reads the migration
// history as the release's code sees it.
func Prepare(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string, history bool) (Prepared, error) {
	out, err := remote.Output(ctx, t, PrepareCmd(l, id, projectDir, history))
	if err != nil {
		return Prepared{}, fmt.Errorf("load Django settings and collectstatic: %w", err)
	}
	var p Prepared
	if err := lastJSON(out, &p); err != nil {
		return Prepared{}, err
	}
	if p.History != nil {
		p.History.Release = id
	}
	return p, nil
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

// PrepareCmd is Prepare's command.
func PrepareCmd(l release.Layout, id, projectDir string, history bool) string {
	want := "no"
	if history {
		want = "history"
	}
	static, media, into := l.Static(id), l.Media(id), ""
	if l.Container {
		// STATIC_ROOT and MEDIA_ROOT are paths inside the image. The files
		// are collected into the release on the host, which its containers
		// mount at STATIC_ROOT; the deploy links the media.
		static, media, into = "", "", l.Static(id)
	}
	return release.Tracked(l, release.Command(l, id, projectDir, "python", "-c", prepareScript, l.SettingsFile(id), static, media, want, into))
}

// MigrateCmd is Migrate's command.
func MigrateCmd(l release.Layout, id, projectDir string) string {
	return release.Tracked(l, release.Manage(l, id, projectDir, "migrate", "--noinput"))
}

// Migrate applies migrations and returns Django's report.
func Migrate(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string) (string, error) {
	out, err := remote.Output(ctx, t, MigrateCmd(l, id, projectDir))
	if err != nil {
		return out, fmt.Errorf("migrate: %w", err)
	}
	return out, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
