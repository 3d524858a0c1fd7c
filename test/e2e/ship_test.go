package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// shipYML is a two-stage pipeline for the notes example: staging on one
// host, with functional tests, then production on another, tagged and
// pushed. The staging URL is the host's nginx as this machine reaches it.
func shipYML(staging, prod *fleet.Host) string {
	return fmt.Sprintf(`app: %%APP%%
settings: notes.settings
system_site_packages: true
requirements: requirements.txt
env:
  DJANGO_ALLOWED_HOSTS: "staging.test,prod.test,localhost"
  DJANGO_SECURE_SSL_REDIRECT: "off"
  DJANGO_SESSION_COOKIE_SECURE: "off"
  DJANGO_CSRF_COOKIE_SECURE: "off"
  DJANGO_SECURE_HSTS_SECONDS: "0"
  DJANGO_SILENCED_CHECKS: "security.W004,security.W008,security.W012,security.W016"
  DATABASE_URL: "sqlite:////srv/%%APP%%/shared/db.sqlite3"
secrets: [DJANGO_SECRET_KEY]
pipeline: [staging, production]
stages:
  staging:
    hosts: [%s]
    domains: [staging.test]
    url: http://127.0.0.1:%d
    test: sh functional_tests.sh
  production:
    hosts: [%s]
    domains: [prod.test]
    tags:
      push: true
`, staging.Name, staging.HTTPPort, prod.Name)
}

// functionalTests is the app's own functional test: real HTTP requests
// against the stage hoist names in TEST_SERVER.
const functionalTests = `#!/bin/sh
set -u
page=$(curl -sS -H "Host: staging.test" "$TEST_SERVER/") || { echo "FAIL: GET / did not answer"; exit 1; }
case "$page" in
  *"version: $(cat VERSION)"*) echo "ok: the home page shows version $(cat VERSION)" ;;
  *) echo "FAIL: the home page does not show version $(cat VERSION)"; exit 1 ;;
esac
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: staging.test" -d "text=written+by+the+functional+tests" "$TEST_SERVER/api/notes")
[ "$code" = 201 ] || { echo "FAIL: POST /api/notes answered $code, want 201"; exit 1; }
curl -sS -H "Host: staging.test" "$TEST_SERVER/api/notes" | grep -q "written by the functional tests" || { echo "FAIL: the new note is not listed"; exit 1; }
echo "functional tests passed"
`

// hoistJSON runs hoist with --json and parses its standard output line by
// line: every line must be one JSON object.
func (a *app) hoistJSON(args ...string) ([]map[string]any, int) {
	a.t.Helper()
	var stdout, stderr bytes.Buffer
	code := a.run(append(args, "--json"), &stdout, &stderr)
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			a.t.Fatalf("hoist %v --json printed a line that is not JSON: %q", args, line)
		}
		events = append(events, e)
	}
	return events, code
}

// find returns the events of a kind whose message holds text.
func find(events []map[string]any, kind, text string) []map[string]any {
	var out []map[string]any
	for _, e := range events {
		if e["kind"] == kind && strings.Contains(fmt.Sprint(e["message"]), text) {
			out = append(out, e)
		}
	}
	return out
}

