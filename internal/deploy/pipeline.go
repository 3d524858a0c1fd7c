package deploy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// What hoist ship and diff need from a stage, beside Deploy.

// ResolveCommit is the full hash of the commit ref names in the app's
// repository, so every stage of a ship gets the very same commit.
func ResolveCommit(ctx context.Context, dir, ref string) (string, error) {
	if _, err := git(ctx, dir, "rev-parse", "--git-dir"); err != nil {
		return "", fmt.Errorf("%s is not in a git repository: hoist deploys commits, so run git init and commit first", dir)
	}
	commit, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%q is not a commit in this repository (try a branch, a tag or a commit hash)", ref)
	}
	return commit, nil
}

// Git runs git in dir and returns its output, trimmed.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	return git(ctx, dir, args...)
}

// RecordTest appends the result of a stage's functional tests of commit
// to the history of every host, as action "test": a later stage of the
// pipeline accepts the commit only once it is there with result ok.
func (t *Target) RecordTest(ctx context.Context, commit, releaseID string, start time.Time, testErr error) {
	e := Entry{Action: "test", Stage: t.Stage.Name, Who: whoAmI(), Commit: commit, Release: releaseID,
		Start: start.UTC(), Duration: time.Since(start).Seconds(), Result: "ok"}
	if testErr != nil {
		e.Result, e.FailedStep, e.Error = "failed", "test", testErr.Error()
	}
	t.record(ctx, e)
}

// LiveReleases reads what each host serves: its live release's record,
// nil on a host nothing was deployed to yet. Keys are host names.
func (t *Target) LiveReleases(ctx context.Context) (map[string]*release.Record, error) {
	var mu sync.Mutex
	live := map[string]*release.Record{}
	err := Each(ctx, t.Hosts, "inspect", func(ctx context.Context, h *remote.Host) error {
		inv, err := release.ReadInventory(ctx, h, t.Layout, t.Site(h).Unit())
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		live[h.Name] = inv.Find(inv.Live)
		return nil
	})
	return live, err
}
