package ui

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// The live view: on a terminal, deploy, rollback and ship show a block
// under what was printed before, with a row per host (its step, how long it has
// been at it, its last message), redrawn in place ten times a second.
// Stage-wide lines scroll above the block; warnings and failures stay in
// it. Every line the plain output would have printed goes, redacted, to a
// log file named at the end, because the rows only keep the latest.

// Auto returns a UI for out: JSON events with jsonEvents; otherwise plain
// lines, which turn into the live view once the command names its hosts
// (Hosts), if out is a terminal and neither HOIST_PLAIN nor TERM=dumb says
// otherwise.
func Auto(out io.Writer, jsonEvents bool) *UI {
	u := New(out, jsonEvents)
	if !jsonEvents {
		u.size = terminalSize(out)
	}
	return u
}

// terminalSize returns out's size when the live view may draw on it, else
// nil.
func terminalSize(out io.Writer) func() (int, int) {
	if v := os.Getenv("HOIST_PLAIN"); v != "" && v != "0" {
		return nil
	}
	if t := os.Getenv("TERM"); t == "" || t == "dumb" {
		return nil
	}
	f, ok := out.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func() (int, int) {
		w, h, err := term.GetSize(int(f.Fd()))
		if err != nil || w < 20 || h < 5 {
			return 80, 24
		}
		return w, h
	}
}

// HostError is a step that failed on one host, for Fail.
type HostError struct {
	Host, Step, Message string
}

// Hosts names the hosts the command works on, before it starts, so the
// live view has a row for each from the beginning. Without a terminal it
// does nothing. It may be called again (hoist ship, one stage after the
// other): new names get rows, known ones keep theirs.
func (u *UI) Hosts(names ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.live == nil {
		if u.size == nil {
			return
		}
		f, err := createLog()
		if err != nil {
			// Without its log the live view would lose every line it
			// does not show: stay with plain lines.
			fmt.Fprintf(u.out, "warning: plain output: no log file for the live view: %v\n", err)
			u.size = nil
			return
		}
		u.live = newLive(u.out, f, u.size, time.Now)
		go u.tick(u.live)
	}
	for _, n := range names {
		u.live.row(n)
	}
}

// Begin says a step starts on a host, so its row shows the step while it
// runs, before it has anything to report. Only the live view uses it.
func (u *UI) Begin(host, step string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.live != nil {
		u.live.begin(host, step, u.live.now())
	}
}

// Fail reports the error a command ends with, and the hosts and steps it
// failed on. With --json it is error events (one per failed host, then the
// whole message); in the live view the failed hosts' rows show their
// error and stay on screen. Plain output prints nothing: the caller prints
// the error, as it does without a UI.
func (u *UI) Fail(msg string, hosts ...HostError) {
	u.mu.Lock()
	defer u.mu.Unlock()
	msg = u.redact(msg)
	if u.json {
		for _, h := range hosts {
			u.event(Event{Kind: "error", Host: h.Host, Step: h.Step, Message: u.redact(h.Message)})
		}
		u.event(Event{Kind: "error", Message: msg})
		return
	}
	if u.live == nil {
		return
	}
	u.live.log.WriteString(plainLines(time.Since(u.start), "error", "", "", msg))
	u.live.failed = strings.TrimSuffix(firstLine(msg), ":")
	if u.live.failed == "" {
		u.live.failed = "failed"
	}
	for _, h := range hosts {
		u.live.fail(h.Host, h.Step, u.redact(h.Message))
	}
}

// Close ends the live view: the block is drawn one last time with the
// final state of every host, then the results under it and the log file's
// path. Output after Close is plain lines. Without the live
// view it does nothing; a second call does nothing either.
func (u *UI) Close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	l := u.live
	if l == nil {
		return
	}
	u.live, u.size = nil, nil
	l.close()
}

