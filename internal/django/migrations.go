package django

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// Migration is one migration a release would apply.
type Migration struct {
	App        string `json:"app"`
	Name       string `json:"name"`
	Operations []struct {
		Describe string `json:"describe"`
		Unsafe   string `json:"unsafe"` // why the live code cannot survive it; "" when safe
	} `json:"operations"`
}

func (m Migration) String() string { return m.App + "." + m.Name }

// Plan lists the migrations the release would apply, in order. It fails
// when Django finds the history inconsistent, rather than list nothing.
func Plan(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string) ([]Migration, error) {
	h, err := ReadHistory(ctx, t, l, id, projectDir)
	if err != nil {
		return nil, fmt.Errorf("migration plan: %w", err)
	}
	if h.Inconsistent != "" {
		return nil, fmt.Errorf("migration plan: the migration history is inconsistent: %s\n%s", h.Inconsistent, inconsistentAdvice)
	}
	return h.Plan, nil
}

// ShowMigrations is Django's report of the schema state for apps.
func ShowMigrations(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string, apps ...string) string {
	out, err := remote.Output(ctx, t, release.Manage(l, id, projectDir, append([]string{"showmigrations"}, apps...)...))
	if err != nil {
		return "(showmigrations failed: " + err.Error() + ")"
	}
	return strings.TrimRight(out, "\n")
}

// irreversibleScript, run in the newer release, names the operations that
// cannot be undone on the way back to the targets given as app=name, and
// the applied migrations of those apps that this code does not have: it
// cannot undo them, and migrate would leave them recorded as applied.
const irreversibleScript = `
import json, sys, django
django.setup()
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connections["default"])
targets = [(a, None if n == "zero" else n) for a, n in (arg.split("=", 1) for arg in sys.argv[1:])]
bad = []
apps = set(a for a, n in targets)
for app, name in sorted(executor.loader.applied_migrations):
    if app in apps and (app, name) not in executor.loader.disk_migrations:
        bad.append("%s.%s: not in this release's code, which cannot undo it" % (app, name))
for migration, backwards in executor.migration_plan(targets):
    for op in migration.operations:
        if backwards and not op.reversible:
            bad.append("%s.%s: %s" % (migration.app_label, migration.name, op.describe()))
print(json.dumps(bad))
`

// Irreversible lists, using the newer release id, the operations that stop
// the schema going back to targets.
func Irreversible(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string, targets map[string]string) ([]string, error) {
	var args []string
	for _, app := range sortedKeys(targets) {
		args = append(args, app+"="+targets[app])
	}
	var bad []string
	if err := runJSON(ctx, t, l, id, projectDir, irreversibleScript, &bad, args...); err != nil {
		return nil, fmt.Errorf("check reversibility: %w", err)
	}
	return bad, nil
}

func runJSON(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir, script string, v any, args ...string) error {
	out, err := remote.Output(ctx, t, release.Command(l, id, projectDir, append([]string{"python", "-c", script}, args...)...))
	if err != nil {
		return err
	}
	return lastJSON(out, v)
}

// lastJSON decodes the last line of a script's output: what came before
// it is whatever the app printed while it loaded.
func lastJSON(out string, v any) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		return fmt.Errorf("unexpected output %q", out)
	}
	return nil
}
