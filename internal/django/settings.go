// Package django runs Django's own tools in a release: the settings hoist
// needs to serve it, collectstatic, migrate.
package django

import (
	"context"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/config"
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

// ReadSettings returns the settings of release id: those PrepareCmd saved
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

// prepareScript is PrepareCmd's one Django start. Its arguments: where to
// save the settings, the links to STATIC_ROOT and MEDIA_ROOT ("" for
// none), what else to do ("history" reads the migration history, "checks"
// runs hoist_checks, "history,checks" both; "no" for neither), and a
// directory to collect the static files into instead of STATIC_ROOT (""
// for none). The checks run before collectstatic, and a collectstatic
// that fails is reported with them: every failure at once.
const prepareScript = "import json, os, sys, django\ndjango.setup()\n" + settingsDef + historyDef + checksDef + `
saved, static_link, media_link, wants, collect_into = sys.argv[1:6]
wants = wants.split(",")
s = hoist_settings()
out = {"settings": s, "collectstatic": ""}
if "checks" in wants:
    out["checks"] = hoist_checks()
if s["staticfiles"] and s["static_root"]:
    from django.core.management import call_command

    def collectstatic(buf):
        if collect_into:
            from django.test.utils import override_settings
            with override_settings(STATIC_ROOT=collect_into):
                call_command("collectstatic", interactive=False, stdout=buf)
        else:
            call_command("collectstatic", interactive=False, stdout=buf)

    cs = hoist_run(collectstatic)
    if cs["code"] != 0:
        out["collectstatic_failed"] = cs["out"]
        print(json.dumps(out))
        sys.exit(3)
    lines = [l.strip() for l in cs["out"].splitlines() if l.strip()]
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
if "history" in wants:
    out["history"] = hoist_history()
print(json.dumps(out))
`

// Prepared is what PrepareCmd learned about a new release.
type Prepared struct {
	Settings      Settings `json:"settings"`
	CollectStatic string   `json:"collectstatic"` // collectstatic's last line; "" when there was nothing to collect
	History       *History `json:"history"`       // with history only
	// Checks is what Django's checks said, with checks only; read it with
	// Report.
	Checks *checkResult `json:"checks"`
	// CollectStaticFailed is collectstatic's output when it failed.
	CollectStaticFailed string `json:"collectstatic_failed"`
}

// Report judges the checks PrepareCmd ran by the stage's checks: settings,
// with a collectstatic that failed among the failures.
func (p Prepared) Report(opts config.Checks) Report {
	var r Report
	if p.Checks != nil {
		r = p.Checks.report(opts)
	}
	if p.CollectStaticFailed != "" {
		r.Failures = append(r.Failures, Failure{Check: "collectstatic", Output: strings.TrimSpace(p.CollectStaticFailed)})
	}
	return r
}

// ParsePrepared reads what PrepareCmd printed for release id (its last
// line), and err, how the round trip that ran it ended. A collectstatic
// that failed is an error, and its output is in the Prepared returned
// with it.
func ParsePrepared(id, out string, err error) (Prepared, error) {
	var p Prepared
	if jerr := lastJSON(out, &p); jerr != nil || (err != nil && p.CollectStaticFailed == "") {
		if err == nil {
			err = jerr
		}
		return Prepared{}, fmt.Errorf("load Django settings and collectstatic: %w", err)
	}
	if p.History != nil {
		p.History.Release = id
	}
	if p.CollectStaticFailed != "" {
		return p, fmt.Errorf("collectstatic failed:\n%s", indent(strings.TrimSpace(p.CollectStaticFailed)))
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

// prepareLabel names PrepareCmd's Django start when it fails.
const prepareLabel = "Django start"

// PrepareCmd readies a built release in one Django start, each of which costs
// a second or more of CPU: it reads and saves the settings hoist acts on,
// runs collectstatic when the app has static files, points the release's
// .hoist-static and .hoist-media at STATIC_ROOT and MEDIA_ROOT (the stable
// paths the web server serves; with strategy container the static files
// are collected into .hoist-static), with history reads the migration
// history as the release's code sees it, and with checks runs Django's
// checks (see checksDef) before collectstatic. Read its output with
// ParsePrepared.
func PrepareCmd(l release.Layout, id, projectDir string, history, checks bool) string {
	var wants []string
	if history {
		wants = append(wants, "history")
	}
	if checks {
		wants = append(wants, "checks")
	}
	want := strings.Join(wants, ",")
	if want == "" {
		want = "no"
	}
	static, media, into := l.Static(id), l.Media(id), ""
	if l.Container {
		// STATIC_ROOT and MEDIA_ROOT are paths inside the image. The files
		// are collected into the release on the host, which its containers
		// mount at STATIC_ROOT; the deploy links the media.
		static, media, into = "", "", l.Static(id)
	}
	return remote.Labeled(prepareLabel, release.Tracked(l, release.Command(l, id, projectDir, "python", "-c", prepareScript, l.SettingsFile(id), static, media, want, into)))
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
