package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/release"
)

func newRollbackCmd(g *globalOptions) *cobra.Command {
	opts := deploy.RollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback STAGE [RELEASE]",
		Short: "Switch every host back to the previous (or named) release",
		Long: `rollback switches every host of STAGE back to the previous good release, or
to RELEASE (an id from hoist releases). Nothing is rebuilt: the old release
is still on disk, so it starts, passes its health check and takes over in
seconds. A second rollback goes one release further back.

If the database has migrations the target release lacks, rollback lists
them; with --migrate it unapplies them with the newer release's code after
the switch, and refuses up front when any is irreversible.`,
		Example: `  hoist rollback production
  hoist rollback production 20261121T220501Z-1a2b3c4`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				opts.Target = args[1]
				if !release.ValidID(opts.Target) {
					return &UsageError{fmt.Errorf("%q is not a release id; hoist releases %s lists them", opts.Target, args[0])}
				}
			}
			return runRollback(cmd.Context(), g, args[0], opts)
		},
	}
	cmd.Flags().IntVar(&opts.Batch, "batch", 0, "switch N hosts at a time (default: all at once)")
	cmd.Flags().BoolVar(&opts.Migrate, "migrate", false, "also unapply the migrations the target release does not have, using the newer release's code (refused when they are irreversible)")
	return cmd
}

func runRollback(ctx context.Context, g *globalOptions, stage string, opts deploy.RollbackOptions) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	defer g.writeTimings(t)
	t.UI.Hosts(hostNames(t)...)
	opts.Command = commandLine()
	return t.Rollback(ctx, opts)
}
