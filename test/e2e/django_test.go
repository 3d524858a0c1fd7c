package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shopYML is a hoist.yml for the shop example on the given hosts.
func shopYML(domain, hosts, databaseURL string) string {
	return strings.Replace(notesYML(domain, hosts, "      DATABASE_URL: \""+databaseURL+"\""),
		"settings: notes.settings", "settings: shop.settings", 1)
}

// applyCase copies one of examples/shop/next_migrations into the app.
func (a *app) applyCase(name string) {
	a.t.Helper()
	dir := filepath.Join(a.dir, "next_migrations", name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		switch {
		case e.Name() == "models.py":
			a.write("catalog/models.py", string(data))
		case strings.HasSuffix(e.Name(), ".py"):
			a.write("catalog/migrations/"+e.Name(), string(data))
		}
	}
	a.write("VERSION", name+"\n")
	a.commit("migration case " + name)
}

func TestCheckCatchesProductionMistakes(t *testing.T) {
	t.Parallel()
	skipShort(t)
	h := shared.Hosts[0]
	const domain = "checked.test"
	yml := notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/checked/shared/db.sqlite3\"")
	a := newApp(t, shared, "notes", "checked", yml)
	if out := a.mustHoist("check", "prod"); !strings.Contains(out, "passes Django's checks") {
		t.Errorf("the example app should pass:\n%s", out)
	}

	for _, c := range []struct{ env, id, hint string }{
		{`      DJANGO_DEBUG: "on"`, "security.W018", "DEBUG = False"},
		{`      DJANGO_ALLOWED_HOSTS: ""`, "security.W020", "ALLOWED_HOSTS is empty"},
	} {
		a.write("hoist.yml", strings.ReplaceAll(yml, "%APP%", "checked")+c.env+"\n")
		a.commit("break " + c.id)
		out, code := a.hoist("check", "prod")
		if code != 5 || !strings.Contains(out, c.id) || !strings.Contains(out, c.hint) {
			t.Errorf("check with %s: exit %d, want 5 with %s and a hint", c.env, code, c.id)
		}
	}

	// A model change without its migration is caught before anything
	// migrates or switches.
	a.write("hoist.yml", strings.ReplaceAll(yml, "%APP%", "checked"))
	a.mustHoist("setup", "prod")
	models := readFile(t, a.dir+"/board/models.py")
	a.write("board/models.py", models+"\nclass Forgotten(models.Model):\n    name = models.CharField(max_length=10)\n")
	a.commit("model without migration")
	out, code := a.hoist("deploy", "prod")
	if code != 5 || !strings.Contains(out, "makemigrations --check failed") || !strings.Contains(out, "Forgotten") {
		t.Errorf("deploy of a missing migration: exit %d, want 5 naming makemigrations and the model", code)
	}
	// The checks run in the new release's build on the primary; a failure
	// stops the deploy before it migrates, and nothing is left.
	if n := sh(t, h, "ls /srv/checked/releases | wc -l"); n != "0" {
		t.Errorf("%s release(s) left on the host although the checks failed", n)
	}
	if out := a.mustHoist("lock", "prod"); !strings.Contains(out, "free") {
		t.Errorf("the lock was not released:\n%s", out)
	}

	// They run with the server's Python and the release's requirements,
	// not this machine's: an app that needs a package only its wheelhouse
	// has (notes_extras, which this machine lacks) deploys.
	a.write("board/models.py", models)
	settings := readFile(t, a.dir+"/notes/settings.py")
	a.write("notes/settings.py", strings.Replace(settings, `    "board",`, `    "board",`+"\n    \"notes_extras\",", 1))
	a.commit("needs notes_extras")
	if out := a.mustHoist("deploy", "prod"); !strings.Contains(out, "Django checks passed") {
		t.Errorf("the deploy did not say the checks passed:\n%s", out)
	}
	expectServing(t, shared.Hosts[:1], domain, "hello from notes_extras")
}

func TestMigrationsRunOnceOnThePrimaryBeforeTheSwitch(t *testing.T) {
	t.Parallel()
	skipShort(t)
	hosts := shared.Hosts
	a := newApp(t, shared, "shop", "once", shopYML("once.test", hostList(hosts...), createDB(t, "once")))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	before := sh(t, hosts[0], "readlink /srv/once/current")

	// The migration writes down where it ran and what was live then.
	a.write("catalog/migrations/0006_witness.py", `import os, socket
from django.db import migrations

def witness(apps, schema_editor):
    schema_editor.execute("CREATE TABLE witness (host text, live text)")
    schema_editor.execute("INSERT INTO witness VALUES (%s, %s)", [socket.gethostname(), os.readlink("/srv/once/current")])

def unwitness(apps, schema_editor):
    schema_editor.execute("DROP TABLE witness")

class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_product_price_gte_0")]
    operations = [migrations.RunPython(witness, unwitness)]
`)
	a.write("VERSION", "v2\n")
	a.commit("witness migration")
	deps := sh(t, hosts[0], "ls /srv/once/current/catalog/migrations/ | grep ^0005")
	if !strings.HasPrefix(deps, "0005_product_price_gte_0") {
		t.Fatalf("the test's migration depends on 0005_product_price_gte_0, but the app has %s", deps)
	}
	out := a.mustHoist("deploy", "prod")
	if !strings.Contains(out, "plan: catalog.0006_witness") {
		t.Errorf("the migration plan was not shown:\n%s", out)
	}
	rows := sh(t, shared.DB, "runuser -u postgres -- psql -At -d once -c 'SELECT host, live FROM witness'")
	primary := sh(t, hosts[0], "hostname")
	if rows != primary+"|"+before {
		t.Errorf("witness rows = %q, want exactly one from %s while %s was live", rows, primary, before)
	}
	expectServing(t, hosts, "once.test", "version: v2")
}

