package django

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// History is the migration history of the database as one release's code
// sees it. Migrations are named app.name.
type History struct {
	Release string `json:"-"`
	// Applied is every row of django_migrations, whatever code wrote it.
	Applied []string `json:"applied"`
	// Known is every migration on disk in the release.
	Known []string `json:"known"`
	// Apps are the apps that have migrations in the release.
	Apps []string `json:"apps"`
	// Leaves are each app's newest migrations: one, unless the app has
	// branches that were never merged.
	Leaves map[string][]string `json:"leaves"`
	// Unapplied are the release's migrations the database does not have.
	Unapplied []string `json:"unapplied"`
	// Inconsistent is Django's InconsistentMigrationHistory message (a
	// migration recorded as applied before one it depends on); "" when the
	// history is consistent.
	Inconsistent string `json:"inconsistent"`
	// Plan is what migrate would apply with this release's code, in
	// order; empty when Inconsistent.
	Plan []Migration `json:"plan"`
}

// historyDef reads the raw rows of django_migrations rather than the
// loader's view, which hides rows the code does not know: those rows are
// exactly what a rollback must not leave behind. In the same run (one
// Django start) it plans the migrations and flags the operations the code
// still serving cannot survive: during a deploy the old release keeps
// serving on the new schema until the switch.
const historyDef = `
from django.db import connections, DEFAULT_DB_ALIAS
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db import migrations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

` + unsafeDef + `
def hoist_history():
    conn = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(conn)
    loader = executor.loader
    recorder = MigrationRecorder(conn)
    rows = recorder.applied_migrations() if recorder.has_table() else {}
    inconsistent = ""
    try:
        loader.check_consistent_history(conn)
    except InconsistentMigrationHistory as e:
        inconsistent = str(e)
    # The plan lists what migrate would apply, with the operations the live
    # release cannot survive marked; none when the history is inconsistent
    # (the plan does not check it: with 0003 recorded and 0002 missing it
    # lists nothing to apply).
    plan = []
    if not inconsistent:
        for migration, backwards in executor.migration_plan(loader.graph.leaf_nodes()):
            ops = [{"describe": op.describe(), "unsafe": unsafe(op)} for op in migration.operations]
            plan.append({"app": migration.app_label, "name": migration.name, "operations": ops})
    leaves = {}
    for app, name in loader.graph.leaf_nodes():
        leaves.setdefault(app, []).append(name)
    name = lambda key: key[0] + "." + key[1]
    return {
        "applied": sorted(name(k) for k in rows),
        "known": sorted(name(k) for k in loader.disk_migrations),
        "apps": sorted(loader.migrated_apps),
        "leaves": leaves,
        "unapplied": sorted(name(k) for k in loader.graph.nodes if k not in loader.applied_migrations),
        "inconsistent": inconsistent,
        "plan": plan,
    }
`

// unsafeDef is unsafe(op): why the code still serving cannot survive a
// migration operation, or "". hoist diff marks with it what a deploy
// would refuse.
const unsafeDef = `
from django.db import migrations

def unsafe(op):
    if isinstance(op, migrations.RemoveField):
        return "drops column %s.%s: the live code still reads it" % (op.model_name, op.name)
    if isinstance(op, migrations.DeleteModel):
        return "drops table %s: the live code still uses it" % op.name
    if isinstance(op, migrations.RenameField):
        return "renames column %s.%s to %s: the live code still uses the old name" % (op.model_name, op.old_name, op.new_name)
    if isinstance(op, migrations.RenameModel):
        return "renames table %s to %s: the live code still uses the old name" % (op.old_name, op.new_name)
    if isinstance(op, migrations.AddField):
        f = op.field
        db_default = getattr(f, "db_default", None)
        has_db_default = db_default is not None and type(db_default).__name__ != "NOT_PROVIDED"
        if not f.null and not has_db_default and (not f.has_default() or not op.preserve_default) and not f.many_to_many:
            return "adds NOT NULL column %s.%s without a default: the live code inserts rows without it" % (op.model_name, op.name)
    if isinstance(op, (migrations.RunPython, migrations.RunSQL)) and not op.reversible:
        return "is irreversible (%s without a reverse): a rollback could not undo it" % type(op).__name__
    return ""
`

const historyScript = "import json, django\ndjango.setup()\n" + historyDef + "print(json.dumps(hoist_history()))\n"

// ReadHistory reads the migration history with the code of release id.
func ReadHistory(ctx context.Context, t remote.Transport, l release.Layout, id, projectDir string) (History, error) {
	var h History
	if err := runJSON(ctx, t, l, id, projectDir, historyScript, &h); err != nil {
		return History{}, fmt.Errorf("read the migration history with %s's code: %w", id, err)
	}
	h.Release = id
	return h, nil
}

// Knows tells whether the release has migration m (app.name).
func (h History) Knows(m string) bool { return slices.Contains(h.Known, m) }

