// Package release knows the server layout of an app and the life of one
// release on one host: ids, states, build, switch and prune.
package release

import (
	"fmt"
	"path"
	"regexp"
	"time"
)

// Layout is where things live under deploy_to on every host.
type Layout struct{ Root string }

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
func (l Layout) History() string          { return path.Join(l.Root, ".hoist", "history.jsonl") }
func (l Layout) SetupMarker() string      { return path.Join(l.Root, ".hoist", "setup.json") }
func (l Layout) Artifacts() string        { return path.Join(l.Root, ".hoist", "artifacts") }
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

// NewID names a release after when it was built and what it holds:
// 20261121T220501Z-1a2b3c4. Sorting ids sorts releases by age.
func NewID(now time.Time, commit string) string {
	short := commit
	if len(short) > 7 {
		short = short[:7]
	}
	return fmt.Sprintf("%s-%s", now.UTC().Format("20060102T150405Z"), short)
}

var idPattern = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{4,40}$`)

// ValidID tells whether s can be a release id (guards names typed by users).
func ValidID(s string) bool { return idPattern.MatchString(s) }