func TestShip(t *testing.T) {
	skipShort(t)
	f := fleet.Start(t, fleet.Options{Hosts: 2})
	staging, prod := f.Hosts[0], f.Hosts[1]
	a := newApp(t, f, "notes", "shipnotes", shipYML(staging, prod))
	origin := filepath.Join(t.TempDir(), "origin.git")
	a.git("init", "-q", "--bare", origin)
	a.git("remote", "add", "origin", origin)
	a.write("functional_tests.sh", functionalTests)
	c1 := a.commit("functional tests")
	a.mustHoist("setup", "staging")
	a.mustHoist("setup", "production")

	// 1. A passing ship: staging, its tests, production, tags.
	events, code := a.hoistJSON("ship")
	if code != 0 {
		t.Fatalf("ship: exit %d", code)
	}
	if len(find(events, "step", "functional tests passed")) != 1 || len(find(events, "result", "shipped")) != 1 {
		t.Errorf("ship --json lacks the tests' output or its result")
	}
	expectServingAs(t, staging, "staging.test", "version: v1")
	expectServingAs(t, prod, "prod.test", "version: v1")
	checkTags(t, a, c1)

	// The staging history holds the passing test, with the commit.
	hist, code := a.hoistJSON("history", "staging")
	if code != 0 || !hasEvent(hist, "test", "ok", c1) || !hasEvent(hist, "deploy", "ok", c1) {
		t.Errorf("staging history lacks the deploy and the passing test of %.7s", c1)
	}

	// 2. diff before the next ship: one commit, a requirement change, a
	// static file, a migration (safe).
	a.write("VERSION", "v2\n")
	a.write("requirements.txt", readFile(t, a.dir+"/requirements.txt")+"# v2\n")
	a.write("board/static/board/site.css", readFile(t, a.dir+"/board/static/board/site.css")+"\n.tag { color: red; }\n")
	a.write("board/models.py", strings.Replace(readFile(t, a.dir+"/board/models.py"),
		"    created = models.DateTimeField(auto_now_add=True)\n",
		"    created = models.DateTimeField(auto_now_add=True)\n    tag = models.CharField(max_length=20, null=True, blank=True)\n", 1))
	a.write("board/migrations/0002_note_tag.py", `from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("board", "0001_initial")]

    operations = [
        migrations.AddField(model_name="note", name="tag", field=models.CharField(blank=True, max_length=20, null=True)),
    ]
`)
	c2 := a.commit("notes get a tag")
	diff, code := diffEvents(a.hoistJSON("diff", "production"))
	if code != 0 || len(diff) != 1 {
		t.Fatalf("diff production: exit %d, %d events, want one", code, len(diff))
	}
	d := diff[0]
	if d["kind"] != "diff" || d["from"] != c1 || d["to"] != c2 || d["requirements_changed"] != true ||
		d["static_files_changed"] != 1.0 || d["migrations_analysed"] != true {
		t.Errorf("diff production = %v", d)
	}
	if got := commitSubjects(d); got != "notes get a tag" {
		t.Errorf("diff commits = %q, want the one new commit", got)
	}
	if got := migrationNames(d, false); got != "board.0002_note_tag" {
		t.Errorf("diff migrations = %q, want board.0002_note_tag and none unsafe", got)
	}
	out := a.mustHoist("diff", "production")
	for _, want := range []string{"notes get a tag", "requirements.txt changed: a new virtualenv is built", "static files: 1 changed", "board.0002_note_tag"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff production does not say %q", want)
		}
	}
	if _, code := a.hoistJSON("ship"); code != 0 {
		t.Fatalf("ship of v2: exit %d", code)
	}
	expectServingAs(t, prod, "prod.test", "version: v2")
	checkTags(t, a, c2)
	if diff, _ := diffEvents(a.hoistJSON("diff", "production")); len(diff) != 1 || commitSubjects(diff[0]) != "" || migrationNames(diff[0], false) != "" ||
		diff[0]["requirements_changed"] != false {
		t.Errorf("diff after the ship should be empty: %v", diff)
	}
	prodRelease := sh(t, prod, "readlink /srv/shipnotes/current")

	// 3. A commit with a bug the functional tests catch (and an unsafe
	// migration that diff marks): ship stops after staging.
	a.write("VERSION", "v3\n")
	a.write("board/views.py", strings.Replace(readFile(t, a.dir+"/board/views.py"), "return JsonResponse(note.as_dict(), status=201)", "return JsonResponse(note.as_dict())", 1))
	a.write("board/models.py", strings.Replace(readFile(t, a.dir+"/board/models.py"), "    tag = models.CharField(max_length=20, null=True, blank=True)\n", "", 1))
	a.write("board/migrations/0003_remove_note_tag.py", `from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("board", "0002_note_tag")]

    operations = [
        migrations.RemoveField(model_name="note", name="tag"),
    ]
`)
	c3 := a.commit("drop the tag; POST answers 200")
	diff, _ = diffEvents(a.hoistJSON("diff", "production"))
	if len(diff) != 1 || migrationNames(diff[0], true) != "board.0003_remove_note_tag!" || diff[0]["requirements_changed"] != false {
		t.Errorf("diff should mark the RemoveField unsafe: %v", diff)
	}
	events, code = a.hoistJSON("ship", "--allow-unsafe-migrations")
	if code != 7 {
		t.Errorf("ship with failing tests: exit %d, want 7", code)
	}
	if len(find(events, "step", "FAIL: POST /api/notes answered 200")) != 1 || len(find(events, "error", "functional tests of staging failed")) != 1 ||
		len(find(events, "error", "production was not deployed")) != 1 {
		t.Errorf("ship --json: the tests' failure and the error event naming production are missing")
	}
	expectServingAs(t, staging, "staging.test", "version: v3")
	expectServingAs(t, prod, "prod.test", "version: v2")
	if now := sh(t, prod, "readlink /srv/shipnotes/current"); now != prodRelease {
		t.Errorf("production changed release: %s -> %s", prodRelease, now)
	}
	if hist, _ := a.hoistJSON("history", "staging"); !hasEvent(hist, "test", "failed", c3) {
		t.Errorf("staging history lacks the failed test of %.7s", c3)
	}

	// 4. Production refuses that commit, naming staging, unless --force.
	out, code = a.hoist("deploy", "production", "--allow-unsafe-migrations")
	if code != 8 || !strings.Contains(out, "staging has no passing functional tests") || !strings.Contains(out, "--force") {
		t.Errorf("deploy production of an untested commit: exit %d, want 8 naming staging", code)
	}
	events, code = a.hoistJSON("deploy", "production", "--allow-unsafe-migrations")
	if code != 8 || len(find(events, "error", "refusing to deploy commit")) != 1 {
		t.Errorf("deploy production --json: exit %d; the refusal must be an error event", code)
	}
	expectServingAs(t, prod, "prod.test", "version: v2")
	out = a.mustHoist("deploy", "production", "--force", "--allow-unsafe-migrations")
	if !strings.Contains(out, "--force: deploying") {
		t.Errorf("--force did not say what it skips")
	}
	expectServingAs(t, prod, "prod.test", "version: v3")
	checkTags(t, a, c3)

	// Errors before anything is contacted are JSON events too.
	events, code = a.hoistJSON("diff", "nosuchstage")
	if code != 2 || len(find(events, "error", `unknown stage "nosuchstage"`)) != 1 {
		t.Errorf("diff of an unknown stage: exit %d, want 2 and an error event", code)
	}
}

