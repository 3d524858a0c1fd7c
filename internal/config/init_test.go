package config

import (
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
	if len(full.Stages) != 2 || len(full.Stages[0].Hosts) != 2 || full.Env["DJANGO_DEBUG"] != "false" || full.Web.Server != "nginx" {
		t.Errorf("uncommented template did not set everything: %s\n%s", sprint(full), all)
	}
	// And every key of the schema is in it.
	for _, k := range []string{"app", "strategy", "deploy_to", "project_dir", "python", "system_site_packages", "requirements",
		"settings", "wsgi", "env", "secrets", "secrets_file", "shared_files", "shared_dirs", "keep_releases",
		"web", "server", "domains", "port", "static_url", "media_url", "max_body_size",
		"gunicorn", "workers", "timeout", "graceful_timeout", "args",
		"health", "paths", "status", "contains", "host", "retries",
		"stages", "hosts", "ref", "roles", "primary"} {
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
