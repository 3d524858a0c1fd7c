package release

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

func (s State) valid() bool {
	switch s {
	case Building, Ready, Live, Failed, Retired:
		return true
	}
	return false
}

// Record is what hoist remembers of a release on a host, in .hoist/releases.
type Record struct {
	ID         string    `json:"id"`
	Commit     string    `json:"commit"`
	Artifact   string    `json:"artifact"`
	Venv       string    `json:"venv,omitempty"`
	State      State     `json:"state"`
	Created    time.Time `json:"created"`
	DeployedBy string    `json:"deployed_by"`
	// Seq orders releases by when the host got them. Ids carry the
	// deploying machine's clock, which may be behind another's; the host
	// numbers its releases itself.
	Seq int `json:"seq,omitempty"`
	// Previous is the release that was live on this host when this one
	// went live: what a rollback returns to.
	Previous string `json:"previous,omitempty"`
	// RolledBack marks a release that a rollback left: the next rollback
	// goes further back instead of returning to it.
	RolledBack bool `json:"rolled_back,omitempty"`
}

// WriteRecord stores rec on the host.
func WriteRecord(ctx context.Context, t remote.Transport, l Layout, rec Record) error {
	cmd, err := RecordCmd(l, rec)
	if err != nil {
		return err
	}
	_, err = remote.Output(ctx, t, cmd)
	return err
}

// RecordCmd is the command that stores rec on the host, for a Chain. A
// record holds no secret, so it can travel on the command line.
func RecordCmd(l Layout, rec Record) (string, error) {
	if !ValidID(rec.ID) {
		return "", fmt.Errorf("refusing to write a release record with the invalid id %q", rec.ID)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	script := `set -e; mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" > "$1.tmp"; mv -f "$1.tmp" "$1"`
	return remote.Script(script, l.StateFile(rec.ID), string(data)), nil
}

// Inventory is what a host holds: every release record, oldest first, which
// one is live, and which instances run.
type Inventory struct {
	Records  []Record
	Live     string   // release id current points at; "" before the first deploy
	Running  []string // release ids with an instance or a process active (when asked for)
	Draining []string // of those, the ones a switch scheduled to stop
	Damaged  []string // record files that could not be read; never acted on
}

// Find returns the record of id, or nil.
func (inv Inventory) Find(id string) *Record {
	if id == "" {
		return nil
	}
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
	out := inv
	out.Records = nil
	for _, r := range inv.Records {
		if !gone[r.ID] {
			out.Records = append(out.Records, r)
		}
	}
	return out
}

// NextSeq is the Seq of the next release on the host.
func (inv Inventory) NextSeq() int {
	n := 0
	for _, r := range inv.Records {
		n = max(n, r.Seq)
	}
	return n + 1
}

// PreviousGood is the release a rollback returns to: follow the chain of
// releases that were live before the live one, skipping any that a rollback
// left, that failed, or that are gone. Records from before the chain was
// kept fall back to host order.
func (inv Inventory) PreviousGood() *Record {
	live := inv.Find(inv.Live)
	if live == nil {
		return nil
	}
	seen := map[string]bool{live.ID: true}
	for id := live.Previous; id != "" && !seen[id]; {
		seen[id] = true
		r := inv.Find(id)
		if r == nil {
			break
		}
		if r.State == Retired && !r.RolledBack {
			return r
		}
		id = r.Previous
	}
	if live.Previous != "" {
		return nil
	}
	for i := len(inv.Records) - 1; i >= 0; i-- {
		r := &inv.Records[i]
		if before(*r, *live) && r.State == Retired && !r.RolledBack {
			return r
		}
	}
	return nil
}

// before orders releases by Seq where both have one, else by id.
func before(a, b Record) bool {
	if a.Seq != 0 && b.Seq != 0 {
		return a.Seq < b.Seq
	}
	return a.ID < b.ID
}

// inventoryScript prints every record in $1, then where current ($2)
// points, then the active instances of unit ($3, may be empty), in one
// round trip.
const inventoryScript = `
for f in "$1"/*.json; do [ -f "$f" ] && printf '%s\n' "${f##*/}" && cat "$f" && printf '\n\036\n'; done
printf '\035live\n'
readlink "$2" 2>/dev/null || true
printf '\035running\n'
[ -n "$3" ] && systemctl list-units --no-legend --plain --state=active,activating,reloading "$3@*.service" "$3.*@*.service" "$3-stop-*.timer" 2>/dev/null | awk '{print $1}'
true
`

// ReadInventory reads the records, the live release and, when unit is not
// empty, the running instances of that systemd template unit, in one round
// trip. A record that is damaged or names an invalid id is set aside in
// Damaged, never acted on.
func ReadInventory(ctx context.Context, t remote.Transport, l Layout, unit string) (Inventory, error) {
	inv, _, err := ReadInventoryAnd(ctx, t, l, unit, "")
	return inv, err
}

// ReadInventoryAnd is ReadInventory that also runs the command also in the
// same round trip, and returns what it printed.
func ReadInventoryAnd(ctx context.Context, t remote.Transport, l Layout, unit, also string) (Inventory, string, error) {
	cmd := remote.Script(inventoryScript, l.StateDir(), l.Current(), unit)
	if also != "" {
		cmd = remote.Chain(cmd, remote.Script(`printf '\035also\n'`), also)
	}
	out, err := remote.Output(ctx, t, cmd)
	if err != nil {
		return Inventory{}, "", fmt.Errorf("read releases: %w", err)
	}
	out, alsoOut, _ := strings.Cut(out, "\035also\n")
	return parseInventory(out, unit), alsoOut, nil
}

func parseInventory(out, unit string) Inventory {
	var inv Inventory
	records, rest, _ := strings.Cut(out, "\035live\n")
	live, running, _ := strings.Cut(rest, "\035running\n")
	for _, chunk := range strings.Split(records, "\n\036\n") {
		name, data, ok := strings.Cut(strings.TrimLeft(chunk, "\n"), "\n")
		if !ok {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(data), &r); err != nil || !ValidID(r.ID) || name != r.ID+".json" || !r.State.valid() {
			inv.Damaged = append(inv.Damaged, name)
			continue
		}
		inv.Records = append(inv.Records, r)
	}
	sort.SliceStable(inv.Records, func(i, j int) bool { return before(inv.Records[i], inv.Records[j]) })
	if live = strings.TrimSpace(live); live != "" {
		inv.Live = live[strings.LastIndex(live, "/")+1:]
	}
	for _, line := range strings.Fields(running) {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(line, unit+"-stop-"), ".timer"); ok && ValidID(id) {
			inv.Draining = append(inv.Draining, id)
		} else if strings.HasPrefix(line, unit+"@") || strings.HasPrefix(line, unit+".") {
			// The web instance or a process of a release: hoist-app@ID or
			// hoist-app.worker@ID.
			_, after, _ := strings.Cut(line, "@")
			if id := strings.TrimSuffix(after, ".service"); ValidID(id) && !slices.Contains(inv.Running, id) {
				inv.Running = append(inv.Running, id)
			}
		}
	}
	return inv
}

// writeFileCmd writes its stdin to path through a temporary name, so a
// reader never sees half a file; the data (secrets, for an environment
// file) never goes on a command line.
func writeFileCmd(path, mode string) string {
	script := `set -e; umask 077; mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; chmod "$2" "$1.tmp"; mv -f "$1.tmp" "$1"`
	return remote.Script(script, path, mode)
}