// expectServingAs checks one host serves want under the Host name.
func expectServingAs(t *testing.T, h *fleet.Host, host, want string) {
	t.Helper()
	expectServing(t, []*fleet.Host{h}, host, want)
}

// checkTags checks LIVE and one dated tag (DEPLOYED-YYYY-MM-DD/HHMM, with
// -2 when another deploy took that minute's name) point at commit, here
// and on the remote.
func checkTags(t *testing.T, a *app, commit string) {
	t.Helper()
	if got := a.git("rev-parse", "LIVE^{commit}"); got != commit {
		t.Errorf("LIVE -> %.7s, want %.7s", got, commit)
	}
	if got := a.git("ls-remote", "origin", "refs/tags/LIVE"); !strings.HasPrefix(got, commit) {
		t.Errorf("LIVE was not pushed to origin: %q", got)
	}
	dated := a.git("tag", "--points-at", commit, "--list", "DEPLOYED-*")
	if !regexp.MustCompile(`^DEPLOYED-\d{4}-\d\d-\d\d/\d{4}(-\d)?$`).MatchString(dated) {
		t.Errorf("want one DEPLOYED-YYYY-MM-DD/HHMM tag on %.7s, got %q; tags:\n%s", commit, dated, a.git("tag"))
	} else if got := a.git("ls-remote", "origin", "refs/tags/"+dated); !strings.HasPrefix(got, commit) {
		t.Errorf("%s was not pushed to origin: %q", dated, got)
	}
}

// diffEvents keeps the diff reports of hoist diff --json.
func diffEvents(events []map[string]any, code int) ([]map[string]any, int) {
	var out []map[string]any
	for _, e := range events {
		if e["kind"] == "diff" {
			out = append(out, e)
		}
	}
	return out, code
}

func hasEvent(events []map[string]any, action, result, commit string) bool {
	for _, e := range events {
		if e["action"] == action && e["result"] == result && e["commit"] == commit {
			return true
		}
	}
	return false
}

func commitSubjects(d map[string]any) string {
	var s []string
	list, _ := d["commits"].([]any)
	for _, c := range list {
		s = append(s, fmt.Sprint(c.(map[string]any)["subject"]))
	}
	return strings.Join(s, ",")
}

// migrationNames lists a diff's migrations, each followed by ! when one
// of its operations is marked unsafe (when marks is set).
func migrationNames(d map[string]any, marks bool) string {
	var s []string
	list, _ := d["migrations"].([]any)
	for _, m := range list {
		mm := m.(map[string]any)
		name := fmt.Sprintf("%s.%s", mm["app"], mm["name"])
		ops, _ := mm["operations"].([]any)
		for _, op := range ops {
			if u := op.(map[string]any)["unsafe"]; u != "" && u != nil {
				name += "!"
				break
			}
		}
		s = append(s, name)
	}
	out := strings.Join(s, ",")
	if !marks && strings.Contains(out, "!") {
		return out + " (unsafe marked)"
	}
	return out
}
