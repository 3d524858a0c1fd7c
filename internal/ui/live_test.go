package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// testLive is a UI with its live view on a fake screen and clock, drawn
// only when the test says so.
type testLive struct {
	u      *UI
	screen *bytes.Buffer
	now    time.Time
}

func newTestLive(t *testing.T, hosts ...string) *testLive {
	t.Helper()
	tl := &testLive{screen: new(bytes.Buffer), now: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)}
	log, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	tl.u = New(tl.screen, false)
	tl.u.live = newLive(tl.screen, log, func() (int, int) { return 100, 30 }, func() time.Time { return tl.now })
	for _, h := range hosts {
		tl.u.live.row(h)
	}
	return tl
}

func (tl *testLive) frame(width, height int, final bool) []string {
	return tl.u.live.frame(tl.now, width, height, final)
}

// rowOf finds host's row in a frame.
func rowOf(t *testing.T, frame []string, host string) string {
	t.Helper()
	re := regexp.MustCompile(`^  ` + host + ` `)
	var found []string
	for _, line := range frame {
		if re.MatchString(line) {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one row for %s, got %q in\n%s", host, found, strings.Join(frame, "\n"))
	}
	return found[0]
}

func fields(line string) []string { return strings.Fields(line) }

func TestLiveOneRowPerHostWithStepAndTime(t *testing.T) {
	tl := newTestLive(t, "web1", "web2", "web3")
	u := tl.u
	u.Info("deploying main to prod")
	u.Step("web1", "ship", "sent 12 KiB")
	u.Timed("web1", "ship", 1200*time.Millisecond)
	tl.now = tl.now.Add(3 * time.Second)
	u.Step("web2", "build", "built virtualenv abc (pip install -r requirements.txt)")
	tl.now = tl.now.Add(12 * time.Second)
	u.Timed("", "ship", 2*time.Second)
	u.Step("db1", "migrate", "plan: 2 migrations") // not named up front

	f := tl.frame(100, 30, false)
	if len(f) != 5 {
		t.Fatalf("want a header and 4 rows, got:\n%s", strings.Join(f, "\n"))
	}
	if !strings.Contains(f[0], "15s") || !strings.Contains(f[0], "finished: ship") {
		t.Errorf("header %q: want the run's time and the stage's finished steps", f[0])
	}
	if got := fields(rowOf(t, f, "web1")); strings.Join(got[:5], " ") != "web1 ship ✓ 1.2s sent" {
		t.Errorf("web1 row: %q", got)
	}
	web2 := fields(rowOf(t, f, "web2"))
	if web2[1] != "build" || !strings.Contains(strings.Join(spinner, ""), web2[2]) || web2[3] != "12s" || web2[4] != "built" {
		t.Errorf("web2 row (running for 12s): %q", web2)
	}
	if web3 := fields(rowOf(t, f, "web3")); web3[2] != "waiting" {
		t.Errorf("web3 row: %q", web3)
	}
	if db1 := fields(rowOf(t, f, "db1")); db1[1] != "migrate" {
		t.Errorf("db1 row: %q", db1)
	}
	// Later messages of the same step keep its start time.
	tl.now = tl.now.Add(5 * time.Second)
	u.Step("web2", "build", "collectstatic: 3 files")
	if web2 := fields(rowOf(t, tl.frame(100, 30, false), "web2")); web2[3] != "17s" || web2[4] != "collectstatic:" {
		t.Errorf("web2 row after a second message: %q", web2)
	}
	// Begin starts a step before it says anything.
	u.Begin("web3", "build")
	tl.now = tl.now.Add(2 * time.Second)
	if web3 := fields(rowOf(t, tl.frame(100, 30, false), "web3")); web3[1] != "build" || web3[3] != "2.0s" {
		t.Errorf("web3 row after Begin: %q", web3)
	}
	// The spinner moves with time, so a slow step looks alive.
	a := rowOf(t, tl.frame(100, 30, false), "web2")
	tl.now = tl.now.Add(redrawEvery)
	if b := rowOf(t, tl.frame(100, 30, false), "web2"); a == b {
		t.Errorf("row did not change after %s: %q", redrawEvery, a)
	}
}

func TestLiveFailureStaysOnScreen(t *testing.T) {
	tl := newTestLive(t, "web1", "web2")
	u := tl.u
	u.Warn("--skip-checks: not running Django's checks")
	u.Step("web2", "build", "unpacking")
	u.Timed("web1", "build", time.Second)
	u.Fail("deploy failed at step \"build\" on web2:\n  web2: build: pip install: ...\nrelease X still serves on every host",
		HostError{Host: "web2", Step: "build", Message: "pip install: exit status 1\nLooking in links: ./wheels\nERROR: No matching distribution found for no-such-package==9.9"})
	tl.now = tl.now.Add(40 * time.Second)
	f := tl.frame(100, 30, true)
	screen := strings.Join(f, "\n")
	if f[0] != `✗ deploy failed at step "build" on web2 (40s)` {
		t.Errorf("header %q", f[0])
	}
	if web2 := rowOf(t, f, "web2"); !strings.Contains(web2, "build") || !strings.Contains(web2, "✗ failed") || !strings.Contains(web2, "pip install: exit status 1") {
		t.Errorf("web2 row: %q", web2)
	}
	if !strings.Contains(screen, "│ ERROR: No matching distribution found for no-such-package==9.9") {
		t.Errorf("the end of the error is not under the row:\n%s", screen)
	}
	// At the end a host that did not fail shows where its time went.
	u.Timed("web1", "health", 2500*time.Millisecond)
	u.Timed("web1", "clean-up", 100*time.Millisecond)
	u.Timed("web1", "health", 500*time.Millisecond)
	f = tl.frame(100, 30, true)
	if web1 := fields(rowOf(t, f, "web1")); strings.Join(web1, " ") != "web1 ✓ build 1.0s · health 3.0s · clean-up 0.1s" {
		t.Errorf("web1 final row: %q", web1)
	}
	screen = strings.Join(f, "\n")
	if !strings.Contains(screen, "warning: --skip-checks") {
		t.Errorf("the warning is not kept on screen:\n%s", screen)
	}
	// A traceback's exception stays, though hoist added lines after it.
	u.Fail("deploy failed", HostError{Host: "web1", Step: "migrate", Message: `migrate: exit status 1: ... (24 lines before)
Traceback (most recent call last):
  File "manage.py", line 22, in <module>
psycopg2.errors.UndefinedTable: relation "no_such_table_anywhere" does not exist
django.db.utils.ProgrammingError: relation "no_such_table_anywhere" does not exist
LINE 1: SELECT * FROM no_such_table_anywhere
schema state now (showmigrations):
  board
   [X] 0001_initial
   [ ] 0099_broken`})
	f = tl.frame(100, 30, true)
	screen = strings.Join(f, "\n")
	if !strings.HasSuffix(rowOf(t, f, "web1"), "✗ failed  migrate: exit status 1") {
		t.Errorf("web1 row: %q", rowOf(t, f, "web1"))
	}
	if !strings.Contains(screen, "│ django.db.utils.ProgrammingError: relation") || !strings.Contains(screen, "│ [ ] 0099_broken") {
		t.Errorf("the exception and the end of the error are not under the row:\n%s", screen)
	}
	for _, s := range spinner {
		if strings.Contains(screen, s) {
			t.Errorf("a spinner in the final frame:\n%s", screen)
		}
	}
}

// The block never wraps or outgrows the screen: either would leave the
// next redraw in the wrong place.
func TestLiveFitsTheScreen(t *testing.T) {
	tl := newTestLive(t, "web1", "web2", "web3")
	for i := 0; i < 20; i++ {
		tl.u.Warn("Django check: security.W%03d a rather long warning that goes on and on past the edge of a narrow terminal", i)
	}
	tl.u.Step("web1", "build", "\x1b[2Jtab\there\rcarriage")
	f := tl.frame(40, 10, false)
	if len(f) > 9 {
		t.Errorf("%d lines on a 10-line screen", len(f))
	}
	for _, line := range f {
		if n := utf8.RuneCountInString(line); n > 39 {
			t.Errorf("line of %d characters on a 40-column screen: %q", n, line)
		}
		if strings.ContainsAny(line, "\x1b\r\t") {
			t.Errorf("control character in %q", line)
		}
	}
	if !strings.Contains(strings.Join(f, "\n"), "earlier line(s)") {
		t.Errorf("cut warnings are not announced:\n%s", strings.Join(f, "\n"))
	}
	for _, h := range []string{"web1", "web2", "web3"} {
		rowOf(t, f, h)
	}
}

// More hosts than lines: as many rows as fit, and how many are left out.
func TestLiveManyHosts(t *testing.T) {
	var hosts []string
	for i := 1; i <= 30; i++ {
		hosts = append(hosts, fmt.Sprintf("web%d", i))
	}
	tl := newTestLive(t, hosts...)
	tl.u.Warn("a warning")
	f := tl.frame(80, 10, false)
	if len(f) != 9 || f[8] != "… 23 more host(s): a taller terminal shows them, the log has them" {
		t.Errorf("frame on 10 lines:\n%s", strings.Join(f, "\n"))
	}
	rowOf(t, f, "web7")
}

func TestLiveRedrawsInPlace(t *testing.T) {
	tl := newTestLive(t, "web1", "web2")
	l := tl.u.live
	tl.u.Info("deploying main to prod")
	l.draw(false)
	first := tl.screen.String()
	if !strings.HasPrefix(first, "  0.0s  deploying main to prod\x1b[K\n") || !strings.HasSuffix(first, "\x1b[K\n\x1b[J") {
		t.Fatalf("first draw: %q", first)
	}
	tl.screen.Reset()
	tl.u.Step("web1", "ship", "sent")
	l.draw(false)
	second := tl.screen.String()
	// Up over the 3 lines drawn (header, 2 rows), each line written over
	// and erased to its end, the rest erased; the info line is printed
	// once, above. No clearing of the whole screen: with the block at the
	// top, tmux would keep each frame in its scrollback.
	if !strings.HasPrefix(second, "\x1b[3A\r") || strings.Contains(second, "deploying") || !strings.HasSuffix(second, "\x1b[K\n\x1b[J") ||
		strings.Count(second, "\x1b[J") != 1 {
		t.Fatalf("second draw: %q", second)
	}
	if strings.Count(second, "\n") != 3 {
		t.Errorf("second draw has %d lines, want 3: %q", strings.Count(second, "\n"), second)
	}
	// Made narrower, the terminal wraps the rows: more to go back over.
	l.size = func() (int, int) { return 10, 30 }
	tl.screen.Reset()
	l.draw(false)
	want := 0
	block := strings.TrimSuffix(strings.TrimPrefix(second, "\x1b[3A\r"), "\n\x1b[J")
	for _, line := range strings.Split(block, "\n") {
		want += (utf8.RuneCountInString(strings.TrimSuffix(line, "\x1b[K")) + 9) / 10
	}
	if want <= 3 {
		t.Fatalf("the rows would not wrap at 10 columns: %q", second)
	}
	if !strings.HasPrefix(tl.screen.String(), fmt.Sprintf("\x1b[%dA\r", want)) {
		t.Errorf("draw after a resize, want %d up: %q", want, tl.screen.String())
	}
}

// Hosts turns the live view on (out is a terminal), keeps the full plain
// log, redacted, in a 0600 file under XDG_STATE_HOME, and Close names it
// after the final state.
func TestLiveLogFile(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	const secret = "hunter2-long-secret"
	var screen syncBuffer
	u := New(&screen, false)
	u.size = func() (int, int) { return 120, 40 }
	u.AddSecrets(secret)
	u.Hosts("web1", "web2")
	if u.live == nil {
		t.Fatal("Hosts did not start the live view")
	}
	u.Info("deploying with key " + secret)
	u.Step("web1", "ship", "sent 12 KiB")
	u.Step("web1", "build", "built virtualenv")
	u.Step("web2", "ship", "sent 12 KiB")
	u.Warn("slow host")
	time.Sleep(3 * redrawEvery)
	out := u.Writer(&screen)
	out.Write([]byte("step   stage  web1\nbuild  1.00s  1.00s\n"))
	u.Result("deployed prod")
	u.Fail("web2: health: answered 500 with "+secret, HostError{Host: "web2", Step: "health", Message: "answered 500"})
	u.Close()
	u.Info("after close")

	s := screen.String()
	m := regexp.MustCompile(`full log: (\S+)\n`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no log path on screen:\n%s", s)
	}
	if filepath.Dir(m[1]) != filepath.Join(state, "hoist", "logs") {
		t.Errorf("log %s is not under XDG_STATE_HOME/hoist/logs", m[1])
	}
	st, err := os.Stat(m[1])
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("log file: %v %v", st, err)
	}
	data, _ := os.ReadFile(m[1])
	log := string(data)
	for _, want := range []string{"deploying with key [secret]", "web1       ship      sent 12 KiB", "web1       build     built virtualenv",
		"web2       ship      sent 12 KiB", "warning: slow host", "build  1.00s  1.00s", "deployed prod", "error: web2: health: answered 500 with [secret]"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, secret) || strings.Contains(s, secret) {
		t.Errorf("the secret was written")
	}
	// The table above the final block; under it the result, then the
	// log's path.
	block := strings.LastIndex(s, "✗ web2: health: answered 500 with [secret] (")
	if block < 0 || strings.Index(s, "build  1.00s") > block || strings.LastIndex(s, "deployed prod") < block ||
		strings.Index(s, "full log:") < strings.LastIndex(s, "deployed prod") {
		t.Errorf("final screen:\n%s", s)
	}
	if !strings.HasSuffix(s, "after close\n") {
		t.Errorf("output after Close is not plain lines:\n%q", s[max(0, len(s)-100):])
	}
}

