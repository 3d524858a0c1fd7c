package e2e

import (
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// hoist deploy --dry-run prints every step on every host with the commands
// it would send, and changes nothing: every file under deploy_to (path,
// size, mode, time, link target) and every hoist unit are the same after.
func TestDeployDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "dryrun.test"
	url := createDB(t, "dryrun")
	hosts := shared.Hosts[:2]
	a := newApp(t, shared, "notes", "dryrun", notesYML(domain, hostList(hosts...), "      DATABASE_URL: \""+url+"\""))
	a.mustHoist("setup", "prod")
	a.mustHoist("deploy", "prod")
	a.write("VERSION", "v2\n")
	a.write("requirements.txt", readFile(t, a.dir+"/requirements.txt")+"# a new venv\n")
	a.commit("v2")

	snapshot := func(h *fleet.Host) string {
		return sh(t, h, `find /srv/dryrun -printf '%p %s %m %T@ %l\n' | sort; ls -la /etc/systemd/system/*.wants/ | grep hoist-dryrun; systemctl list-units --all --no-legend --plain 'hoist-dryrun*' | awk '{print $1, $3, $4}'`)
	}
	before := map[string]string{}
	for _, h := range hosts {
		before[h.Name] = snapshot(h)
	}
	out := a.mustHoist("deploy", "prod", "--dry-run")
	for _, h := range hosts {
		if after := snapshot(h); after != before[h.Name] {
			t.Errorf("%s changed during a dry run:\nbefore:\n%s\nafter:\n%s", h.Name, before[h.Name], after)
		}
	}
	expectServing(t, hosts, domain, "version: v1")

	for _, h := range hosts {
		for _, step := range []string{"lock", "reconcile", "ship", "build", "health", "switch", "finish"} {
			if !strings.Contains(out, h.Name+" ") || !strings.Contains(out, step) {
				t.Errorf("the plan lacks step %s on %s:\n%s", step, h.Name, out)
			}
		}
	}
	for _, want := range []string{"as building", "migrate --noinput", "tar -xzf", "systemctl start", "send the artifact", "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testSecret) {
		t.Errorf("the plan shows the secret")
	}

	// The plan was real: the deploy it describes goes through. With
	// --json, deploy, rollback and status print one JSON event per line
	// (hoistJSON fails on any other line), and an error is an event too.
	for _, c := range []struct {
		args    []string
		serving string
	}{{[]string{"deploy", "prod"}, "version: v2"}, {[]string{"rollback", "prod"}, "version: v1"}, {[]string{"status", "prod"}, "version: v1"}} {
		events, code := a.hoistJSON(c.args...)
		if code != 0 || len(events) == 0 {
			t.Errorf("hoist %v --json: exit %d, %d events", c.args, code, len(events))
		}
		expectServing(t, hosts, domain, c.serving)
	}
	events, code := a.hoistJSON("deploy", "prod", "--ref", "no-such-ref")
	if code == 0 || len(find(events, "error", "no-such-ref")) == 0 {
		t.Errorf("a failing deploy --json: exit %d, no error event naming the ref: %v", code, events)
	}
}
