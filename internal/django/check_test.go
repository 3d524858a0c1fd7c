package django

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/config"
)

// ids lists the ids of findings, in order.
func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// failed names the checks that failed, in order.
func failed(fs []Failure) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Check)
	}
	return out
}

// These run the fixture with config/settings_http.py: a plain-HTTP stage
// with DEBUG off, a strong key and the usual middleware, so Django warns
// about HSTS (W004), the SSL redirect (W008), secure cookies (W011, W016)
// and X-Frame-Options (W002), as it does for most real apps on plain HTTP.
func TestChecksAtEachFailLevel(t *testing.T) {
	httpsWarnings := []string{"security.W002", "security.W004", "security.W008", "security.W011", "security.W016"}
	for _, c := range []struct {
		name      string
		upTo      int               // migrations the release holds; the models need 5
		env       map[string]string // over the stage's
		opts      config.Checks
		fails     []string // the checks that fail
		fatal     []string // the check ids among them
		shown     []string // ids shown, not fatal (all of them)
		inFailure string   // text the failures must hold
	}{{
		name:  "plain HTTP passes, warnings shown",
		upTo:  5,
		shown: httpsWarnings,
	}, {
		name:      "DEBUG on fails",
		upTo:      5,
		env:       map[string]string{"SHELF_DEBUG": "on"},
		fails:     []string{"check --deploy"},
		fatal:     []string{"security.W018"},
		shown:     httpsWarnings,
		inFailure: "hint: DEBUG is on",
	}, {
		name:      "empty SECRET_KEY fails",
		upTo:      5,
		env:       map[string]string{"SHELF_SECRET_KEY": ""},
		fails:     []string{"check --deploy"},
		fatal:     []string{"security.W009"},
		shown:     httpsWarnings,
		inFailure: "secrets.token_urlsafe(50)",
	}, {
		name:  "weak SECRET_KEY fails",
		upTo:  5,
		env:   map[string]string{"SHELF_SECRET_KEY": "django-insecure-short"},
		fails: []string{"check --deploy"},
		fatal: []string{"security.W009"},
		shown: httpsWarnings,
	}, {
		// The release lacks 0005 (drop year) that its models need.
		name:      "a missing migration fails",
		upTo:      4,
		fails:     []string{"makemigrations --check"},
		shown:     httpsWarnings,
		inFailure: "year",
	}, {
		name:  "silenced ids are not reported at all, fatal ones neither",
		upTo:  5,
		env:   map[string]string{"SHELF_DEBUG": "on"},
		opts:  config.Checks{FailLevel: config.FailOnError, Silence: []string{"security.W004", "security.W018", "security.W002"}},
		shown: []string{"security.W008", "security.W011", "security.W016"},
	}, {
		name:  "the project's SILENCED_SYSTEM_CHECKS are respected",
		upTo:  5,
		env:   map[string]string{"SHELF_SILENCED": "security.W008,security.W002"},
		shown: []string{"security.W004", "security.W011", "security.W016"},
	}, {
		name:      "fail_level warning fails on the HSTS warning",
		upTo:      5,
		opts:      config.Checks{FailLevel: config.FailOnWarning, Silence: []string{"security.W002"}},
		fails:     []string{"check --deploy"},
		fatal:     []string{"security.W004", "security.W008", "security.W011", "security.W016"},
		inFailure: "hint: set SECURE_HSTS_SECONDS",
	}, {
		name:      "settings that do not load fail",
		upTo:      5,
		env:       map[string]string{"DJANGO_SETTINGS_MODULE": "config.missing"},
		fails:     []string{"check --deploy"},
		inFailure: "config.missing",
	}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.release(r3, c.upTo)
			env := map[string]string{"SHELF_DB": f.db, "DJANGO_SETTINGS_MODULE": "config.settings_http"}
			maps.Copy(env, c.env)
			if err := writeEnv(f.l, r3, env); err != nil {
				t.Fatal(err)
			}
			r := RunChecks(f.ctx, releaseRunner(f.tr, f.l, r3), c.opts)
			var text []string
			for _, fl := range r.Failures {
				text = append(text, fl.String())
			}
			all := strings.Join(text, "\n")
			if !slices.Equal(failed(r.Failures), c.fails) {
				t.Fatalf("failed checks = %q, want %q:\n%s", failed(r.Failures), c.fails, all)
			}
			var fatal []string
			if len(r.Failures) > 0 {
				fatal = ids(r.Failures[0].Issues)
			}
			if !slices.Equal(fatal, c.fatal) {
				t.Errorf("fatal ids = %q, want %q:\n%s", fatal, c.fatal, all)
			}
			if got := ids(r.Warnings); !slices.Equal(got, c.shown) {
				t.Errorf("shown ids = %q, want %q", got, c.shown)
			}
			if !strings.Contains(all, c.inFailure) {
				t.Errorf("failures lack %q:\n%s", c.inFailure, all)
			}
			for _, w := range r.Warnings {
				if w.Level != "WARNING" || w.Message == "" {
					t.Errorf("warning %+v", w)
				}
				if w.ID == "security.W004" && !strings.Contains(w.String(), "hint: set SECURE_HSTS_SECONDS") {
					t.Errorf("W004 without hoist's hint: %s", w)
				}
			}
		})
	}
}

