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

// fallbackScript builds a new tree beside the one served and swaps the
// link to it with rename(2), so a request sees the old tree or the new,
// never a half-built one. Releases come oldest first (ids start with the
// build time, and the glob sorts them) and cp -f replaces an earlier link:
// a name several releases have points at the newest, the one pruned last.
// A release that cannot be linked (a name that is a file in one release
// and a directory in another) leaves the rest linked and is reported on
// stdout after fallbackIncomplete, so that in a chain of commands it is a
// warning, not a failure. Arguments: the trees directory, the served link,
// the releases directory, the name of a release's static dir, and
// fallbackIncomplete.
const fallbackScript = release.IDCheck + `
umask 022
trees=$1 served=$2 releases=$3 static=$4
mkdir -p "$trees" || exit 1
new=$(mktemp -d "$trees/tree.XXXXXX") || exit 1
chmod 755 "$new" || exit 1
problems=
for d in "$releases"/*; do
	valid_id "${d##*/}" || continue
	[ -d "$d/$static/" ] || continue
	out=$(cp -R -s -f "$d/$static/." "$new/" 2>&1) || problems="$problems $out"
done
ln -sfn "${new##*/}" "$served.hoist-tmp" && mv -Tf "$served.hoist-tmp" "$served" || exit 1
for old in "$trees"/tree.*; do
	[ "$old" = "$new" ] || rm -rf "$old"
done
[ -z "$problems" ] || printf '%s%s\n' "$5" "$problems"
true
`

// fallbackIncomplete starts the line fallbackScript prints when some
// release's files could not be linked.
const fallbackIncomplete = "hoist: static files of earlier releases not all linked:"

// StaticFallbackCmd rebuilds the fallback tree (release.Layout.
// StaticFallback) from the releases on the host now. Run it on each web
// host after the new release is built and before the switch, so the
// release live until then is in the tree when current moves, and again
// after releases are pruned or removed, so a name survivors still hold
// points at a survivor. Pass its output to FallbackProblem.
func StaticFallbackCmd(l release.Layout) string {
	return remote.Script(fallbackScript, l.StaticFallbackTrees(), l.StaticFallback(), l.Releases(), path.Base(l.Static("x")), fallbackIncomplete)
}

// FallbackProblem finds in the output of StaticFallbackCmd the releases it
// could not link. That leaves the site serving the live release as before,
// with fewer fallbacks: worth a warning, not a failed deploy.
func FallbackProblem(out string) error {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, fallbackIncomplete) {
			return errors.New(line)
		}
	}
	return nil
}
