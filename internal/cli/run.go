package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

func newRunCmd(g *globalOptions) *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "run STAGE [--host HOST] -- COMMAND...",
		Short: "Run a command in the live release, with its environment and virtualenv",
		Long: `run runs COMMAND on the primary host (or HOST) inside the live release: in its
directory, with its virtualenv first on PATH and the environment the app
runs with. With a terminal it is interactive, so shells work. The exit code
is the command's.`,
		Example: `  hoist run production -- python manage.py shell
  hoist run production --host web2 -- ls -la`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), g, args[0], host, args[1:])
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the host to run on, as written in hoist.yml (default: the primary)")
	return cmd
}

func newManageCmd(g *globalOptions) *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "manage STAGE [--host HOST] ARGS...",
		Short: "Run manage.py in the live release (shorthand for run -- python manage.py)",
		Example: `  hoist manage production createsuperuser
  hoist manage production showmigrations`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), g, args[0], host, append([]string{"python", "manage.py"}, args[1:]...))
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the host to run on, as written in hoist.yml (default: the primary)")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// remoteExit is a command that ran on the host and exited non-zero: hoist
// exits with the same code.
type remoteExit struct{ code int }

func (e *remoteExit) Error() string { return fmt.Sprintf("the command exited with status %d", e.code) }

func runRun(ctx context.Context, g *globalOptions, stage, hostName string, argv []string) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	h, err := pickHost(t, hostName)
	if err != nil {
		return err
	}
	inv, err := release.ReadInventory(ctx, h, t.Layout, "")
	if err != nil {
		return err
	}
	if inv.Live == "" {
		return fmt.Errorf("nothing is deployed on %s yet", h.Name)
	}
	cmd := release.Command(t.Layout, inv.Live, t.Config.ProjectDir, argv...)
	if term.IsTerminal(int(os.Stdin.Fd())) {
		err = h.Interactive(ctx, cmd, true)
	} else {
		err = h.Run(ctx, cmd, os.Stdin, os.Stdout, os.Stderr)
	}
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Status > 0 {
		return &remoteExit{code: ee.Status}
	}
	return err
}

// pickHost finds a host of the target by its hoist.yml name; "" is the primary.
func pickHost(t *deploy.Target, name string) (*remote.Host, error) {
	if name == "" {
		return t.Primary, nil
	}
	for _, h := range t.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return nil, &UsageError{fmt.Errorf("%s has no host %q (its hosts: %s)", t.Stage.Name, name, hostsList(t))}
}
