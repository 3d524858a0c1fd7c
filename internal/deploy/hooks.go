package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// runHooks runs the hoist.yml hooks of one moment (before_deploy, ...) on
// the deploying machine, in the project's directory, one after another,
// with the deploy described in HOIST_* variables. Their output is shown
// (redacted) under the step "hook"; the first that fails stops the rest.
func (d *deployRun) runHooks(ctx context.Context, when string, cmds []string, extra ...string) error {
	t := d.t
	var hosts []string
	for _, h := range t.Hosts {
		hosts = append(hosts, h.Name)
	}
	env := append(os.Environ(),
		"HOIST_STAGE="+t.Stage.Name, "HOIST_RELEASE="+d.id, "HOIST_COMMIT="+d.art.Commit,
		"HOIST_HOSTS="+strings.Join(hosts, " "))
	env = append(env, extra...)
	for _, c := range cmds {
		t.UI.Step("", "hook", "%s: %s", when, c)
		cmd := exec.CommandContext(ctx, "sh", "-c", c)
		cmd.Dir, cmd.Env = t.Config.Dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if s := strings.TrimSpace(out.String()); s != "" {
			t.UI.Step("", "hook", "%s", s)
		}
		if err != nil {
			return fmt.Errorf("the %s hook %q failed: %v", when, c, err)
		}
	}
	return nil
}
