package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const manageTemplate = `#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', '%s')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
`

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		root  string // the project directory's own name
		files map[string]string
		want  Project
		err   string
	}{
		{
			name: "startproject",
			root: "whatever",
			files: map[string]string{
				"manage.py":             strings.Replace(manageTemplate, "%s", "notes_app.settings", 1),
				"notes_app/settings.py": "",
				"requirements.txt":      "django\n",
			},
			want: Project{App: "notes-app", Settings: "notes_app.settings", Requirements: "requirements.txt", ProjectDir: "."},
		},
		{
			name: "one level down, cookiecutter style",
			root: "Shop_Site",
			files: map[string]string{
				"src/manage.py":                   strings.Replace(manageTemplate, "%s", "config.settings.production", 1),
				"src/requirements/production.txt": "-r base.txt\n",
				"src/requirements/base.txt":       "django\n",
				".venv/lib/manage.py":             "",
			},
			want: Project{App: "shop-site", Settings: "config.settings.production", Requirements: "src/requirements/production.txt", ProjectDir: "src"},
		},
		{
			name: "double quotes, base requirements",
			root: "blog",
			files: map[string]string{
				"manage.py":                 `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "Blog.settings")`,
				"requirements/base.txt":     "django\n",
				"requirements/prod.txt.bak": "",
			},
			want: Project{App: "blog", Settings: "Blog.settings", Requirements: "requirements/base.txt", ProjectDir: "."},
		},
		{
			name: "settings found next to manage.py",
			root: "x",
			files: map[string]string{
				"manage.py":          "# custom\n",
				"mysite/settings.py": "",
			},
			want: Project{App: "mysite", Settings: "mysite.settings", ProjectDir: "."},
		},
		{
			name:  "no manage.py",
			root:  "x",
			files: map[string]string{"a/b/manage.py": ""},
			err:   "no manage.py in",
		},
		{
			name:  "two projects",
			root:  "x",
			files: map[string]string{"a/manage.py": "", "b/manage.py": ""},
			err:   "manage.py in a and b",
		},
		{
			name:  "no settings",
			root:  "x",
			files: map[string]string{"manage.py": "# custom\n"},
			err:   "does not set DJANGO_SETTINGS_MODULE",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.root)
			for name, text := range tt.files {
				write(t, filepath.Join(dir, filepath.FromSlash(name)), text, 0o644)
			}
			p, err := Detect(dir)
			p.Found = nil // what the settings read is TestInitReadsSettings's
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Errorf("got %+v %v, want %+v", p, err, tt.want)
			}
		})
	}
}

func TestAppName(t *testing.T) {
	for settings, want := range map[string]string{
		"notes.settings":    "notes",
		"My_Notes.settings": "my-notes",
		"config.settings":   "dir-name", // generic: the directory names it
		"a123456789012345678901234567890123456789xyz.settings": "a123456789012345678901234567890123456789",
	} {
		if got := appName(settings, "/tmp/Dir_Name"); got != want {
			t.Errorf("appName(%q) = %q, want %q", settings, got, want)
		}
	}
	if got := appName("config.settings", "/tmp/2024"); got != "app" {
		t.Errorf("a directory name with no letters: %q", got)
	}
}

