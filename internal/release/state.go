package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// State is where a release is in its life on one host.
type State string

const (
	Building State = "building"
	Ready    State = "ready"  // built and checked, not serving yet
	Live     State = "live"   // current points at it
	Failed   State = "failed" // never served; removed at once
	Retired  State = "retired"
)

// Record is what hoist remembers of a release on a host, in .hoist/releases.
type Record struct {
	ID         string    `json:"id"`
	Commit     string    `json:"commit"`
	Artifact   string    `json:"artifact"`
	Venv       string    `json:"venv,omitempty"`
	State      State     `json:"state"`
	Created    time.Time `json:"created"`
	DeployedBy string    `json:"deployed_by"`
	// RolledBack marks a release that a rollback left: the next rollback
	// goes further back instead of returning to it.
	RolledBack bool `json:"rolled_back,omitempty"`
}

// WriteRecord stores rec on the host.
func WriteRecord(ctx context.Context, t remote.Transport, l Layout, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeFile(ctx, t, l.StateFile(rec.ID), data, "0644")
}

// Inventory is what a host holds: every release record, oldest first, and
// which one is live.
type Inventory struct {
	Records []Record
	Live    string // release id current points at; "" before the first deploy
}

// Find returns the record of id, or nil.
func (inv Inventory) Find(id string) *Record {
	for i := range inv.Records {
		if inv.Records[i].ID == id {
			return &inv.Records[i]
		}
	}
	return nil
}

// Without is the inventory less the releases ids.
func (inv Inventory) Without(ids ...string) Inventory {
	gone := map[string]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	out := Inventory{Live: inv.Live}
	for _, r := range inv.Records {
		if !gone[r.ID] {
			out.Records = append(out.Records, r)
		}
	}
	return out
}

// PreviousGood is the release a rollback returns to: the newest one older
// than the live one that once served and was not itself rolled back from.
func (inv Inventory) PreviousGood() *Record {
	for i := len(inv.Records) - 1; i >= 0; i-- {
		r := &inv.Records[i]
		if r.ID < inv.Live && r.State == Retired && !r.RolledBack {
			return r
		}
	}
	return nil
}

const inventoryScript = `
cd "$1" || exit 0
for f in .hoist/releases/*.json; do [ -f "$f" ] && cat "$f" && echo; done
printf '\n--live--\n'
readlink current 2>/dev/null || true
`

// ReadInventory reads the records and the live release in one round trip.
func ReadInventory(ctx context.Context, t remote.Transport, l Layout) (Inventory, error) {
	out, err := remote.Output(ctx, t, remote.Script(inventoryScript, l.Root))
	if err != nil {
		return Inventory{}, fmt.Errorf("read releases: %w", err)
	}
	records, live, _ := strings.Cut(out, "--live--\n")
	var inv Inventory
	dec := json.NewDecoder(strings.NewReader(records))
	for dec.More() {
		var r Record
		if err := dec.Decode(&r); err != nil {
			return Inventory{}, fmt.Errorf("read releases: a record under %s is damaged: %w", l.StateDir(), err)
		}
		inv.Records = append(inv.Records, r)
	}
	sort.Slice(inv.Records, func(i, j int) bool { return inv.Records[i].ID < inv.Records[j].ID })
	live = strings.TrimSpace(live)
	if live != "" {
		inv.Live = live[strings.LastIndex(live, "/")+1:]
	}
	return inv, nil
}

// writeFile puts data at path through a temporary name, so a reader never
// sees half a file. data goes over stdin, never on a command line.
func writeFile(ctx context.Context, t remote.Transport, path string, data []byte, mode string) error {
	script := `set -e; umask 077; mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; chmod "$2" "$1.tmp"; mv -f "$1.tmp" "$1"`
	_, err := remote.OutputWithInput(ctx, t, remote.Script(script, path, mode), bytes.NewReader(data))
	return err
}