func TestParseChecksSkipsWhatTheProjectPrints(t *testing.T) {
	out := "settings loaded\n" + checkMarker + `{"messages": [{"id": "x.W001", "level": 30, "msg": "m", "hint": "", "obj": "app.Model"}], "makemigrations": {"code": 1, "out": "Migrations for 'app'"}}` + "\nbye\n"
	r, ok := parseChecks(out)
	if !ok || len(r.Messages) != 1 || r.Messages[0].ID != "x.W001" || r.Messages[0].Obj != "app.Model" || r.Makemigrations.Code != 1 || r.Collectstatic.Code != 0 {
		t.Errorf("parseChecks = %+v, %v", r, ok)
	}
	if _, ok := parseChecks("Traceback ...\n"); ok {
		t.Errorf("output without the marker parsed")
	}
	f := Finding{ID: "fields.E120", Level: "ERROR", Object: "shelf.Book.title", Message: "CharFields must define a 'max_length' attribute."}
	if got, want := f.String(), "shelf.Book.title: (fields.E120) CharFields must define a 'max_length' attribute."; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// The trial collectstatic runs with manifest storage for real, into a
// temporary STATIC_ROOT: a stylesheet naming a file that does not exist
// fails it, and the project's own STATIC_ROOT is never written.
func TestChecksTryCollectstatic(t *testing.T) {
	python := findPython()
	if python == "" {
		t.Skip("no python3 with Django here (apt-get install python3-django)")
	}
	dir := t.TempDir()
	files := map[string]string{
		"manage.py":         "import sys\nfrom django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n",
		"trial/__init__.py": "",
		"trial/settings.py": `from pathlib import Path
BASE = Path(__file__).resolve().parent.parent
SECRET_KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"
ALLOWED_HOSTS = ["trial.test"]
DEBUG = False
INSTALLED_APPS = ["django.contrib.staticfiles"]
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE / "assets"]
STATIC_ROOT = BASE / "collected"
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
STORAGES = {"staticfiles": {"BACKEND": STATICFILES_STORAGE}, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
`,
		"assets/site.css": `body { background: url("missing.png") }`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := LocalRunner(python, dir, map[string]string{"DJANGO_SETTINGS_MODULE": "trial.settings", "PYTHONDONTWRITEBYTECODE": "1"})
	r := RunChecks(context.Background(), run, config.Checks{Silence: []string{"security.W004", "security.W008", "security.W012", "security.W016", "security.W018"}})
	if got := failed(r.Failures); !slices.Equal(got, []string{"collectstatic"}) {
		t.Fatalf("failed checks = %q, want collectstatic: %+v", got, r.Failures)
	}
	if text := r.Failures[0].String(); !strings.Contains(text, "missing.png") {
		t.Errorf("the failure should name the missing file:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(dir, "collected")); !os.IsNotExist(err) {
		t.Errorf("the trial wrote into the project's STATIC_ROOT: %v", err)
	}
	// Fixed, it passes.
	os.WriteFile(filepath.Join(dir, "assets", "missing.png"), []byte("png"), 0o644)
	if r := RunChecks(context.Background(), run, config.Checks{Silence: []string{"security.W004", "security.W008", "security.W012", "security.W016", "security.W018"}}); len(r.Failures) != 0 {
		t.Errorf("failures after the fix: %+v", r.Failures)
	}
}