// tick redraws the live view until it is closed: every frame, since the
// spinners and seconds move even when no event comes (a long pip install
// or migration).
func (u *UI) tick(l *live) {
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			u.mu.Lock()
			if !l.closed {
				l.draw(false)
			}
			u.mu.Unlock()
		}
	}
}

// intoLive takes what a Writer of this UI writes to the terminal the live
// view draws on (hoist's own tables, a command's output): it is logged and
// printed above the block at the next redraw, instead of breaking the
// block.
func (u *UI) intoLive(w io.Writer, s string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.live == nil || !sameWriter(w, u.out) {
		return false
	}
	u.live.log.WriteString(s)
	u.live.above = append(u.live.above, s)
	return true
}

// sameWriter compares two writers without the panic == gives on writers
// of types that cannot be compared: pointers only.
func sameWriter(a, b io.Writer) bool {
	ta := reflect.TypeOf(a)
	return ta != nil && ta == reflect.TypeOf(b) && ta.Kind() == reflect.Pointer && a == b
}

// createLog opens a new log file, readable by its owner only, under
// $XDG_STATE_HOME/hoist/logs when that is set, else the temporary
// directory.
func createLog() (*os.File, error) {
	dir := os.TempDir()
	if state := os.Getenv("XDG_STATE_HOME"); state != "" {
		dir = filepath.Join(state, "hoist", "logs")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	// CreateTemp makes the file 0600 and never opens one that exists.
	return os.CreateTemp(dir, "hoist-"+time.Now().UTC().Format("20060102T150405Z")+"-*.log")
}

const redrawEvery = 100 * time.Millisecond

type rowState int

const (
	waiting rowState = iota // nothing heard from the host yet
	running                 // at step, from since
	done                    // step finished, in took
	failed                  // step failed; detail holds the end of the error
)

// row is one host's line in the block.
type row struct {
	host, step, msg string
	state           rowState
	since           time.Time
	took            time.Duration
	detail          []string
	history         []timing // every step the host finished, for the final frame
}

// live is the live view's state. Its methods run under the UI's lock.
type live struct {
	out    io.Writer
	log    *os.File
	size   func() (int, int)
	now    func() time.Time
	start  time.Time
	rows   []*row
	above  []string // stage-wide lines to print above the block at the next draw
	notes  []string // warnings and errors, kept in the block
	after  []string // results, printed under the block once it is final
	steps  []string // steps the whole stage has finished, in order
	failed string   // the first line of the error the command ended with
	drawn  []int    // the block's lines on screen now, by length
	stop   chan struct{}
	closed bool
}

func newLive(out io.Writer, log *os.File, size func() (int, int), now func() time.Time) *live {
	return &live{out: out, log: log, size: size, now: now, start: now(), stop: make(chan struct{})}
}

// row returns host's row, adding it when the host is new.
func (l *live) row(host string) *row {
	for _, r := range l.rows {
		if r.host == host {
			return r
		}
	}
	r := &row{host: host, since: l.now()}
	l.rows = append(l.rows, r)
	return r
}

func (l *live) begin(host, step string, at time.Time) {
	r := l.row(host)
	r.step, r.state, r.since, r.msg, r.detail = step, running, at, "", nil
}

// event takes one redacted event; text is its plain lines, for the log.
func (l *live) event(kind, host, step, msg, text string) {
	l.log.WriteString(text)
	switch {
	case kind == "step" && host != "":
		r := l.row(host)
		if r.state != running || r.step != step {
			l.begin(host, step, l.now())
		}
		r.msg = firstLine(msg)
	case kind == "warn":
		l.notes = append(l.notes, "warning: "+msg)
	case kind == "error":
		l.notes = append(l.notes, "error: "+msg)
	case kind == "result":
		l.after = append(l.after, text)
	default: // info, and steps of the whole stage (hooks)
		l.above = append(l.above, text)
	}
}

// timed takes the end of a step: on a host, or on the whole stage.
func (l *live) timed(host, step string, took time.Duration) {
	if host == "" {
		l.steps = append(l.steps, step)
		return
	}
	r := l.row(host)
	r.history = append(r.history, timing{host, step, took})
	if r.state == failed {
		return
	}
	if r.step != step {
		r.msg = ""
	}
	r.step, r.state, r.took, r.detail = step, done, took, nil
}

func (l *live) fail(host, step, msg string) {
	r := l.row(host)
	r.step, r.state = step, failed
	var lines []string
	for _, line := range strings.Split(msg, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	r.msg, r.detail = "", nil
	if len(lines) > 0 {
		// Remote output cut short starts with how much was left out: on
		// the row it would hide the step's own words.
		r.msg, r.detail = cutMarker.ReplaceAllString(lines[0], ""), detail(lines[1:])
	}
}

var cutMarker = regexp.MustCompile(`:? \.\.\. \(\d+ lines before\)$`)

// maxDetail is how many lines of a host's error stay under its row; the
// log and the error printed at the end have all of it.
const maxDetail = 4

// errorLine is a line that says what went wrong: a Python exception (the
// last line of a traceback), pip's ERROR, a shell's error.
var errorLine = regexp.MustCompile(`^([\w.]*(Error|Exception)\w*:|ERROR\b|[Ee]rror:|fatal:)`)

// detail picks, in their order, the last two lines that look like an
// error and then the last lines of the message: what went wrong is rarely
// at the very end (hoist adds the state it left, showmigrations).
func detail(lines []string) []string {
	pick := map[int]bool{}
	for i := len(lines) - 1; i >= 0 && len(pick) < 2; i-- {
		if errorLine.MatchString(lines[i]) {
			pick[i] = true
		}
	}
	for i := len(lines) - 1; i >= 0 && len(pick) < maxDetail; i-- {
		pick[i] = true
	}
	var out []string
	for i, line := range lines {
		if pick[i] {
			out = append(out, line)
		}
	}
	return out
}

func (l *live) close() {
	l.closed = true
	close(l.stop)
	l.draw(true)
	var b strings.Builder
	for _, s := range l.after {
		b.WriteString(sanitize(s, true))
	}
	fmt.Fprintf(&b, "full log: %s\n", l.log.Name())
	io.WriteString(l.out, b.String())
	l.log.Close()
}

// draw replaces the block on screen: back up to its first line, the
// lines for above, then the block anew, each line written over the old
// one and erased to its end, then what is left of the old block erased.
// (Clearing the whole block first would, with the block at the top of
// the screen, clear the whole screen, which tmux and some terminals keep
// in their scrollback: a stale copy per frame.)
func (l *live) draw(final bool) {
	width, height := l.size()
	var b strings.Builder
	// A terminal made narrower since the last draw wraps its longer lines
	// (most reflow them), so they take more rows to go back over.
	up := 0
	for _, n := range l.drawn {
		up += max(1, (n+width-1)/width)
	}
	if up > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r", up)
	}
	for _, s := range l.above {
		b.WriteString(strings.ReplaceAll(sanitize(s, true), "\n", "\x1b[K\n"))
	}
	l.above = nil
	lines := l.frame(l.now(), width, height, final)
	l.drawn = l.drawn[:0]
	for _, s := range lines {
		b.WriteString(s)
		b.WriteString("\x1b[K\n")
		l.drawn = append(l.drawn, utf8.RuneCountInString(s))
	}
	b.WriteString("\x1b[J")
	io.WriteString(l.out, b.String())
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// frame is the block at now: a header, a row per host (a failed one with
// the end of its error under it), then warnings and errors, cut to fit
// height-1 lines of width-1 characters so the terminal never wraps or
// scrolls it (either would put the next redraw in the wrong place).
func (l *live) frame(now time.Time, width, height int, final bool) []string {
	spin := spinner[int(now.Sub(l.start)/redrawEvery)%len(spinner)]
	header := spin + " " + duration(now.Sub(l.start))
	if final {
		header = "✓ done in " + duration(now.Sub(l.start))
		if l.failed != "" {
			header = "✗ " + l.failed + " (" + duration(now.Sub(l.start)) + ")"
		}
	}
	if len(l.steps) > 0 {
		header += "   finished: " + strings.Join(unique(l.steps), ", ")
	}
	hostWidth := 4
	for _, r := range l.rows {
		hostWidth = max(hostWidth, utf8.RuneCountInString(r.host))
	}
	rowLines := func(details bool) []string {
		lines := []string{header}
		for _, r := range l.rows {
			step, msg := r.step, r.msg
			if final && r.state == done {
				// The last step (history, clean-up) says little once all
				// is over; where the host's time went says more.
				step, msg = "", r.summary()
			}
			lines = append(lines, fmt.Sprintf("  %-*s  %-10s %-9s %s", hostWidth, r.host, step, r.status(now, spin, final), msg))
			if details && r.state == failed {
				for _, d := range r.detail {
					lines = append(lines, strings.Repeat(" ", hostWidth+4)+"│ "+d)
				}
			}
		}
		return lines
	}
	budget := height - 1
	lines := rowLines(true)
	if len(lines) > budget {
		lines = rowLines(false)
	}
	if len(lines) > budget {
		hidden := len(lines) - (budget - 1)
		lines = append(lines[:budget-1], fmt.Sprintf("… %d more host(s): a taller terminal shows them, the log has them", hidden))
	}
	var notes []string
	for _, n := range l.notes {
		for i, line := range strings.Split(strings.TrimRight(n, "\n"), "\n") {
			if i > 0 {
				line = "  " + line
			}
			notes = append(notes, line)
		}
	}
	if room := budget - len(lines); len(notes) > room {
		// The newest are the ones to see; the log has them all.
		if room <= 0 {
			notes = nil
		} else {
			cut := len(notes) - (room - 1)
			notes = append([]string{fmt.Sprintf("… %d earlier line(s) of warnings in the log", cut)}, notes[cut:]...)
		}
	}
	lines = append(lines, notes...)
	for i, s := range lines {
		lines[i] = strings.TrimRight(cut(sanitize(s, false), width-1), " ")
	}
	return lines
}

// summary is every step the host finished with its time, in order.
func (r *row) summary() string {
	var parts []string
	for i, t := range r.history {
		took := t.took
		if slices.ContainsFunc(r.history[:i], func(e timing) bool { return e.step == t.step }) {
			continue // counted with the first
		}
		for _, later := range r.history[i+1:] {
			if later.step == t.step {
				took += later.took
			}
		}
		parts = append(parts, t.step+" "+duration(took))
	}
	return strings.Join(parts, " · ")
}

// status is the row's state column: a spinner and the seconds in its
// step while it runs, the time it took once done (at the end, the summary
// has the times).
func (r *row) status(now time.Time, spin string, final bool) string {
	switch r.state {
	case running:
		if final {
			return "stopped"
		}
		return spin + " " + duration(now.Sub(r.since))
	case done:
		if final {
			return "✓"
		}
		return "✓ " + duration(r.took)
	case failed:
		return "✗ failed"
	}
	if final {
		return "-"
	}
	return spin + " waiting"
}

// duration is short and steady: tenths under ten seconds, then seconds,
// then minutes and seconds.
func duration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func unique(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// sanitize turns control characters into spaces (keeping line breaks when
// asked): remote output with an escape sequence or a carriage return must
// not move the cursor the live view counts on.
func sanitize(s string, keepNewlines bool) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' && keepNewlines:
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return ' '
		}
		return r
	}, s)
}

// cut shortens s to n characters, marking the cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n <= 1 {
		return string(r[:max(n, 0)])
	}
	return string(r[:n-1]) + "…"
}
