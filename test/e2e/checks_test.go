package e2e

import (
	"strings"
	"testing"
)

// TestPlainHTTPStageDeploysWithItsWarnings: a real app on a plain-HTTP
// stage gets Django's HTTPS warnings (HSTS, SSL redirect, secure cookies).
// They are printed and do not stop the deploy; DEBUG on and a missing
// migration still do; a silenced check id is never printed.
func TestPlainHTTPStageDeploysWithItsWarnings(t *testing.T) {
	t.Parallel()
	skipShort(t)
	h := shared.Hosts[0]
	const domain = "plainhttp.test"
	yml := notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/plainhttp/shared/db.sqlite3\"")
	// The example silences the HTTPS warnings in its own settings; here
	// the app does not, as most apps do not, and hoist.yml silences one.
	yml = strings.Replace(yml, "  DJANGO_SILENCED_CHECKS: \"security.W004,security.W008,security.W012,security.W016\"\n", "", 1)
	yml = strings.Replace(yml, "    env:\n", "    checks:\n      silence: [security.W016]\n    env:\n", 1)
	if strings.Contains(yml, "DJANGO_SILENCED_CHECKS") || !strings.Contains(yml, "silence: [security.W016]") {
		t.Fatalf("notesYML changed; this test's hoist.yml is wrong:\n%s", yml)
	}
	a := newApp(t, shared, "notes", "plainhttp", yml)
	const silenced = "security.W016"
	shown := []string{"security.W004", "security.W008", "security.W012"}

	a.mustHoist("setup", "prod")
	out := a.mustHoist("deploy", "prod")
	for _, id := range shown {
		if !strings.Contains(out, id) {
			t.Errorf("the deploy did not print the warning %s", id)
		}
	}
	if !strings.Contains(out, "hint: set SECURE_HSTS_SECONDS") {
		t.Errorf("the HSTS warning came without its hint")
	}
	if strings.Contains(out, silenced) {
		t.Errorf("the silenced %s was printed", silenced)
	}
	expectServing(t, shared.Hosts[:1], domain, "version: v1")
	live := sh(t, h, "readlink /srv/plainhttp/current")

	// hoist check says the same and passes.
	out = a.mustHoist("check", "prod")
	if !strings.Contains(out, "passes Django's checks") || !strings.Contains(out, "security.W004") || strings.Contains(out, silenced) {
		t.Errorf("hoist check should pass, showing W004 and not %s", silenced)
	}

	// DEBUG on stops it, with the warnings still shown beside the error.
	a.write("hoist.yml", strings.ReplaceAll(yml, "%APP%", "plainhttp")+"      DJANGO_DEBUG: \"on\"\n")
	a.write("VERSION", "debug\n")
	a.commit("DEBUG on")
	out, code := a.hoist("deploy", "prod")
	if code != 5 || !strings.Contains(out, "security.W018") || !strings.Contains(out, "DEBUG = False") {
		t.Errorf("deploy with DEBUG on: exit %d, want 5 naming security.W018 with its hint", code)
	}
	if strings.Contains(out, silenced) {
		t.Errorf("the silenced %s was printed", silenced)
	}

	// A model change without its migration stops it.
	a.write("hoist.yml", strings.ReplaceAll(yml, "%APP%", "plainhttp"))
	a.write("board/models.py", readFile(t, a.dir+"/board/models.py")+"\nclass Forgotten(models.Model):\n    name = models.CharField(max_length=10)\n")
	a.write("VERSION", "forgotten\n")
	a.commit("model without migration")
	out, code = a.hoist("deploy", "prod")
	if code != 5 || !strings.Contains(out, "makemigrations --check failed") || !strings.Contains(out, "Forgotten") {
		t.Errorf("deploy of a missing migration: exit %d, want 5 naming makemigrations and the model", code)
	}
	if now := sh(t, h, "readlink /srv/plainhttp/current"); now != live {
		t.Errorf("a failed check changed the live release: %s -> %s", live, now)
	}
	expectServing(t, shared.Hosts[:1], domain, "version: v1")

	// --skip-checks says what it leaves out, on its warning: all three.
	out = a.mustHoist("deploy", "prod", "--skip-checks")
	said := false
	for _, line := range strings.Split(out, "\n") {
		said = said || strings.Contains(line, "warning:") && strings.Contains(line, "check --deploy") &&
			strings.Contains(line, "makemigrations --check") && strings.Contains(line, "collectstatic")
	}
	if !said {
		t.Errorf("--skip-checks did not warn that it skips check --deploy, makemigrations --check and collectstatic")
	}
	expectServing(t, shared.Hosts[:1], domain, "version: forgotten")
}
