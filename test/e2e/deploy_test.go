package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// createDB gives an app its own PostgreSQL database on the fleet's DB host.
func createDB(t *testing.T, name string) string { return createDBOn(t, shared, name) }

// createDBOn makes a database on f's PostgreSQL host and returns its URL.
func createDBOn(t *testing.T, f *fleet.Fleet, name string) string {
	t.Helper()
	db := strings.ReplaceAll(name, "-", "_")
	sh(t, f.DB, fmt.Sprintf("runuser -u postgres -- createdb -O %s %s", f.DBUser, db))
	return fmt.Sprintf("postgres://%s:%s@%s:5432/%s", f.DBUser, f.DBPassword, f.DBHost, db)
}

// Three hosts sharing one PostgreSQL database: setup, deploy, data written
// through one host survives the next deploy, rollback returns every host.
func TestDeployThreeHostsSharedDatabase(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "three.test"
	url := createDB(t, "three")
	a := newApp(t, shared, "notes", "three", notesYML(domain, hostList(shared.Hosts...), "      DATABASE_URL: \""+url+"\""))
	hosts := shared.Hosts

	a.mustHoist("setup", "prod")
	out := a.mustHoist("setup", "prod")
	if strings.Contains(out, " changed ") {
		t.Errorf("a second setup changed something:\n%s", out)
	}

	a.mustHoist("deploy", "prod")
	expectServing(t, hosts, domain, "version: v1")
	for _, h := range hosts {
		code, css := get(t, h, domain, "/static/board/site.css")
		if code != 200 || !strings.Contains(css, "{") {
			t.Errorf("%s: static css = %d %.80q", h.Name, code, css)
		}
	}

	if code := post(t, hosts[1], domain, "/api/notes", "text=written+through+web2"); code != 201 {
		t.Fatalf("POST note via web2 = %d", code)
	}

	a.write("VERSION", "v2\n")
	a.commit("v2")
	out = a.mustHoist("--timings", "deploy", "prod")
	expectServing(t, hosts, domain, "version: v2")
	// What hoist costs each host in round trips stays flat and small
	// (issue 9: 34 to 36 per deploy before they were batched).
	expectRoundTrips(t, out, hosts, maxDeployTrips)
	for _, h := range hosts {
		if _, body := get(t, h, domain, "/api/notes"); !strings.Contains(body, "written through web2") {
			t.Errorf("%s: the note written before the deploy is gone: %s", h.Name, body)
		}
	}

	v2 := sh(t, hosts[0], "basename $(readlink /srv/three/current)")
	out = a.mustHoist("--timings", "rollback", "prod")
	expectServing(t, hosts, domain, "version: v1")
	expectRoundTrips(t, out, hosts, maxRollbackTrips)
	// The instance rolled back from stops once its socket drained (2 s),
	// not when systemd next wakes up for something else (a timer's
	// default accuracy is a minute). Watched through /proc: asking
	// systemctl would wake systemd and fire the timer. ([s] keeps the
	// pattern from matching the shell that runs pgrep.)
	for _, h := range hosts {
		waitWithin(t, h, "the rolled-back instance to stop", "! pgrep -f /srv/three/release[s]/"+v2+"/", 10*time.Second)
	}
	if !strings.Contains(out, "rolled back") {
		t.Errorf("rollback output lacks a result line:\n%s", out)
	}

	out = a.mustHoist("releases", "prod")
	if strings.Count(out, "(rolled back)") != len(hosts) {
		t.Errorf("releases should mark the v2 release rolled back on every host:\n%s", out)
	}

	// Every host keeps one history line per action, without the secret.
	for _, h := range hosts {
		hist := sh(t, h, "cat /srv/three/.hoist/history.jsonl")
		if n := strings.Count(hist, "\n") + 1; n != 3 {
			t.Errorf("%s: %d history lines, want 3:\n%s", h.Name, n, hist)
		}
		if strings.Contains(hist, testSecret) {
			t.Errorf("%s: history holds the secret", h.Name)
		}
		for _, line := range strings.Split(hist, "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil || e["result"] != "ok" || e["who"] == "" {
				t.Errorf("%s: bad history line %q", h.Name, line)
			}
		}
	}
}

