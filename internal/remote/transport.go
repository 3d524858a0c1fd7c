// Package remote runs commands on hosts: over SSH, or on this machine.
package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/hoistdeploy/hoist/internal/config"
)

// Transport runs shell command lines on one host. Build every command line
// with Command or Script.
type Transport interface {
	// Run runs cmd with the given stdin, stdout and stderr (any may be nil).
	// A non-zero exit is an *ExitError.
	Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error
	// Interactive runs cmd attached to this terminal, with a pseudo-terminal
	// on the host when tty is set.
	Interactive(ctx context.Context, cmd string, tty bool) error
	Close() error
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Status int    // exit status; -1 when killed by a signal or the link dropped
	Stderr string // the end of what it printed on stderr
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("exit status %d", e.Status)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Output runs cmd and returns its stdout. On failure the error carries the
// tail of stderr, which is what a person needs to see.
func Output(ctx context.Context, t Transport, cmd string) (string, error) {
	return OutputWithInput(ctx, t, cmd, nil)
}

// OutputWithInput is Output with stdin; secrets travel this way, never on a
// command line where ps or a log could show them.
func OutputWithInput(ctx context.Context, t Transport, cmd string, stdin io.Reader) (string, error) {
	var stdout, stderr bytes.Buffer
	err := t.Run(ctx, cmd, stdin, &stdout, &stderr)
	if ee, ok := err.(*ExitError); ok {
		// Redact the whole text before cutting it: a cut through the
		// middle of a secret would leave a piece the redactor cannot
		// recognise.
		ee.Stderr = tail(Redact(stderr.String()), 40)
		if ee.Stderr == "" {
			ee.Stderr = tail(Redact(stdout.String()), 40)
		}
	}
	return stdout.String(), err
}

var redactor atomic.Pointer[func(string) string]

// SetRedactor installs the function that hides secrets (the UI's), for
// everything that shortens remote output before it reaches the UI. One
// hoist process works on one stage, so one redactor serves it all.
func SetRedactor(redact func(string) string) { redactor.Store(&redact) }

// Redact hides secrets in s with the installed redactor. Call it on the
// full text, before cutting it down for a message.
func Redact(s string) string {
	if r := redactor.Load(); r != nil && *r != nil {
		return (*r)(s)
	}
	return s
}

// tail keeps the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// LocalAddress is the host address that means "this machine, no SSH".
const LocalAddress = "local"

// Connect opens a transport to address: LocalAddress, or a host address
// as hoist.yml holds it, parsed by the same parser that checked hoist.yml.
func Connect(ctx context.Context, address string, opts DialOptions) (Transport, error) {
	if address == LocalAddress {
		return Local{}, nil
	}
	addr, err := config.ParseHostAddress(address)
	if err != nil {
		return nil, err
	}
	return Dial(ctx, addr, opts)
}
