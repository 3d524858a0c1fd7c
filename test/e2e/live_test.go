package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// On a terminal, hoist deploy shows a live view: one row per host with its
// step, redrawn in place; a failed host's error stays on screen; the full
// log is in a file named at the end. Driven in a real terminal: tmux.
func TestLiveView(t *testing.T) {
	t.Parallel()
	skipShort(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("this test needs tmux (scripts/deps.sh installs it)")
	}
	const domain = "live.test"
	url := createDB(t, "live")
	a := newApp(t, shared, "notes", "live", notesYML(domain, hostList(shared.Hosts...), "      DATABASE_URL: \""+url+"\""))
	a.mustHoist("setup", "prod")
	tm := newTmux(t)

	during, final, code := tm.run(a, "deploy", "prod")
	if code != 0 {
		t.Fatalf("deploy exited %d:\n%s", code, final)
	}
	expectServing(t, shared.Hosts, domain, "version: v1")
	// While it ran: every host had one row, with a step, in one screen;
	// and the spinner turned, so a slow step does not look stuck.
	all := false
	frames := map[string]bool{}
	spin := regexp.MustCompile(`(?m)^([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]) `)
	for _, screen := range during {
		if m := spin.FindStringSubmatch(screen); m != nil {
			frames[m[1]] = true
		}
		steps := 0
		for _, h := range shared.Hosts {
			rows := hostRows(screen, h.Name)
			if len(rows) > 1 {
				t.Fatalf("%s has %d rows: the view is not redrawn in place:\n%s", h.Name, len(rows), screen)
			}
			if len(rows) == 1 && rows[0].step != "" {
				steps++
			}
		}
		if steps == len(shared.Hosts) && !all {
			t.Logf("a screen during the deploy:\n%s", screen)
			all = true
		}
	}
	if len(frames) < 3 {
		t.Errorf("the spinner showed %d frame(s) in %d screens", len(frames), len(during))
	}
	if !all {
		t.Errorf("no screen of %d during the deploy showed a row with a step for each host; the last:\n%s", len(during), during[len(during)-1])
	}
	if !strings.Contains(final, "✓ done in") || !strings.Contains(final, "deployed prod to web1, web2, web3") {
		t.Errorf("final screen lacks the done header or the result:\n%s", final)
	}
	for _, h := range shared.Hosts {
		rows := hostRows(final, h.Name)
		if len(rows) != 1 || rows[0].status != "✓" {
			t.Fatalf("%s: final rows %+v, want one, done", h.Name, rows)
		}
		// Where the host's time went.
		if row := strings.Split(final, "\n")[rows[0].line]; !strings.Contains(row, "build ") || !strings.Contains(row, "switch ") {
			t.Errorf("%s: final row %q lacks the steps' times", h.Name, row)
		}
	}
	log := logFile(t, final)
	for _, want := range []string{"web1       ship", "web2       build", "web3       health", "deployed prod"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}

	// A migration that fails on the primary (web1): its row says so, with
	// the database's error under it, after the deploy has ended.
	a.write("board/migrations/0099_broken.py", `from django.db import migrations

class Migration(migrations.Migration):
    dependencies = [("board", "0001_initial")]
    operations = [migrations.RunSQL("SELECT * FROM no_such_table_anywhere", migrations.RunSQL.noop)]
`)
	a.commit("a migration that fails")
	_, final, code = tm.run(a, "deploy", "prod", "--skip-checks")
	if code != 1 {
		t.Fatalf("failing deploy exited %d:\n%s", code, final)
	}
	expectServing(t, shared.Hosts, domain, "version: v1")
	rows := hostRows(final, "web1")
	if len(rows) != 1 || rows[0].step != "migrate" || rows[0].status != "✗" {
		t.Fatalf("web1 rows %+v, want one, failed at migrate:\n%s", rows, final)
	}
	// The block: from web1's row to the log's path, before the error main
	// prints to stderr.
	lines := strings.Split(final, "\n")
	block := strings.Join(lines[rows[0].line:], "\n")
	block = block[:strings.Index(block, "full log:")]
	if !strings.Contains(block, "no_such_table_anywhere") || !strings.Contains(block, "warning: --skip-checks") {
		t.Errorf("the block does not keep web1's error and the warning on screen:\n%s", block)
	}
	if !strings.Contains(final, "✗ deploy failed at step \"migrate\" on web1 (") {
		t.Errorf("final header does not say the deploy failed:\n%s", final)
	}
	for _, h := range shared.Hosts[1:] {
		if rows := hostRows(final, h.Name); len(rows) != 1 || rows[0].status == "✗" {
			t.Errorf("%s: rows %+v, want one, not failed", h.Name, rows)
		}
	}
	log = logFile(t, final)
	for _, want := range []string{"web1       migrate   python manage.py migrate", "error: deploy failed at step \"migrate\" on web1", "no_such_table_anywhere", "still serves on every host"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}

	// Without a terminal: plain lines, as before.
	a.git("reset", "-q", "--hard", "HEAD~1")
	a.write("VERSION", "v2\n")
	a.commit("v2")
	out := a.mustHoist("deploy", "prod")
	if strings.Contains(out, "\x1b[") || !strings.Contains(out, "web2       ship") || strings.Contains(out, "full log:") {
		t.Errorf("deploy without a terminal should print plain lines:\n%s", out)
	}
	expectServing(t, shared.Hosts, domain, "version: v2")

	// rollback has the live view too.
	_, final, code = tm.run(a, "rollback", "prod")
	if code != 0 {
		t.Fatalf("rollback exited %d:\n%s", code, final)
	}
	expectServing(t, shared.Hosts, domain, "version: v1")
	for _, h := range shared.Hosts {
		if rows := hostRows(final, h.Name); len(rows) != 1 || rows[0].status != "✓" {
			t.Errorf("%s: rows after the rollback %+v, want one, done", h.Name, rows)
		}
	}
	if log := logFile(t, final); !strings.Contains(log, "rolled back") || !strings.Contains(log, "web3") {
		t.Errorf("the rollback's log:\n%s", log)
	}

	// Ctrl-C in the terminal: the deploy is undone and the view ends
	// saying so, with every host's row.
	hold := filepath.Join(t.TempDir(), "hold")
	os.WriteFile(hold, nil, 0o644)
	a.env = append(a.env, "HOIST_TEST_HOLD=build:"+hold)
	_, final, code = tm.run(a, "deploy", "prod")
	a.env = a.env[:len(a.env)-1]
	if code != 130 {
		t.Fatalf("interrupted deploy exited %d:\n%s", code, final)
	}
	expectServing(t, shared.Hosts, domain, "version: v1")
	if !strings.Contains(final, "✗ deploy interrupted") {
		t.Errorf("the view does not end saying the deploy was interrupted:\n%s", final)
	}
	for _, h := range shared.Hosts {
		if rows := hostRows(final, h.Name); len(rows) != 1 || rows[0].status != "✓" {
			t.Errorf("%s: rows after Ctrl-C %+v, want one, done (undone)", h.Name, rows)
		}
	}
	logFile(t, final)

	// With --json, even a mistake on the command line is a JSON event.
	out, code = a.hoist("deploy", "nosuchstage", "--json")
	var e struct{ Kind, Message string }
	first := strings.SplitN(out, "\n", 2)[0]
	if code != 2 || json.Unmarshal([]byte(first), &e) != nil || e.Kind != "error" || !strings.Contains(e.Message, "nosuchstage") {
		t.Errorf("--json error: exit %d, first line %q", code, first)
	}
}

