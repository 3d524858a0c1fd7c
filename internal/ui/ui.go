// Package ui prints what hoist does: plain lines for people and logs, or
// one JSON event per line for CI (--json). Every line passes through the
// redactor, so no secret value is ever printed.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
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
}

// New returns a UI writing to out.
func New(out io.Writer, jsonEvents bool) *UI {
	return &UI{out: out, json: jsonEvents, start: time.Now()}
}

// AddSecrets registers values that must never be printed.
func (u *UI) AddSecrets(values ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, v := range values {
		// Very short values would blank out ordinary words.
		if len(v) >= 4 {
			u.secrets = append(u.secrets, v)
		}
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(u.secrets, func(i, j int) bool { return len(u.secrets[i]) > len(u.secrets[j]) })
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
		b, _ := json.Marshal(Event{Time: time.Now().UTC().Format(time.RFC3339Nano), Kind: kind, Host: host, Step: step, Message: msg})
		fmt.Fprintf(u.out, "%s\n", b)
		return
	}
	elapsed := fmt.Sprintf("%5.1fs", time.Since(u.start).Seconds())
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
	for i, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if i == 0 {
			fmt.Fprintf(u.out, "%s  %s%s%s\n", elapsed, where, prefix, line)
		} else {
			fmt.Fprintf(u.out, "%s  %s  %s\n", strings.Repeat(" ", len(elapsed)), strings.Repeat(" ", len(where)), line)
		}
	}
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
