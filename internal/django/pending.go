package django

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

const pendingMarker = "HOIST-PENDING:"

// pendingScript loads the migrations on disk of the code in the current
// directory, without a database, and lists in plan order those of the
// project (not of installed packages) that are not in argv[1] (a JSON list
// of applied app.name), with their operations.
const pendingScript = `
import json, os, sys, django
django.setup()
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
` + unsafeDef + `
applied = set(json.loads(sys.argv[1]))
here = os.path.realpath(os.getcwd()) + os.sep
loader = MigrationLoader(None, ignore_no_migrations=True)
def ours(key):
    module = sys.modules.get(loader.disk_migrations[key].__module__)
    path = os.path.realpath(getattr(module, "__file__", "") or "")
    return path.startswith(here)
seen, out = set(), []
for leaf in sorted(loader.graph.leaf_nodes()):
    for key in loader.graph.forwards_plan(leaf):
        name = key[0] + "." + key[1]
        if key in seen or name in applied or key not in loader.disk_migrations or not ours(key):
            continue
        seen.add(key)
        m = loader.disk_migrations[key]
        ops = [{"describe": op.describe(), "unsafe": unsafe(op)} for op in m.operations]
        out.append({"app": key[0], "name": key[1], "operations": ops})
print("` + pendingMarker + `" + json.dumps(out))
`

// Pending lists the migrations of the code run works in that the database
// lacks (applied lists what it has, as app.name), in the order migrate
// would apply them, with the unsafe operations marked as a deploy marks
// them. It needs Django where run runs, but no database.
func Pending(ctx context.Context, run Runner, applied []string) ([]Migration, error) {
	if applied == nil {
		applied = []string{}
	}
	list, _ := json.Marshal(applied)
	out, err := run(ctx, "python", "-c", pendingScript, string(list))
	if err != nil {
		return nil, fmt.Errorf("list the migrations: %s", errText(out, err))
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if js, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), pendingMarker); ok {
			var ms []Migration
			if err := json.Unmarshal([]byte(js), &ms); err != nil {
				return nil, fmt.Errorf("list the migrations: unexpected output %q", js)
			}
			return ms, nil
		}
	}
	return nil, fmt.Errorf("list the migrations: unexpected output %q", out)
}