// tmuxServer is a tmux server of this test's own, so nothing else's
// sessions are touched.
type tmuxServer struct {
	t      *testing.T
	socket string
	runs   int
}

func newTmux(t *testing.T) *tmuxServer {
	x := &tmuxServer{t: t, socket: fmt.Sprintf("hoist-e2e-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	return x
}

func (x *tmuxServer) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// run starts hoist in a new 160x50 terminal and reads the screen every
// 200 ms until hoist ends; with HOIST_TEST_HOLD in a's environment it
// presses Ctrl-C once hoist waits at the step. It returns the screens seen while hoist ran,
// the last screen (with the scrollback) and hoist's exit code.
func (x *tmuxServer) run(a *app, args ...string) (during []string, final string, code int) {
	t := x.t
	t.Helper()
	x.runs++
	session := fmt.Sprintf("run%d", x.runs)
	// tmux starts the command in its own environment: the script sets
	// the app's, except what would describe another terminal.
	var script strings.Builder
	// The shell outlives a Ctrl-C meant for hoist, to say how it ended.
	fmt.Fprintf(&script, "trap true INT\ncd %s || exit 1\n", shellQuote(a.dir))
	name := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for _, kv := range a.env {
		k, v, _ := strings.Cut(kv, "=")
		if name.MatchString(k) && k != "TERM" && k != "HOIST_PLAIN" && k != "TMUX" && !strings.HasPrefix(k, "COLUMNS") && k != "LINES" {
			fmt.Fprintf(&script, "export %s=%s\n", k, shellQuote(v))
		}
	}
	quoted := []string{shellQuote(hoistBin)}
	for _, arg := range args {
		quoted = append(quoted, shellQuote(arg))
	}
	fmt.Fprintf(&script, "%s\necho \"hoist exited $?\"\nexec sleep 3600\n", strings.Join(quoted, " "))
	path := filepath.Join(t.TempDir(), session+".sh")
	if err := os.WriteFile(path, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := x.tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", "sh "+path); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	defer x.tmux("kill-session", "-t", session)
	hold := ""
	for _, kv := range a.env {
		if v, ok := strings.CutPrefix(kv, "HOIST_TEST_HOLD="); ok {
			_, hold, _ = strings.Cut(v, ":")
		}
	}
	exited := regexp.MustCompile(`(?m)^hoist exited (\d+)$`)
	deadline := time.Now().Add(6 * time.Minute)
	for {
		screen, err := x.tmux("capture-pane", "-p", "-t", session)
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, screen)
		}
		if exited.MatchString(screen) {
			break
		}
		// Held before a step: press Ctrl-C there, as a person would.
		if _, err := os.Stat(hold + ".held"); hold != "" && err == nil {
			x.tmux("send-keys", "-t", session, "C-c")
			hold = ""
		}
		during = append(during, screen)
		if time.Now().After(deadline) {
			t.Fatalf("hoist %v did not end in 6 minutes; screen:\n%s", args, screen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	final, err := x.tmux("capture-pane", "-p", "-S", "-", "-t", session)
	if err != nil {
		t.Fatalf("tmux capture-pane: %v", err)
	}
	t.Logf("$ hoist %s in a terminal, %d screens while it ran; at the end:\n%s", strings.Join(args, " "), len(during), final)
	m := exited.FindStringSubmatch(final)
	if m == nil {
		t.Fatalf("no exit status on the final screen")
	}
	code, _ = strconv.Atoi(m[1])
	for _, s := range append(during, final) {
		if strings.Contains(s, testSecret) {
			t.Fatalf("hoist %v showed the secret", args)
		}
	}
	return during, final, code
}

// liveRow is a host's row in the live view.
type liveRow struct {
	line         int    // index of the line on the screen
	step, status string // status: a spinner, ✓ or ✗; no step while waiting, and at the end
}

var rowRe = regexp.MustCompile(`^  (\S+)  +([a-z-]+)? +(✓|✗|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏])`)

// hostRows finds host's rows on a screen. The plain lines of a log start
// with the time, so they never count.
func hostRows(screen, host string) []liveRow {
	var rows []liveRow
	for i, line := range strings.Split(screen, "\n") {
		m := rowRe.FindStringSubmatch(line)
		if m == nil || m[1] != host {
			continue
		}
		rows = append(rows, liveRow{line: i, step: m[2], status: m[3]})
	}
	return rows
}

// logFile reads the log the screen names at the end, which must be the
// owner's only and never hold the secret.
func logFile(t *testing.T, screen string) string {
	t.Helper()
	m := regexp.MustCompile(`full log: (\S+)`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("the screen names no log file:\n%s", screen)
	}
	st, err := os.Stat(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", st.Mode().Perm())
	}
	data, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(m[1])
	if strings.Contains(string(data), testSecret) {
		t.Errorf("the log holds the secret")
	}
	return string(data)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
