// Package remote runs commands on hosts: over SSH, or on this machine.
package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
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
		ee.Stderr = tail(stderr.String(), 40)
		if ee.Stderr == "" {
			ee.Stderr = tail(stdout.String(), 40)
		}
	}
	return stdout.String(), err
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

// Connect opens a transport to address: LocalAddress, or anything Dial takes.
func Connect(ctx context.Context, address string, opts DialOptions) (Transport, error) {
	if address == LocalAddress {
		return Local{}, nil
	}
	return Dial(ctx, address, opts)
}