func TestMigrationSafety(t *testing.T) {
	t.Parallel()
	skipShort(t)
	hosts := shared.Hosts[:2]
	a := newApp(t, shared, "shop", "safety", shopYML("safety.test", hostList(hosts...), createDB(t, "safety")))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	v1 := a.git("rev-parse", "HEAD")

	t.Run("failing migration reports the schema", func(t *testing.T) {
		a.applyCase("failing")
		out, code := a.hoist("deploy", "prod")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, w := range []string{"migrate", "schema state now", "[X] 0005", "[ ] 0006_failing", "still serves on every host"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		expectServing(t, hosts, "safety.test", "version: v1")
		a.git("reset", "-q", "--hard", v1)
	})

	t.Run("dropping a column needs the flag", func(t *testing.T) {
		a.applyCase("drop_column")
		out, code := a.hoist("deploy", "prod")
		if code != 1 || !strings.Contains(out, "drops column product.created") || !strings.Contains(out, "expand/contract") {
			t.Errorf("exit %d; want 1, the dropped column named, and expand/contract explained", code)
		}
		expectServing(t, hosts, "safety.test", "version: v1")
		a.mustHoist("deploy", "prod", "--allow-unsafe-migrations")
		expectServing(t, hosts, "safety.test", "version: drop_column")
		if _, body := get(t, hosts[0], "safety.test", "/api/products"); strings.Contains(body, `"created"`) {
			t.Errorf("the column is still there: %s", body)
		}
	})
}

func TestRollbackAcrossMigrations(t *testing.T) {
	t.Parallel()
	skipShort(t)
	hosts := shared.Hosts[:2]
	a := newApp(t, shared, "shop", "backwards", shopYML("backwards.test", hostList(hosts...), createDB(t, "backwards")))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	v1 := a.git("rev-parse", "HEAD")

	a.applyCase("add_column")
	a.mustHoist("deploy", "prod")
	if _, body := get(t, hosts[0], "backwards.test", "/api/products"); !strings.Contains(body, "description") {
		t.Fatalf("add_column did not add the field: %s", body)
	}
	out := a.mustHoist("rollback", "prod", "--migrate")
	if !strings.Contains(out, "catalog.0006_product_description") || !strings.Contains(out, "unapplying") {
		t.Errorf("rollback should list and unapply the migration:\n%s", out)
	}
	expectServing(t, hosts, "backwards.test", "version: v1")
	if cols := sh(t, shared.DB, "runuser -u postgres -- psql -At -d backwards -c \"SELECT count(*) FROM information_schema.columns WHERE table_name='catalog_product' AND column_name='description'\""); cols != "0" {
		t.Errorf("the description column is still in the database")
	}

	a.git("reset", "-q", "--hard", v1)
	a.applyCase("irreversible")
	a.mustHoist("deploy", "prod", "--allow-unsafe-migrations")
	out, code := a.hoist("rollback", "prod", "--migrate")
	if code != 1 || !strings.Contains(out, "cannot be undone") || !strings.Contains(out, "0006_uppercase_category_names") {
		t.Errorf("rollback across an irreversible migration: exit %d, want 1 naming it", code)
	}
	expectServing(t, hosts, "backwards.test", "version: irreversible")
}

func TestRunManageLogsAndStatus(t *testing.T) {
	t.Parallel()
	skipShort(t)
	h := shared.Hosts[2]
	a := newApp(t, shared, "notes", "ops", notesYML("ops.test", hostList(h), "      DATABASE_URL: \"sqlite:////srv/ops/shared/db.sqlite3\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	get(t, h, "ops.test", "/")

	if out := a.mustHoist("run", "prod", "--", "python", "-c", "import os, django; print('release', os.environ['HOIST_RELEASE'], 'secret set', bool(os.environ['DJANGO_SECRET_KEY']))"); !strings.Contains(out, "secret set True") {
		t.Errorf("run did not see the release's environment:\n%s", out)
	}
	if _, code := a.hoist("run", "prod", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("run should exit with the command's status 7, got %d", code)
	}
	if out := a.mustHoist("manage", "prod", "showmigrations", "board"); !strings.Contains(out, "[X] 0001_initial") {
		t.Errorf("manage showmigrations:\n%s", out)
	}
	if out := a.mustHoist("logs", "prod", "-n", "200"); !strings.Contains(out, "web3 | ") || !strings.Contains(out, "Booting worker") {
		t.Errorf("logs should show gunicorn's journal prefixed by host:\n%s", out)
	}
	if out := a.mustHoist("status", "prod"); !strings.Contains(out, "web3: ok") || !strings.Contains(out, "answering") {
		t.Errorf("a healthy stage:\n%s", out)
	}

	live := sh(t, h, "basename $(readlink /srv/ops/current)")
	sh(t, h, "echo '# hotfix' >> /srv/ops/current/board/views.py")
	out, code := a.hoist("status", "prod")
	if code != 6 || !strings.Contains(out, "DRIFT") || !strings.Contains(out, "board/views.py") {
		t.Errorf("status with a hand-edited file: exit %d, want 6 naming board/views.py", code)
	}
	sh(t, h, fmt.Sprintf("systemctl stop hoist-ops@%s.socket hoist-ops@%s.service", live, live))
	out, code = a.hoist("status", "prod")
	if code != 6 || !strings.Contains(out, "DOWN") {
		t.Errorf("status with the service stopped: exit %d, want 6 and DOWN", code)
	}
}
