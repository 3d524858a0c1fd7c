package serve

import (
	"context"
	"fmt"
	"sort"
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
// never a half-built one. Releases come oldest first and cp -f replaces
// an earlier link: a name several releases have points at the newest,
// the one pruned last. A release that cannot be linked (a name that is a
// file in one release and a directory in another) leaves the rest linked;
// the script still fails so the caller can say so. Arguments: the trees
// directory, the served link, then each release's static dir.
const fallbackScript = `
umask 022
trees=$1 served=$2; shift 2
mkdir -p "$trees" || exit 1
new=$(mktemp -d "$trees/tree.XXXXXX") || exit 1
chmod 755 "$new" || exit 1
status=0
for s in "$@"; do
	[ -d "$s/" ] || continue
	cp -R -s -f "$s/." "$new/" || status=1
done
ln -sfn "${new##*/}" "$served.hoist-tmp" && mv -Tf "$served.hoist-tmp" "$served" || exit 1
for old in "$trees"/tree.*; do
	[ "$old" = "$new" ] || rm -rf "$old"
done
exit $status
`

// listReleasesScript prints the entries of releases/, nothing when it is
// missing (a host set up but never deployed).
const listReleasesScript = `[ ! -d "$1" ] || ls -1A "$1"`

// LinkStaticFallback rebuilds the fallback tree (release.Layout.
// StaticFallback) from the releases on the host now. Call it on each web
// host after the new release is built and before the switch, so the
// release live until then is in the tree when current moves, and again
// after releases are pruned or removed, so a name survivors still hold
// points at a survivor. An error leaves the site serving the live release
// as before, with fewer fallbacks: worth a warning, not a failed deploy.
func LinkStaticFallback(ctx context.Context, t remote.Transport, l release.Layout) error {
	out, err := remote.Output(ctx, t, remote.Script(listReleasesScript, l.Releases()))
	if err != nil {
		return fmt.Errorf("list releases for the static fallback: %w", err)
	}
	var ids []string
	for _, name := range strings.Split(out, "\n") {
		if release.ValidID(name) {
			ids = append(ids, name)
		}
	}
	// Ids start with the build time, so they sort oldest first.
	sort.Strings(ids)
	args := []string{l.StaticFallbackTrees(), l.StaticFallback()}
	for _, id := range ids {
		args = append(args, l.Static(id))
	}
	if _, err := remote.Output(ctx, t, remote.Script(fallbackScript, args...)); err != nil {
		return fmt.Errorf("link earlier releases' static files in %s: %w", l.StaticFallbackTrees(), err)
	}
	return nil
}
