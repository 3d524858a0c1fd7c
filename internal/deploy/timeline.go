package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Event is one deploy, rollback or migration of a stage, as the hosts
// recorded it: one line of history.jsonl, which every host of the run
// appends, merged into one.
type Event struct {
	Entry
	Hosts []string `json:"hosts"` // the hosts whose history has it
}

// History merges the history of every host into one timeline, oldest
// first. A host that was down during a run lacks its line; Hosts says
// which ones have it.
func (t *Target) History(ctx context.Context) ([]Event, error) {
	var mu sync.Mutex
	byKey := map[string]*Event{}
	err := Each(ctx, t.Hosts, "history", func(ctx context.Context, h *remote.Host) error {
		out, err := remote.Output(ctx, h, remote.Script(`cat "$1" 2>/dev/null || true`, t.Layout.History()))
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(out)))
		mu.Lock()
		defer mu.Unlock()
		for dec.More() {
			var e Entry
			if err := dec.Decode(&e); err != nil {
				break // a line cut by a crash ends what can be read
			}
			key := strings.Join([]string{e.Action, e.Release, e.Start.UTC().String(), e.Result}, "|")
			ev := byKey[key]
			if ev == nil {
				ev = &Event{Entry: e}
				byKey[key] = ev
			}
			if !slices.Contains(ev.Hosts, h.Name) {
				ev.Hosts = append(ev.Hosts, h.Name)
			}
		}
		return nil
	})
	events := make([]Event, 0, len(byKey))
	for _, ev := range byKey {
		sort.Strings(ev.Hosts)
		events = append(events, *ev)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Start.Before(events[j].Start) })
	return events, err
}
