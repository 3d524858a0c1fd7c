package release

import (
	"context"
	"fmt"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// switchScript points current at the release and the web server's socket
// at the release's socket. Each link is made under a temporary name and
// renamed over the old one: rename(2) is atomic, so every request sees
// either the old release or the new, never neither. A link already right
// is left alone, so switching back after a partial switch only touches
// what changed. Arguments: current, its target, live.sock, its target.
const switchScript = `
set -e
link() {
	[ "$(readlink "$1")" = "$2" ] && return 0
	[ -e "$2" ] || { echo "$2 is missing" >&2; exit 1; }
	ln -sfn "$2" "$1.hoist-tmp" && mv -Tf "$1.hoist-tmp" "$1"
}
link "$1" "$2"
[ -z "$3" ] || link "$3" "$4"
`

// Switch makes id the live release. withSocket also points the web
// server's socket at the release's (web hosts only: a worker host has none).
func Switch(ctx context.Context, t remote.Transport, l Layout, id string, withSocket bool) error {
	cmd, err := SwitchCmd(l, id, withSocket)
	if err != nil {
		return err
	}
	_, err = remote.Output(ctx, t, cmd)
	return err
}

// SwitchCmd is Switch's command.
func SwitchCmd(l Layout, id string, withSocket bool) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("refusing to switch to the invalid release id %q", id)
	}
	args := []string{l.Current(), l.Release(id), "", ""}
	if withSocket {
		args[2], args[3] = l.LiveSocket(), l.Socket(id)
	}
	return remote.Script(switchScript, args...), nil
}

// removeScript deletes releases and everything hoist keeps for them: after
// current, groups of five paths (release dir, env file, record, socket,
// container script). A release of strategy container has its script
// remove its containers and image first. It refuses an invalid id and the
// release current points to, whatever the caller believed: a clean-up
// after a failed revert must not delete what the host serves.
const removeScript = IDCheck + `
set -e
cur=$(readlink "$1" || true); shift
i=0
for p in "$@"; do
	if [ $((i % 5)) -eq 0 ]; then
		valid_id "${p##*/}" || { echo "refusing to remove '$p': not a release" >&2; exit 1; }
		[ "${p##*/}" != "${cur##*/}" ] || { echo "refusing to remove ${p##*/}: current points to it" >&2; exit 1; }
	fi
	if [ $((i % 5)) -eq 4 ] && [ -f "$p" ]; then sh "$p" remove; fi
	i=$((i + 1))
done
rm -rf "$@"
`

// Remove deletes releases from the host. It fails, removing nothing, when
// any id is invalid or is the live release.
func Remove(ctx context.Context, t remote.Transport, l Layout, ids ...string) error {
	cmd, err := RemoveCmd(l, ids...)
	if err != nil {
		return err
	}
	_, err = remote.Output(ctx, t, remote.Chain(cmd))
	return err
}

// RemoveCmd is Remove's command, for a Chain; "" when ids is empty.
func RemoveCmd(l Layout, ids ...string) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	for _, id := range ids {
		if !ValidID(id) {
			return "", fmt.Errorf("refusing to remove the invalid release id %q", id)
		}
	}
	args := []string{l.Current()}
	for _, id := range ids {
		args = append(args, l.Release(id), l.EnvFile(id), l.StateFile(id), l.Socket(id), l.ContainerScript(id))
	}
	return remote.Script(removeScript, args...), nil
}

// PruneCandidates picks the releases to delete so that keep remain: the
// oldest first (in the host's own order), never the live one, the one a
// rollback would go to, nor any in protect (the release that was live
// before this run). Abandoned builds are not counted: reconcile removes
// them.
func PruneCandidates(inv Inventory, keep int, protect ...string) []string {
	keepers := map[string]bool{inv.Live: true}
	for _, id := range protect {
		keepers[id] = true
	}
	if prev := inv.PreviousGood(); prev != nil {
		keepers[prev.ID] = true
	}
	var served []Record
	for _, r := range inv.Records {
		if r.State == Live || r.State == Retired || keepers[r.ID] {
			served = append(served, r)
		}
	}
	var drop []string
	excess := len(served) - keep
	for _, r := range served { // oldest first
		if excess <= 0 {
			break
		}
		if !keepers[r.ID] {
			drop = append(drop, r.ID)
			excess--
		}
	}
	return drop
}

// sweepScript removes venvs and artifacts no remaining release uses.
// Arguments: the venvs dir, the artifacts dir, then the venv hashes and
// artifact sums still in use.
const sweepScript = `
venvs=$1 artifacts=$2; shift 2
keep=" $* "
for d in "$venvs"/*; do
	[ -d "$d" ] || continue
	case "$keep" in *" ${d##*/} "*) ;; *) rm -rf "$d" ;; esac
done
for f in "$artifacts"/*.tar.gz; do
	[ -f "$f" ] || continue
	n=${f##*/}; n=${n%.tar.gz}
	case "$keep" in *" $n "*) ;; *) rm -f "$f" ;; esac
done
true
`

// SweepCmd deletes venvs and artifacts that no release in inv refers to;
// "" when a damaged record might name what a release needs.
func SweepCmd(l Layout, inv Inventory) string {
	args := []string{l.Venvs(), l.Artifacts()}
	for _, r := range inv.Records {
		if r.Venv != "" {
			args = append(args, r.Venv)
		}
		if r.Artifact != "" {
			args = append(args, r.Artifact)
		}
	}
	if len(inv.Damaged) > 0 {
		// A damaged record may still name what a release needs.
		return ""
	}
	return remote.Script(sweepScript, args...)
}