// The file hoist init writes must load as it is, and with every commented
// key uncommented: the defaults it shows are valid values.
func TestInitTemplate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "notes")
	write(t, filepath.Join(dir, "src", "manage.py"), strings.Replace(manageTemplate, "%s", "notes.settings", 1), 0o644)
	write(t, filepath.Join(dir, "requirements.txt"), "django\n", 0o644)
	p, err := Detect(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := InitTemplate(p)
	write(t, filepath.Join(dir, FileName), string(tmpl), 0o644)
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, tmpl)
	}
	if c.App != "notes" || c.Settings != "notes.settings" || c.ProjectDir != "src" || c.Requirements != "requirements.txt" ||
		c.WSGI != "notes.wsgi:application" || strings.Join(c.Secrets, ",") != "DJANGO_SECRET_KEY" {
		t.Errorf("loaded %s", sprint(c))
	}
	prod, err := c.Stage("production")
	if err != nil || len(prod.Hosts) != 1 || prod.Hosts[0].Address != "deploy@your-server.example.com" {
		t.Errorf("production stage: %+v %v", prod, err)
	}

	// Uncomment every "# key: value" and "# - item" line.
	keyLine := regexp.MustCompile(`(?m)^(\s*)# ((?:\s*)(?:[A-Za-z_]+:|- ))`)
	all := keyLine.ReplaceAllString(string(tmpl), "$1$2")
	full, err := Parse(FileName, []byte(all))
	if err != nil {
		t.Fatalf("uncommented template: %v\n%s", err, all)
	}
	if len(full.Stages) != 2 || len(full.Stages[0].Hosts) != 2 || full.Env["DJANGO_DEBUG"] != "false" || full.Web.Server != "nginx" ||
		len(full.Processes) != 2 || len(full.Build) != 1 || len(full.Release) != 1 || len(full.Packages) != 1 {
		t.Errorf("uncommented template did not set everything: %s\n%s", sprint(full), all)
	}
	// And every key of the schema is in it.
	for _, k := range []string{"app", "strategy", "deploy_to", "project_dir", "python", "system_site_packages", "requirements",
		"settings", "wsgi", "env", "secrets", "secrets_file", "shared_files", "shared_dirs", "keep_releases",
		"web", "server", "domains", "port", "static_url", "media_url", "max_body_size",
		"gunicorn", "workers", "timeout", "graceful_timeout", "args",
		"health", "paths", "status", "contains", "host", "retries",
		"stages", "hosts", "ref", "roles", "primary",
		"packages", "processes", "command", "stop_timeout", "build", "release",
		"hooks", "before_deploy", "after_deploy", "on_failure", "checks", "fail_level", "silence"} {
		if !regexp.MustCompile(`(?m)^[\s#-]*` + k + `:`).MatchString(all) {
			t.Errorf("the template does not show %s", k)
		}
	}
}

func TestInitTemplateQuoting(t *testing.T) {
	tmpl := InitTemplate(Project{App: "yes", Settings: "yes.settings", ProjectDir: "null", Requirements: "reqs: prod.txt"})
	c, err := Parse(FileName, tmpl)
	if err != nil {
		t.Fatalf("%v\n%s", err, tmpl)
	}
	if c.App != "yes" || c.ProjectDir != "null" || c.Requirements != "reqs: prod.txt" {
		t.Errorf("%s", sprint(c))
	}
}

// initProject writes a Django project (manage.py naming settings, and
// files) and returns what hoist init writes for it, after checking that
// it loads as it is and with every commented key uncommented.
func initProject(t *testing.T, settings string, files map[string]string) (Project, string, *Config) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	write(t, filepath.Join(dir, "manage.py"), strings.Replace(manageTemplate, "%s", settings, 1), 0o644)
	for name, text := range files {
		write(t, filepath.Join(dir, filepath.FromSlash(name)), text, 0o644)
	}
	p, err := Detect(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := InitTemplate(p)
	write(t, filepath.Join(dir, FileName), string(tmpl), 0o644)
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("the generated hoist.yml does not load: %v\n%s", err, tmpl)
	}
	keyLine := regexp.MustCompile(`(?m)^(\s*)# ((?:\s*)(?:[A-Za-z_]+:|- ))`)
	all := keyLine.ReplaceAllString(string(tmpl), "$1$2")
	if _, err := Parse(FileName, []byte(all)); err != nil {
		t.Fatalf("the generated hoist.yml, uncommented, does not load: %v\n%s", err, all)
	}
	return p, string(tmpl), c
}

// The acceptance case of issue 8: settings that read APP_SECRET and
// APP_DB_HOST get exactly those, the secret under secrets, and no
// DJANGO_SECRET_KEY they never read.
func TestInitProposesWhatSettingsRead(t *testing.T) {
	_, tmpl, c := initProject(t, "shop.settings", map[string]string{
		"shop/__init__.py": "",
		"shop/settings.py": `import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["APP_SECRET"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "HOST": os.environ["APP_DB_HOST"]}}
STATIC_ROOT = BASE_DIR / "static"
`,
	})
	if strings.Join(c.Secrets, ",") != "APP_SECRET" || len(c.Env) != 1 || c.Env["APP_DB_HOST"] != Placeholder {
		t.Errorf("secrets %v, env %v; want [APP_SECRET] and APP_DB_HOST\n%s", c.Secrets, c.Env, tmpl)
	}
	if strings.Contains(tmpl, "DJANGO_SECRET_KEY") {
		t.Errorf("proposes DJANGO_SECRET_KEY, which the settings never read:\n%s", tmpl)
	}
	for _, want := range []string{"APP_SECRET  # read by shop/settings.py:5", "APP_DB_HOST: change-me  # read by shop/settings.py:6"} {
		if !strings.Contains(tmpl, want) {
			t.Errorf("no %q in\n%s", want, tmpl)
		}
	}
	if strings.Contains(tmpl, "STATIC_ROOT") || len(c.Processes) != 0 || len(c.Build) != 0 {
		t.Errorf("proposes what the project does not need:\n%s", tmpl)
	}
}