// A single host keeps its sqlite database and media in shared/ across
// deploys, reuses the venv when requirements did not change, and holds
// secrets in a 0600 file.
func TestSingleHostKeepsSqliteAndMedia(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "solo.test"
	h := shared.Hosts[0]
	a := newApp(t, shared, "notes", "solo", notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/solo/shared/db.sqlite3\""))
	a.mustHoist("setup", "prod")
	out := a.mustHoist("deploy", "prod")
	if !strings.Contains(out, "built virtualenv") {
		t.Errorf("first deploy should build the virtualenv:\n%s", out)
	}
	expectServing(t, shared.Hosts[:1], domain, "hello from notes_extras")
	post(t, h, domain, "/api/notes", "text=kept+in+sqlite")
	sh(t, h, "mkdir -p /srv/solo/shared/media/uploads && echo picture > /srv/solo/shared/media/uploads/cat.txt")
	venvStamp := sh(t, h, "stat -c %Y:%i /srv/solo/venvs/*/.hoist-complete")

	a.write("VERSION", "v2\n")
	a.commit("v2")
	out = a.mustHoist("deploy", "prod")
	if !strings.Contains(out, "requirements unchanged: reusing virtualenv") {
		t.Errorf("second deploy should reuse the virtualenv:\n%s", out)
	}
	if again := sh(t, h, "stat -c %Y:%i /srv/solo/venvs/*/.hoist-complete"); again != venvStamp {
		t.Errorf("the venv was rebuilt (%s -> %s), so pip ran", venvStamp, again)
	}
	expectServing(t, shared.Hosts[:1], domain, "version: v2")
	if _, body := get(t, h, domain, "/api/notes"); !strings.Contains(body, "kept in sqlite") {
		t.Errorf("the sqlite data did not survive the deploy: %s", body)
	}
	if code, body := get(t, h, domain, "/media/uploads/cat.txt"); code != 200 || !strings.Contains(body, "picture") {
		t.Errorf("media did not survive the deploy: %d %q", code, body)
	}

	// Secrets reach the app, in a 0600 file only the deploy user reads.
	live := sh(t, h, "basename $(readlink /srv/solo/current)")
	envFile := "/srv/solo/.hoist/env/" + live + ".env"
	if mode := sh(t, h, "stat -c '%a %U' "+envFile); mode != "600 deploy" {
		t.Errorf("env file mode = %q, want 600 deploy", mode)
	}
	if !strings.Contains(sh(t, h, "cat "+envFile), testSecret) {
		t.Errorf("the secret did not reach the host's env file")
	}
	pid := sh(t, h, "systemctl show -p MainPID --value hoist-solo@"+live+".service")
	if !strings.Contains(sh(t, h, "tr '\\0' '\\n' < /proc/"+pid+"/environ"), "DJANGO_SECRET_KEY="+testSecret) {
		t.Errorf("gunicorn does not have the secret in its environment")
	}

	// A requirement change builds a new venv.
	a.write("requirements.txt", "--no-index\n--find-links ./wheels\nnotes-extras==1.0\n# bumped\n")
	a.commit("touch requirements")
	if out := a.mustHoist("deploy", "prod"); !strings.Contains(out, "built virtualenv") {
		t.Errorf("a requirements change should build a new virtualenv:\n%s", out)
	}
}

// The most SSH commands a deploy and a rollback that reuse the venv may
// send each host, besides the lock's renewals (one every 5 s, which a busy
// machine makes more of). Each is a round trip: over a real network, what
// a deploy costs beyond its work.
const (
	maxDeployTrips   = 12
	maxRollbackTrips = 10
)

// expectRoundTrips reads the "ssh commands per host" line of --timings.
func expectRoundTrips(t *testing.T, out string, hosts []*fleet.Host, max int) {
	t.Helper()
	_, line, ok := strings.Cut(out, "ssh commands per host: ")
	if !ok {
		t.Errorf("--timings printed no ssh command counts:\n%s", out)
		return
	}
	line, _, _ = strings.Cut(line, "\n")
	// The command's wall time, from its result line ("... in 9.8s").
	var secs float64
	if m := regexp.MustCompile(` in ([0-9.]+)s\n`).FindStringSubmatch(out); m != nil {
		secs, _ = strconv.ParseFloat(m[1], 64)
	}
	max += int(secs / 5)
	for _, h := range hosts {
		var n int
		if i := strings.Index(line, h.Name+" "); i < 0 {
			t.Errorf("no count for %s in %q", h.Name, line)
		} else if fmt.Sscan(line[i+len(h.Name)+1:], &n); n == 0 || n > max {
			t.Errorf("%s: %d ssh commands, want at most %d (%s)", h.Name, n, max, line)
		}
	}
}
