package deploy

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Entry is one line of .hoist/history.jsonl: the audit trail of a stage,
// appended on every host and never rewritten.
type Entry struct {
	Action     string    `json:"action"` // deploy, rollback
	Stage      string    `json:"stage"`
	Who        string    `json:"who"`
	Commit     string    `json:"commit,omitempty"`
	Release    string    `json:"release"`
	Previous   string    `json:"previous,omitempty"`
	Start      time.Time `json:"start"`
	Duration   float64   `json:"duration_seconds"`
	Result     string    `json:"result"` // ok, failed, interrupted
	FailedStep string    `json:"failed_step,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// record appends e to the history of every host. The error text passes
// through the redactor first: history must never hold a secret.
func (t *Target) record(ctx context.Context, e Entry) {
	err := t.each(ctx, t.Hosts, "history", func(ctx context.Context, h *remote.Host) error {
		_, err := remote.Output(ctx, h, t.historyCmd(e))
		return err
	})
	if err != nil {
		t.UI.Warn("could not write history: %v", err)
	}
}

// historyCmd appends e to a host's history, for a Chain. Its error text is
// redacted first.
func (t *Target) historyCmd(e Entry) string {
	e.Error = t.UI.Redact(e.Error)
	line, _ := json.Marshal(e)
	return remote.Script(`mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" >> "$1"`, t.Layout.History(), string(line))
}