// What each way of reading the environment gives, one settings file each.
func TestInitReadsSettings(t *testing.T) {
	type v = EnvVar
	tests := []struct {
		name     string
		settings string
		want     []EnvVar // Where is checked for the first only: file:line
	}{
		{
			name: "os",
			settings: `import os
from os import environ, getenv as ge
A = os.environ["A_HOST"]
B = os.environ.get('B_NAME', 'bee')
C = os.getenv("C_PORT", 5432)
D = environ["D_TOKEN"]
E = ge("E_DEBUG", False)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_.settings")
os.environ.setdefault("F_MODE", "fast")
os.environ["G_SET"] = "written, not read"
# os.environ["H_COMMENTED"]
"""os.environ["I_DOCSTRING"] is text""" if False else None
J = os.environ.get(
    "J_SECRET_KEY",
    default_key(),
)
K = os.environ.get("A_HOST", "again")
`,
			want: []EnvVar{
				{Name: "A_HOST", Where: []string{"site_/settings.py:3", "site_/settings.py:17"}, Default: "again"},
				{Name: "B_NAME", Optional: true, Default: "bee"},
				{Name: "C_PORT", Optional: true, Default: "5432"},
				{Name: "D_TOKEN", Secret: true},
				{Name: "E_DEBUG", Optional: true, Default: "False"},
				{Name: "F_MODE", Optional: true, Default: "fast"},
				{Name: "J_SECRET_KEY", Optional: true, Secret: true},
			},
		},
		{
			name: "django-environ",
			settings: `import environ
env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list,),
)
environ.Env.read_env()
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
SECRET_KEY = env.str("DJANGO_KEY")
USE_X = env.bool("USE_X", default=True)
DATABASES = {"default": env.db()}
REPLICA = env.db("REPLICA_URL", default="postgres://app:hunter2@db/app")
CACHES = {"default": env.cache()}
vars().update(env.email_url())
SENTRY = env("SENTRY_DSN", default=None)
`,
			want: []EnvVar{
				{Name: "DEBUG", Optional: true, Default: "False", Where: []string{"site_/settings.py:7"}},
				{Name: "ALLOWED_HOSTS"},
				{Name: "DJANGO_KEY", Secret: true},
				{Name: "USE_X", Optional: true, Default: "True"},
				{Name: "DATABASE_URL", Secret: true},
				{Name: "REPLICA_URL", Optional: true, Secret: true, Default: "postgres://app:hunter2@db/app"},
				{Name: "CACHE_URL"},
				{Name: "EMAIL_URL"},
				{Name: "SENTRY_DSN", Optional: true, Secret: true},
			},
		},
		{
			name: "decouple and dj-database-url",
			settings: `from decouple import config, Csv
import dj_database_url
SECRET_KEY = config("SECRET_KEY")
DEBUG = config("DEBUG", default=False, cast=bool)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", cast=Csv())
DATABASES = {
    "default": dj_database_url.config(conn_max_age=600),
    "other": dj_database_url.config(env="OTHER_DB", default="sqlite:///o.db"),
}
EMAIL_HOST_PASSWORD = config('EMAIL_HOST_PASSWORD', '')
`,
			want: []EnvVar{
				{Name: "SECRET_KEY", Secret: true, Where: []string{"site_/settings.py:3"}},
				{Name: "DEBUG", Optional: true, Default: "False"},
				{Name: "ALLOWED_HOSTS"},
				{Name: "DATABASE_URL", Secret: true},
				{Name: "OTHER_DB", Optional: true, Default: "sqlite:///o.db"},
				{Name: "EMAIL_HOST_PASSWORD", Optional: true, Secret: true},
			},
		},
		{
			name: "the settings' own helpers",
			settings: `import os

def env_bool(name, default):
    value = os.environ.get(name)
    return default if value is None else value == "on"

def env_list(name):
    return env_str(name).split(",")

def env_str(name):
    return os.environ[name]

def unrelated(name):
    return name

DEBUG = env_bool("APP_DEBUG", False)
HOSTS = env_list("APP_HOSTS")
X = unrelated("NOT_READ")
`,
			want: []EnvVar{
				{Name: "APP_DEBUG", Optional: true, Default: "False", Where: []string{"site_/settings.py:16"}},
				{Name: "APP_HOSTS"},
			},
		},
		{
			name:     "nothing from the environment",
			settings: "SECRET_KEY = 'hard-coded'\nconfig = {'A': 1}\nconfig('X')\nenv('Y')\n",
			want:     nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, tmpl, _ := initProject(t, "site_.settings", map[string]string{"site_/settings.py": tt.settings})
			got := p.Found.Vars
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if w.Where == nil {
					g.Where = nil
				}
				if g.Name != w.Name || g.Secret != w.Secret || g.Optional != w.Optional || g.Default != w.Default ||
					strings.Join(g.Where, " ") != strings.Join(w.Where, " ") {
					t.Errorf("got %+v\nwant %+v", got[i], w)
				}
			}
			if len(tt.want) == 0 && !strings.Contains(tmpl, "# secrets: [DJANGO_SECRET_KEY]") {
				t.Errorf("no advice to read SECRET_KEY from the environment:\n%s", tmpl)
			}
		})
	}
}

