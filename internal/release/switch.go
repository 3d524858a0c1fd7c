package release

import (
	"context"
	"sort"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// switchScript points current at the release and the web server's socket
// at the release's socket. Each link is made under a temporary name and
// renamed over the old one: rename(2) is atomic, so every request sees
// either the old release or the new, never neither.
// A link already right is left alone, so switching back after a partial
// switch only touches what changed.
const switchScript = `
set -e
cd "$1"
if [ "$(readlink current)" != "releases/$2" ]; then
	ln -sfn "releases/$2" .current.tmp && mv -Tf .current.tmp current
fi
if [ "$(readlink run/live.sock)" != "$2.sock" ]; then
	ln -sfn "$2.sock" run/.live.sock.tmp && mv -Tf run/.live.sock.tmp run/live.sock
fi
`

// Switch makes id the live release.
func Switch(ctx context.Context, t remote.Transport, l Layout, id string) error {
	_, err := remote.Output(ctx, t, remote.Script(switchScript, l.Root, id))
	return err
}

// removeScript deletes a release and everything hoist keeps for it.
const removeScript = `
set -e
cd "$1"; shift
for id in "$@"; do
	rm -rf "releases/$id" ".hoist/env/$id.env" ".hoist/releases/$id.json" "run/$id.sock"
done
`

// Remove deletes releases from the host.
func Remove(ctx context.Context, t remote.Transport, l Layout, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := remote.Output(ctx, t, remote.Script(removeScript, append([]string{l.Root}, ids...)...))
	return err
}

// PruneCandidates picks the releases to delete so that keep remain: the
// oldest first, never the live one nor the one a rollback would go to.
func PruneCandidates(inv Inventory, keep int) []string {
	protect := map[string]bool{inv.Live: true}
	if prev := inv.PreviousGood(); prev != nil {
		protect[prev.ID] = true
	}
	ids := make([]string, 0, len(inv.Records))
	for _, r := range inv.Records {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	var drop []string
	excess := len(ids) - keep
	for _, id := range ids {
		if excess <= 0 {
			break
		}
		if !protect[id] {
			drop = append(drop, id)
			excess--
		}
	}
	return drop
}

// sweepScript removes venvs and artifacts no remaining release uses.
// Arguments: root, then the venv hashes and artifact sums still in use.
const sweepScript = `
cd "$1" || exit 0; shift
keep=" $* "
for d in venvs/*; do
	[ -d "$d" ] || continue
	case "$keep" in *" ${d#venvs/} "*) ;; *) rm -rf "$d" ;; esac
done
for f in .hoist/artifacts/*.tar.gz; do
	[ -f "$f" ] || continue
	n=${f#.hoist/artifacts/}; n=${n%.tar.gz}
	case "$keep" in *" $n "*) ;; *) rm -f "$f" ;; esac
done
`

// Sweep deletes venvs and artifacts that no release in inv refers to.
func Sweep(ctx context.Context, t remote.Transport, l Layout, inv Inventory) error {
	args := []string{l.Root}
	for _, r := range inv.Records {
		if r.Venv != "" {
			args = append(args, r.Venv)
		}
		if r.Artifact != "" {
			args = append(args, r.Artifact)
		}
	}
	_, err := remote.Output(ctx, t, remote.Script(sweepScript, args...))
	return err
}
