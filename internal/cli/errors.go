package cli

import (
	"strings"

	"github.com/hoistdeploy/hoist/internal/deploy"
)

// redactedError hides secrets in an error's text but keeps what it wraps,
// so the exit code is still right.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redacted(redact func(string) string, err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: redact(err.Error()), err: err}
}

// hostsList names the hosts of a target for a summary line.
func hostsList(t *deploy.Target) string {
	names := make([]string, len(t.Hosts))
	for i, h := range t.Hosts {
		names[i] = h.Name
	}
	return strings.Join(names, ", ")
}