// A settings package: the module manage.py names, what it star-imports, and
// the package's other modules, but not the ones for a developer's machine.
func TestInitReadsSettingsPackage(t *testing.T) {
	p, tmpl, c := initProject(t, "config.settings.production", map[string]string{
		"config/__init__.py":          "",
		"config/settings/__init__.py": "",
		"config/settings/base.py": `import environ
env = environ.Env()
from .common import *
SECRET_KEY = env("DJANGO_SECRET_KEY")
STATIC_ROOT = "/srv/static"
INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "compressor",
]
`,
		"config/settings/common.py": "import os\nTIME_ZONE = os.environ.get('TZ_NAME', 'UTC')\n",
		"config/settings/production.py": `from .base import *  # noqa
from .base import env
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
COMPRESS_OFFLINE = True
`,
		"config/settings/staging.py": "from config.settings.base import *\nSTAGING_BANNER = env('STAGING_BANNER')\n",
		"config/settings/local.py":   "from .base import *\nUSE_DOCKER = env('USE_DOCKER')\n",
		"config/settings/test.py":    "from .base import *\nTEST_RUNNER = env('TEST_RUNNER')\n",
	})
	f := p.Found
	if got := strings.Join(f.Files, " "); got != "config/settings/common.py config/settings/base.py config/settings/production.py config/settings/__init__.py config/settings/staging.py" {
		t.Errorf("files read: %s", got)
	}
	var names []string
	for _, v := range f.Vars {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, " "); got != "TZ_NAME DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS STAGING_BANNER" {
		t.Errorf("variables: %s", got)
	}
	if strings.Join(c.Secrets, ",") != "DJANGO_SECRET_KEY" || len(c.Env) != 2 || c.Env["DJANGO_ALLOWED_HOSTS"] != Placeholder {
		t.Errorf("secrets %v, env %v\n%s", c.Secrets, c.Env, tmpl)
	}
	if !strings.Contains(tmpl, "  # TZ_NAME: UTC  # read by config/settings/common.py:2\n") {
		t.Errorf("an optional variable is not shown commented out with its default:\n%s", tmpl)
	}
	// compressor in base.py, COMPRESS_OFFLINE in production.py.
	if strings.Join(c.Build, ",") != "python manage.py compress" || strings.Contains(tmpl, "STATIC_ROOT") {
		t.Errorf("build %v\n%s", c.Build, tmpl)
	}
}

func TestInitCompressorAndStaticRoot(t *testing.T) {
	_, tmpl, c := initProject(t, "site_.settings", map[string]string{
		"site_/settings.py": "INSTALLED_APPS = ['compressor']\nCOMPRESS_OFFLINE = False\nSTATIC_URL = '/static/'\n",
	})
	// Without COMPRESS_OFFLINE, manage.py compress fails: proposed, commented out.
	if len(c.Build) != 0 || !strings.Contains(tmpl, "#   - python manage.py compress") || !strings.Contains(tmpl, "COMPRESS_OFFLINE = True") {
		t.Errorf("build %v\n%s", c.Build, tmpl)
	}
	if !strings.Contains(tmpl, "set no STATIC_ROOT") {
		t.Errorf("no word about the missing STATIC_ROOT:\n%s", tmpl)
	}
}