// HasApp tells whether the release has migrations for app.
func (h History) HasApp(app string) bool { return slices.Contains(h.Apps, app) }

// Unknown returns the applied migrations that none of releases has. Rows of
// an app none of them has migrations for are left out: Django ignores them,
// and an app removed from INSTALLED_APPS leaves its rows behind for good.
func Unknown(applied []string, releases ...History) []string {
	var out []string
	for _, m := range applied {
		app := appOf(m)
		has, knows := false, false
		for _, r := range releases {
			has = has || r.HasApp(app)
			knows = knows || r.Knows(m)
		}
		if has && !knows {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// inconsistentAdvice is what to do when Django finds a migration recorded
// before one it depends on: migrate would skip the missing one, so no
// release's code matches the schema until a person looks.
const inconsistentAdvice = "migrate would skip the missing migration and the pages that need it would fail: " +
	"find out which tables and columns really exist (hoist manage STAGE showmigrations, hoist manage STAGE dbshell), " +
	"then record the truth with hoist manage STAGE migrate --fake APP MIGRATION, and deploy again"

// CheckSwitch refuses a switch of code from the releases from (the live
// one; none on a first deploy) to to when the database records migrations
// none of them has, or when Django finds the history inconsistent: either
// way the schema is not what any code being switched expects.
func CheckSwitch(to History, from ...History) error {
	if to.Inconsistent != "" {
		return fmt.Errorf("the migration history is inconsistent: %s\n%s", to.Inconsistent, inconsistentAdvice)
	}
	unknown := Unknown(to.Applied, append([]History{to}, from...)...)
	if len(unknown) == 0 {
		return nil
	}
	ids := []string{to.Release}
	for _, f := range from {
		ids = append(ids, f.Release)
	}
	return fmt.Errorf("the database records migrations that no release being switched (%s) has: %s\n"+
		"they came from a release that was rolled back from without --migrate, or were applied by hand; "+
		"deploy code that has them, or roll back to the release that has them and then roll back with --migrate from there; "+
		"if the schema no longer has their changes, delete their rows from django_migrations (hoist manage STAGE dbshell)",
		strings.Join(ids, ", "), strings.Join(unknown, ", "))
}

// Lacking returns the applied migrations that to lacks, of the apps either
// release has: what a rollback from from to to would leave on the schema,
// or unapply with --migrate.
func Lacking(from, to History) []string {
	apps := union(from.Apps, to.Apps)
	var out []string
	for _, m := range from.Applied {
		if slices.Contains(apps, appOf(m)) && !to.Knows(m) {
			out = append(out, m)
		}
	}
	return out
}

// RollbackPlan is how a rollback with --migrate takes the schema back.
type RollbackPlan struct {
	From, To string // the live release, whose code unapplies, and the target
	// Unapply are the applied migrations the target lacks.
	Unapply []string
	// Targets are the `migrate APP MIGRATION` calls, run with From's code:
	// for each app, the newest migration the target has, or "zero".
	Targets map[string]string
	// Keep are the applied migrations the target has; the unapply must
	// leave every one of them applied.
	Keep []string
	// Apps are the apps either release has: what the verify step looks at.
	Apps []string
}

// PlanRollback works out what a rollback with --migrate from the live
// release to an earlier one must unapply, from both releases' view of the
// history. It refuses what the live code cannot undo: migrations neither
// release has (they came from a newer release rolled back from without
// --migrate), and a history Django finds inconsistent.
func PlanRollback(from, to History) (RollbackPlan, error) {
	p := RollbackPlan{From: from.Release, To: to.Release, Targets: map[string]string{}}
	for _, h := range []History{from, to} {
		if h.Inconsistent != "" {
			return p, fmt.Errorf("cannot roll back with --migrate: %s's code finds the migration history inconsistent: %s\nnothing was changed; %s",
				h.Release, h.Inconsistent, inconsistentAdvice)
		}
	}
	if unknown := Unknown(from.Applied, from, to); len(unknown) > 0 {
		return p, fmt.Errorf("cannot roll back with --migrate: the database records migrations that neither %s (live) nor %s has: %s\n"+
			"they came from a newer release that was rolled back from without --migrate, and only its code can undo them; "+
			"nothing was changed: roll back to that release first (hoist rollback STAGE RELEASE) and then roll back with --migrate from there, "+
			"or roll back without --migrate to keep the newer schema",
			from.Release, to.Release, strings.Join(unknown, ", "))
	}
	p.Apps = union(from.Apps, to.Apps)
	p.Unapply = Lacking(from, to)
	for _, m := range from.Applied {
		if slices.Contains(p.Apps, appOf(m)) && to.Knows(m) {
			p.Keep = append(p.Keep, m)
		}
	}
	for _, m := range p.Unapply {
		app := appOf(m)
		if _, done := p.Targets[app]; done {
			continue
		}
		switch leaves := to.Leaves[app]; len(leaves) {
		case 0:
			p.Targets[app] = "zero"
		case 1:
			if !from.Knows(app + "." + leaves[0]) {
				return p, fmt.Errorf("cannot roll back with --migrate: %s's newest %s migration %s is not in %s's code: the two releases' histories diverged\n"+
					"nothing was changed; take the schema back by hand (hoist manage STAGE migrate %s ...), or roll back without --migrate",
					to.Release, app, leaves[0], from.Release, app)
			}
			p.Targets[app] = leaves[0]
		default:
			return p, fmt.Errorf("cannot roll back with --migrate: %s has conflicting %s migrations (%s) that no merge migration joins\nnothing was changed; roll back without --migrate",
				to.Release, app, strings.Join(leaves, ", "))
		}
	}
	return p, nil
}

// Calls lists the migrate commands of the plan, in the order they run.
func (p RollbackPlan) Calls() [][]string {
	var calls [][]string
	for _, app := range sortedKeys(p.Targets) {
		calls = append(calls, []string{"migrate", "--noinput", app, p.Targets[app]})
	}
	return calls
}

// VerifyRollback checks the history after the unapply, read with the
// target's code: consistent, nothing applied that the target lacks, and
// nothing the target had applied lost on the way.
func VerifyRollback(after History, p RollbackPlan) error {
	var left, lost []string
	for _, m := range after.Applied {
		if slices.Contains(p.Apps, appOf(m)) && !after.Knows(m) {
			left = append(left, m)
		}
	}
	for _, m := range p.Keep {
		if !slices.Contains(after.Applied, m) {
			lost = append(lost, m)
		}
	}
	var problems []string
	if len(left) > 0 {
		problems = append(problems, fmt.Sprintf("still recorded as applied, though %s lacks them: %s", p.To, strings.Join(left, ", ")))
	}
	if len(lost) > 0 {
		problems = append(problems, fmt.Sprintf("unapplied, though %s needs them: %s", p.To, strings.Join(lost, ", ")))
	}
	if after.Inconsistent != "" {
		problems = append(problems, "inconsistent: "+after.Inconsistent)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("after unapplying, the migration history is not %s's: %s\n"+
		"the schema is left as it is and %s's code runs on it; check it with hoist manage STAGE showmigrations, and finish by hand with %s's code",
		p.To, strings.Join(problems, "; "), p.To, p.From)
}

// UnapplyRollback runs the plan's migrate calls with the live release's
// code (the only code that knows how to undo its migrations), then reads
// the history with the target's code and verifies it. It returns Django's
// output.
func UnapplyRollback(ctx context.Context, t remote.Transport, l release.Layout, projectDir string, p RollbackPlan) (string, error) {
	var all strings.Builder
	for _, call := range p.Calls() {
		out, err := remote.Output(ctx, t, release.Manage(l, p.From, projectDir, call...))
		all.WriteString(out)
		if err != nil {
			return all.String(), fmt.Errorf("migrate %s back to %s with %s's code: %w", call[2], call[3], p.From, err)
		}
	}
	after, err := ReadHistory(ctx, t, l, p.To, projectDir)
	if err != nil {
		return all.String(), fmt.Errorf("verify the unapply: %w", err)
	}
	return all.String(), VerifyRollback(after, p)
}

// HistoryProblem is what is wrong with the history for the live release.
type HistoryProblem struct {
	Release      string
	Inconsistent string   // Django's InconsistentMigrationHistory message
	Unknown      []string // applied, but not in the release's code
	Unapplied    []string // in the release's code, not applied
}

func (p *HistoryProblem) Error() string {
	var parts []string
	if p.Inconsistent != "" {
		parts = append(parts, "inconsistent: "+p.Inconsistent)
	}
	if len(p.Unknown) > 0 {
		parts = append(parts, fmt.Sprintf("applied but not in %s's code: %s (roll back to the release that has them with --migrate, or deploy code that has them)", p.Release, strings.Join(p.Unknown, ", ")))
	}
	if len(p.Unapplied) > 0 {
		parts = append(parts, fmt.Sprintf("not applied: %s (deploy again with --migrate=auto, or hoist manage STAGE migrate)", strings.Join(p.Unapplied, ", ")))
	}
	return "migration history of " + p.Release + ": " + strings.Join(parts, "; ")
}

// Problem reports, for status, how the history differs from what the
// release's code expects; nil when it matches. errors.As gives the
// *HistoryProblem, for a caller that treats the parts differently (a
// deploy with --migrate=skip leaves migrations unapplied on purpose).
func (h History) Problem() error {
	p := &HistoryProblem{Release: h.Release, Inconsistent: h.Inconsistent, Unknown: Unknown(h.Applied, h), Unapplied: h.Unapplied}
	if p.Inconsistent == "" && len(p.Unknown) == 0 && len(p.Unapplied) == 0 {
		return nil
	}
	return p
}

func appOf(m string) string {
	app, _, _ := strings.Cut(m, ".")
	return app
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
