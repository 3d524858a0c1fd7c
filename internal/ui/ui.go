// Package ui prints what hoist does: plain lines for people and logs, one
// JSON event per line for CI (--json), or on a terminal a live view with a
// row per host (live.go). Every line passes through the redactor, so no
// secret value is ever printed.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// UI writes progress and results. It is safe for use by many hosts at once.
type UI struct {
	mu      sync.Mutex
	out     io.Writer
	json    bool
	secrets []string
	start   time.Time
	timings []timing
	// size is the terminal's size when out is one the live view may draw
	// on (see Auto), nil otherwise.
	size func() (width, height int)
	live *live // the live view, once Hosts started it
}

// New returns a UI writing to out.
func New(out io.Writer, jsonEvents bool) *UI {
	return &UI{out: out, json: jsonEvents, start: time.Now()}
}

// AddSecrets registers values that must never be printed, in every form
// they may take in output (see secretForms).
func (u *UI) AddSecrets(values ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range u.secrets {
		seen[s] = true
	}
	for _, v := range values {
		for _, f := range secretForms(v) {
			// Very short values would blank out ordinary words.
			if len(f) >= 4 && !seen[f] {
				seen[f] = true
				u.secrets = append(u.secrets, f)
			}
		}
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(u.secrets, func(i, j int) bool { return len(u.secrets[i]) > len(u.secrets[j]) })
}

// secretForms is v as it may show up in output: as is; JSON-escaped (a
// --json event, a JSON API's error body), with and without HTML escaping;
// as Python's repr writes it inside either quote (a Django traceback, a
// settings dump); URL-encoded (a DATABASE_URL password, a query string);
// and each line of a value of several lines, because a message cut at a
// line end keeps only some of them.
func secretForms(v string) []string {
	forms := []string{v}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.Encode(v)
	forms = append(forms, unquote(b.String()))
	b.Reset()
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	forms = append(forms, unquote(b.String()))
	forms = append(forms, pythonEscape(v, '\''), pythonEscape(v, '"'))
	forms = append(forms, url.QueryEscape(v), url.PathEscape(v))
	if strings.Contains(v, "\n") {
		for _, line := range strings.Split(v, "\n") {
			// Short lines (a PEM header, a blank line) are not secret alone.
			if line = strings.TrimSpace(line); len(line) >= 8 {
				forms = append(forms, line)
			}
		}
	}
	return forms
}

func unquote(jsonString string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(jsonString), `"`), `"`)
}

// pythonEscape writes v the way Python's repr() does between quote
// characters q, without the quotes.
func pythonEscape(v string, q rune) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == q:
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Writer returns a writer to w that hides every registered secret in each
// Write, for commands that print straight to the terminal (status, logs,
// releases). Each Write is redacted on its own: print whole lines.
func (u *UI) Writer(w io.Writer) io.Writer { return redactingWriter{u, w} }

type redactingWriter struct {
	u *UI
	w io.Writer
}

func (r redactingWriter) Write(p []byte) (int, error) {
	s := r.u.Redact(string(p))
	if r.u.intoLive(r.w, s) {
		return len(p), nil
	}
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Redact hides every registered secret in s.
func (u *UI) Redact(s string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.redact(s)
}

func (u *UI) redact(s string) string {
	for _, v := range u.secrets {
		s = strings.ReplaceAll(s, v, "[secret]")
	}
	return s
}

// Event is one line of --json output.
type Event struct {
	Time    string `json:"time"`
	Kind    string `json:"kind"` // step, info, warn, error, result
	Host    string `json:"host,omitempty"`
	Step    string `json:"step,omitempty"`
	Message string `json:"message"`
}

func (u *UI) emit(kind, host, step, msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	msg = u.redact(msg)
	if u.json {
		u.event(Event{Kind: kind, Host: host, Step: step, Message: msg})
		return
	}
	text := plainLines(time.Since(u.start), kind, host, step, msg)
	if u.live != nil {
		u.live.event(kind, host, step, msg, text)
		return
	}
	io.WriteString(u.out, text)
}

// event writes e as one JSON line, stamped now.
func (u *UI) event(e Event) {
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(e)
	fmt.Fprintf(u.out, "%s\n", b)
}

// plainLines is one event as plain lines: the time since the run began,
// host and step in columns, the message's further lines indented under
// its first.
func plainLines(since time.Duration, kind, host, step, msg string) string {
	elapsed := fmt.Sprintf("%5.1fs", since.Seconds())
	prefix := ""
	switch kind {
	case "warn":
		prefix = "warning: "
	case "error":
		prefix = "error: "
	}
	where := ""
	if host != "" {
		where = fmt.Sprintf("%-10s ", host)
	}
	if step != "" {
		where += fmt.Sprintf("%-9s ", step)
	}
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if i == 0 {
			fmt.Fprintf(&b, "%s  %s%s%s\n", elapsed, where, prefix, line)
		} else {
			fmt.Fprintf(&b, "%s  %s  %s\n", strings.Repeat(" ", len(elapsed)), strings.Repeat(" ", len(where)), line)
		}
	}
	return b.String()
}

// Step reports progress of one step on one host.
func (u *UI) Step(host, step, format string, args ...any) {
	u.emit("step", host, step, fmt.Sprintf(format, args...))
}

// Info reports something about the whole run.
func (u *UI) Info(format string, args ...any) { u.emit("info", "", "", fmt.Sprintf(format, args...)) }

// Warn reports something the user should look at; the run goes on.
func (u *UI) Warn(format string, args ...any) { u.emit("warn", "", "", fmt.Sprintf(format, args...)) }

// Error reports why the run failed.
func (u *UI) Error(format string, args ...any) { u.emit("error", "", "", fmt.Sprintf(format, args...)) }

// Result reports the outcome, last.
func (u *UI) Result(format string, args ...any) {
	u.emit("result", "", "", fmt.Sprintf(format, args...))
}