func TestInitCelery(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		files    map[string]string
		app      string // the -A argument; "" for no worker
		where    string
	}{
		{
			name:     "celery.py next to the settings",
			settings: "proj.settings",
			files:    map[string]string{"proj/settings.py": "", "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n"},
			app:      "proj", where: "proj/celery.py",
		},
		{
			name:     "celery.py above a settings package",
			settings: "proj.settings.production",
			files:    map[string]string{"proj/settings/production.py": "", "proj/celery.py": ""},
			app:      "proj", where: "proj/celery.py",
		},
		{
			name:     "an app module of another name",
			settings: "config.settings",
			files: map[string]string{
				"config/settings.py":   "",
				"config/celery_app.py": "import os\nfrom celery import Celery\n\napp = Celery('x')\n",
				"config/tasks.py":      "from celery import shared_task\n",
			},
			app: "config.celery_app", where: "config/celery_app.py",
		},
		{
			name:     "only an import",
			settings: "proj.settings",
			files:    map[string]string{"proj/settings.py": "", "proj/jobs/tasks.py": "from celery import shared_task\n"},
			app:      "proj", where: "proj/jobs/tasks.py",
		},
		{
			name:     "no Celery",
			settings: "proj.settings",
			files:    map[string]string{"proj/settings.py": "", "proj/jobs.py": "# from celery import shared_task\nimport celeryish\n", "other/celery.py": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, tmpl, c := initProject(t, tt.settings, tt.files)
			if p.Found.Celery != tt.app || p.Found.CeleryFile != tt.where {
				t.Errorf("Celery %q in %q, want %q in %q", p.Found.Celery, p.Found.CeleryFile, tt.app, tt.where)
			}
			switch {
			case tt.app == "" && len(c.Processes) != 0:
				t.Errorf("a worker for no Celery:\n%s", tmpl)
			case tt.app != "" && (len(c.Processes) != 1 || c.Processes[0].Name != "worker" ||
				c.Processes[0].Command != "python -m celery -A "+tt.app+" worker -l info"):
				t.Errorf("processes %s\n%s", sprint(&Config{Processes: c.Processes}), tmpl)
			}
		})
	}
}

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"DJANGO_SECRET_KEY": true, "DB_PASSWORD": true, "DB_PASS": true, "GITHUB_TOKEN": true, "STRIPE_API_KEY": true,
		"AWS_ACCESS_KEY_ID": true, "FERNET_KEYS": true, "SSH_PRIVATE": true, "GOOGLE_CREDENTIALS": true, "SENTRY_DSN": true,
		"DATABASE_URL": true, "TASKS_DATABASE_URL": true, "MAILGUN_APIKEY": true,
		"ALLOWED_HOSTS": false, "CACHE_KEY_PREFIX": false, "STRIPE_PUBLIC_KEY": false, "KEYBOARD_LAYOUT": false,
		"DEBUG": false, "REDIS_URL": false, "MONKEY": false,
	} {
		if got := secretName(name, ""); got != want {
			t.Errorf("secretName(%s) = %v", name, got)
		}
	}
	if !secretName("REDIS_URL", "redis://:pw@localhost:6379/0") || secretName("REDIS_URL", "redis://localhost:6379/0") {
		t.Error("a URL is a secret when its default holds a password, only then")
	}
}

func TestPyTokens(t *testing.T) {
	toks := pyTokens("a = '''x\n# y\n''' # c\nb = f\"{z}\" + r'\\'' \\\n  + 1.5e3\nif a == b: pass\n")
	var got []string
	for _, tk := range toks {
		mark := ""
		if tk.first {
			mark = "^"
		}
		got = append(got, fmt.Sprintf("%s%c:%s@%d", mark, tk.kind, tk.text, tk.line))
	}
	want := `^n:a@1 o:=@1 s:x
# y
@1 ^n:b@4 o:=@4 f:{z}@4 o:+@4 s:\'@4 o:+@5 0:1.5e3@5 ^n:if@6 n:a@6 o:==@6 n:b@6 o::@6 n:pass@6`
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}
