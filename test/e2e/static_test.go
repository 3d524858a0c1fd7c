package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// The notes page names its stylesheet by content hash
// (ManifestStaticFilesStorage): /static/board/site.0fb39842c094.css.
var hashedCSS = regexp.MustCompile(`/static/board/site\.[0-9a-f]{12}\.css`)

// stylesheet is the hashed CSS URL the page served now names.
func stylesheet(t *testing.T, h *fleet.Host, domain string) string {
	t.Helper()
	code, page := get(t, h, domain, "/")
	url := hashedCSS.FindString(page)
	if code != 200 || url == "" {
		t.Fatalf("%s: GET / = %d without a hashed stylesheet:\n%.400s", h.Name, code, page)
	}
	return url
}

// A deploy that changes a CSS file: pages the previous release rendered
// ask for its hashed name, which still answers through the web server
// after the cut-over, as does the new one, with nginx and with Caddy. A
// rollback serves the manifest of the release it goes back to. Once the
// old release is pruned, its name answers 404.
func TestStaticFilesAcrossReleases(t *testing.T) {
	skipShort(t)
	t.Run("nginx", func(t *testing.T) {
		t.Parallel()
		const domain = "statics.test"
		h := shared.Hosts[0]
		a := newApp(t, shared, "notes", "statics", notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/statics/shared/db.sqlite3\""))
		oldID := staticsAcrossTwoDeploys(t, a, h, domain)
		oldCSS, newCSS := staticsRollback(t, a, h, domain)

		// keep_releases is 3: deploy until the first release is pruned.
		for i := 3; sh(t, h, "test -d /srv/statics/releases/"+oldID+" && echo kept || echo gone") == "kept"; i++ {
			if i > 7 {
				t.Fatalf("release %s is still on the host after %d deploys", oldID, i-1)
			}
			a.write("VERSION", fmt.Sprintf("v%d\n", i))
			a.commit("another release")
			a.mustHoist("deploy", "prod")
		}
		if code, _ := get(t, h, domain, oldCSS); code != 404 {
			t.Errorf("GET %s of the pruned release = %d, want 404", oldCSS, code)
		}
		if code, _ := get(t, h, domain, newCSS); code != 200 {
			t.Errorf("GET %s of a kept release = %d, want 200", newCSS, code)
		}
	})
	t.Run("caddy", func(t *testing.T) {
		t.Parallel()
		f := fleet.Start(t, fleet.Options{Hosts: 1})
		h := f.Hosts[0]
		sh(t, h, "systemctl disable --now nginx")
		const domain = "staticc.test"
		yml := strings.Replace(notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/staticc/shared/db.sqlite3\""),
			"web:\n", "web:\n  server: caddy\n  tls: \"off\"\n", 1)
		a := newApp(t, f, "notes", "staticc", yml)
		staticsAcrossTwoDeploys(t, a, h, domain)
		staticsRollback(t, a, h, domain)
	})
}

// staticsAcrossTwoDeploys sets up and deploys the app, then deploys a
// changed stylesheet; both hashed names must answer with their own
// content. It returns the first release's id.
func staticsAcrossTwoDeploys(t *testing.T, a *app, h *fleet.Host, domain string) string {
	t.Helper()
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	oldID := sh(t, h, "basename $(readlink /srv/"+a.name+"/current)")
	oldCSS := stylesheet(t, h, domain)

	css := readFile(t, a.dir+"/board/static/board/site.css")
	a.write("board/static/board/site.css", css+"\n.changed-in-v2 { color: teal; }\n")
	a.write("VERSION", "v2\n")
	a.commit("v2: restyle")
	a.mustHoist("deploy", "prod")
	expectServing(t, []*fleet.Host{h}, domain, "version: v2")
	newCSS := stylesheet(t, h, domain)
	if newCSS == oldCSS {
		t.Fatalf("the changed stylesheet kept its hashed name %s", oldCSS)
	}
	if code, body := get(t, h, domain, oldCSS); code != 200 || strings.Contains(body, "changed-in-v2") {
		t.Errorf("after the deploy, the previous release's %s = %d %.80q, want 200 with the old content", oldCSS, code, body)
	}
	if code, body := get(t, h, domain, newCSS); code != 200 || !strings.Contains(body, "changed-in-v2") {
		t.Errorf("after the deploy, the new %s = %d %.80q, want 200 with the new content", newCSS, code, body)
	}
	return oldID
}

// staticsRollback rolls back after staticsAcrossTwoDeploys: the page names
// the old stylesheet again (the old release's manifest), and both names
// still answer. It returns the old and new hashed names.
func staticsRollback(t *testing.T, a *app, h *fleet.Host, domain string) (string, string) {
	t.Helper()
	newCSS := stylesheet(t, h, domain)
	a.mustHoist("rollback", "prod")
	expectServing(t, []*fleet.Host{h}, domain, "version: v1")
	oldCSS := stylesheet(t, h, domain)
	if oldCSS == newCSS {
		t.Errorf("after the rollback the page still names %s: the rolled-back release's manifest is not in use", newCSS)
	}
	for _, css := range []string{oldCSS, newCSS} {
		if code, _ := get(t, h, domain, css); code != 200 {
			t.Errorf("after the rollback, GET %s = %d, want 200", css, code)
		}
	}
	return oldCSS, newCSS
}
