// Package release knows the server layout of an app and the life of one
// release on one host: ids, states, build, switch and prune.
package release

import (
	"fmt"
	"path"
	"regexp"
	"time"
)

// Layout is where things live under deploy_to on every host. It is the one
// place that spells out a server path: scripts, units and sites take their
// paths from here.
type Layout struct {
	Root string
	// Container: each release runs as containers (strategy container),
	// through its ContainerScript, instead of from its virtualenv.
	Container bool
}

func (l Layout) Releases() string         { return path.Join(l.Root, "releases") }
func (l Layout) Release(id string) string { return path.Join(l.Root, "releases", id) }
func (l Layout) Venvs() string            { return path.Join(l.Root, "venvs") }
func (l Layout) Shared() string           { return path.Join(l.Root, "shared") }
func (l Layout) Current() string          { return path.Join(l.Root, "current") }
func (l Layout) Run() string              { return path.Join(l.Root, "run") }
func (l Layout) Socket(id string) string  { return path.Join(l.Root, "run", id+".sock") }
func (l Layout) LiveSocket() string       { return path.Join(l.Root, "run", "live.sock") }
func (l Layout) State() string            { return path.Join(l.Root, ".hoist") }
func (l Layout) Lock() string             { return path.Join(l.Root, ".hoist", "lock") }

// LockGuard is flock(1)'s file: taking, renewing and releasing the lock
// each run under it, so two runs never both take over an expired lock.
func (l Layout) LockGuard() string { return path.Join(l.Root, ".hoist", "lock.guard") }
func (l Layout) History() string   { return path.Join(l.Root, ".hoist", "history.jsonl") }

// LockGroups lists, in the lock, the process groups of the long commands
// (builds, Django, migrations) the run holding the lock started (Tracked).
func (l Layout) LockGroups() string  { return path.Join(l.Lock(), "groups") }
func (l Layout) SetupMarker() string { return path.Join(l.Root, ".hoist", "setup.json") }
func (l Layout) Artifacts() string   { return path.Join(l.Root, ".hoist", "artifacts") }
func (l Layout) Artifact(sum string) string {
	return path.Join(l.Root, ".hoist", "artifacts", sum+".tar.gz")
}
func (l Layout) StateDir() string { return path.Join(l.Root, ".hoist", "releases") }
func (l Layout) StateFile(id string) string {
	return path.Join(l.Root, ".hoist", "releases", id+".json")
}

// EnvFile holds one release's environment, secrets included (mode 0600).
// Each release keeps its own, so a rollback runs with the settings that
// release was deployed with and a failed deploy changes nothing live.
func (l Layout) EnvFile(id string) string { return path.Join(l.Root, ".hoist", "env", id+".env") }
func (l Layout) EnvDir() string           { return path.Join(l.Root, ".hoist", "env") }

// SharedEnv is an optional env file the operator keeps by hand on the host;
// the per-release file wins over it.
func (l Layout) SharedEnv() string { return path.Join(l.Root, "shared", ".env") }

// Venv is the virtualenv link inside a release.
func (l Layout) Venv(id string) string { return path.Join(l.Release(id), ".venv") }

// Static and Media are where the web server finds a release's collected
// static files and uploads: links inside the release to STATIC_ROOT and
// MEDIA_ROOT.
func (l Layout) Static(id string) string { return path.Join(l.Release(id), ".hoist-static") }
func (l Layout) Media(id string) string  { return path.Join(l.Release(id), ".hoist-media") }

// ContainerScript runs the containers of a release of strategy container:
// its systemd units and every command run in the release call it.
func (l Layout) ContainerScript(id string) string {
	return path.Join(l.Release(id), ".hoist-container")
}

// SettingsFile holds the Django settings hoist acts on, saved when the
// release was built.
func (l Layout) SettingsFile(id string) string {
	return path.Join(l.Release(id), ".hoist-settings.json")
}

// LiveStatic and LiveMedia are the same through current: what the web
// server serves.
func (l Layout) LiveStatic() string { return path.Join(l.Current(), ".hoist-static") }
func (l Layout) LiveMedia() string  { return path.Join(l.Current(), ".hoist-media") }

// StaticFallback is where the web server looks for a static file the live
// release lacks: a link to a tree of links to the static files of every
// release that has been live on the host (serve.KeepStaticCmd links it). Pages an
// earlier release rendered keep their hashed CSS and JS that way, until
// that release is pruned and its links lead nowhere.
func (l Layout) StaticFallback() string { return path.Join(l.Root, "static-fallback", "served") }

// StaticFallbackTrees holds the trees StaticFallback points to, each with
// the list of releases linked into it; a tree is built whole beside the
// one served, then the link is swapped, or grows in place by each release
// that goes live.
func (l Layout) StaticFallbackTrees() string { return path.Join(l.Root, "static-fallback") }

// NewID names a release after when it was built and what it holds:
// 20261121T220501Z-1a2b3c4.
func NewID(now time.Time, commit string) string {
	short := commit
	if len(short) > 7 {
		short = short[:7]
	}
	return fmt.Sprintf("%s-%s", now.UTC().Format("20060102T150405Z"), short)
}

var idPattern = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{4,40}$`)

// ValidID tells whether s can be a release id. Every script that deletes
// or switches checks ids the same way, so a damaged record can never name
// releases/ itself or a path outside it.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// IDCheck is the shell side of ValidID (a function valid_id), for scripts
// that take or list ids.
const IDCheck = `
valid_id() {
	case "$1" in
	[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) ;;
	*) return 1 ;;
	esac
	case "${1#*Z-}" in *[!0-9a-f]*) return 1 ;; esac
	return 0
}
`