func TestPlainUnlessTerminal(t *testing.T) {
	var b bytes.Buffer
	u := Auto(&b, false)
	u.Hosts("web1")
	u.Step("web1", "ship", "sent")
	u.Fail("it failed", HostError{Host: "web1", Step: "ship", Message: "boom"})
	u.Close()
	if u.live != nil || !strings.HasSuffix(b.String(), "web1       ship      sent\n") || strings.Contains(b.String(), "failed") {
		t.Errorf("not a terminal: want plain lines and no error (main prints it), got %q", b.String())
	}
	t.Setenv("HOIST_PLAIN", "1")
	if terminalSize(os.Stdout) != nil {
		t.Errorf("HOIST_PLAIN=1 does not force plain lines")
	}
	t.Setenv("HOIST_PLAIN", "")
	t.Setenv("TERM", "dumb")
	if terminalSize(os.Stdout) != nil {
		t.Errorf("TERM=dumb does not force plain lines")
	}
}

func TestJSONErrors(t *testing.T) {
	var b bytes.Buffer
	u := New(&b, true)
	u.AddSecrets("s3cr3t-value")
	u.Hosts("web1") // no live view with --json
	u.Fail("deploy failed on web1: s3cr3t-value", HostError{Host: "web1", Step: "migrate", Message: "no such table s3cr3t-value"})
	u.Close()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 events, got %q", lines)
	}
	var host, whole Event
	if json.Unmarshal([]byte(lines[0]), &host) != nil || json.Unmarshal([]byte(lines[1]), &whole) != nil {
		t.Fatalf("not JSON: %q", lines)
	}
	if host.Kind != "error" || host.Host != "web1" || host.Step != "migrate" || host.Message != "no such table [secret]" {
		t.Errorf("host event %+v", host)
	}
	if whole.Kind != "error" || whole.Host != "" || whole.Message != "deploy failed on web1: [secret]" || whole.Time == "" {
		t.Errorf("error event %+v", whole)
	}
}

// syncBuffer is a buffer the ticker and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
