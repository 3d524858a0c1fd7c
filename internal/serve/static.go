package serve

import (
	"errors"
	"path"
	"strings"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// With ManifestStaticFilesStorage every static file name carries a hash of
// its content, and a page names the hashed file. Right after a cut-over,
// pages the previous release rendered (open tabs, cached pages) still ask
// for its names. So the web server looks in the live release first
// (current, switched atomically with the app) and then in a fallback tree:
// one link per static file of every release on the host. The web server
// checks both on every request, so the site is written once by setup and
// never reloaded by a deploy; a pruned release's links lead nowhere and
// its files answer 404 at once.

// fallbackScript makes sure the tree served holds the release current
// points to, so the names its pages ask for still answer once current
// moves off it; with relink it rebuilds the tree whatever it holds.
//
// Each tree T has a list T.list beside it of the releases linked into it.
// Releases are linked oldest first and cp -f replaces an earlier link, so
// a name several releases have points at the newest. When the live
// release is listed, nothing is done; when it is newer than every release
// listed, its files are linked into the served tree in place, which no
// request can notice: the web server finds every name the live release
// has in current first. Otherwise (no tree yet, a rollback made an older
// release live, five of the releases listed pruned, whose dead links
// would pile up, or relink), a new tree is built beside the one served
// from every release on the host but exclude (a release being built,
// which a failed deploy removes), and the link is swapped with rename(2),
// so a request sees the old tree or the new, never a half-built one.
//
// A release that cannot be linked (a name that is a file in one release
// and a directory in another) leaves the rest linked and is reported on
// stdout after fallbackIncomplete, so that in a chain of commands it is a
// warning, not a failure. Arguments: the trees directory, the served
// link, the releases directory, the name of a release's static dir,
// fallbackIncomplete, current, "relink" or "keep", and exclude.
const fallbackScript = release.IDCheck + `
umask 022
trees=$1 served=$2 releases=$3 static=$4
live=$(readlink "$6" 2>/dev/null)
live=${live##*/}
valid_id "$live" || live=
[ "$7" = keep ] && [ -z "$live" ] && exit 0
problems=
link() {
	[ -d "$releases/$1/$static/" ] || return 0
	out=$(cp -R -s -f "$releases/$1/$static/." "$2/" 2>&1) || problems="$problems $out"
}
report() {
	[ -z "$problems" ] || printf '%s%s\n' "$1" "$problems"
}
tree=$(readlink "$served" 2>/dev/null)
if [ "$7" = keep ] && [ -n "$tree" ] && [ -d "$trees/$tree" ] && [ -f "$trees/$tree.list" ]; then
	grep -qxF -e "$live" "$trees/$tree.list" && exit 0
	newest=$(sort "$trees/$tree.list" | tail -n 1)
	gone=0
	while read -r id; do
		[ -d "$releases/$id" ] || gone=$((gone + 1))
	done <"$trees/$tree.list"
	if [ "$live" \> "$newest" ] && [ "$gone" -lt 5 ]; then
		link "$live" "$trees/$tree"
		echo "$live" >>"$trees/$tree.list" || exit 1
		report "$5"
		exit 0
	fi
fi
mkdir -p "$trees" || exit 1
new=$(mktemp -d "$trees/tree.XXXXXX") || exit 1
chmod 755 "$new" || exit 1
: >"$new.list" || exit 1
for d in "$releases"/*; do
	valid_id "${d##*/}" && [ "${d##*/}" != "$8" ] || continue
	link "${d##*/}" "$new"
	echo "${d##*/}" >>"$new.list" || exit 1
done
ln -sfn "${new##*/}" "$served.hoist-tmp" && mv -Tf "$served.hoist-tmp" "$served" || exit 1
for old in "$trees"/tree.*; do
	[ "$old" = "$new" ] || [ "$old" = "$new.list" ] || rm -rf "$old"
done
report "$5"
true
`

// fallbackIncomplete starts the line fallbackScript prints when some
// release's files could not be linked.
const fallbackIncomplete = "hoist: static files of earlier releases not all linked:"

// KeepStaticCmd makes sure the static fallback (release.Layout.
// StaticFallback) holds the release the host serves, before a switch
// moves off it and once a switch has moved to it, and never links
// exclude, a release being built; see fallbackScript. Pass its output to
// FallbackProblem.
func KeepStaticCmd(l release.Layout, exclude string) string {
	return fallbackCmd(l, "keep", exclude)
}

// RelinkStaticCmd rebuilds the static fallback from the releases on the
// host now: after pruning removed a release whose links hid an older
// release's files. Pass its output to FallbackProblem.
func RelinkStaticCmd(l release.Layout) string {
	return fallbackCmd(l, "relink", "")
}

func fallbackCmd(l release.Layout, mode, exclude string) string {
	return remote.Script(fallbackScript, l.StaticFallbackTrees(), l.StaticFallback(), l.Releases(), path.Base(l.Static("x")), fallbackIncomplete, l.Current(), mode, exclude)
}

// FallbackProblem finds in the output of KeepStaticCmd or RelinkStaticCmd
// the releases they could not link. That leaves the site serving the live
// release as before, with fewer fallbacks: worth a warning, not a failed
// deploy.
func FallbackProblem(out string) error {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, fallbackIncomplete) {
			return errors.New(line)
		}
	}
	return nil
}
