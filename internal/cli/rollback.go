package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/release"
)

func newRollbackCmd(g *globalOptions) *cobra.Command {
	var batch int
	cmd := &cobra.Command{
		Use:   "rollback STAGE [RELEASE]",
		Short: "Switch every host back to the previous (or named) release",
		Long: `rollback switches every host of STAGE back to the previous good release, or
to RELEASE (an id from hoist releases). Nothing is rebuilt: the old release
is still on disk, so it starts, passes its health check and takes over in
seconds. A second rollback goes one release further back.`,
		Example: `  hoist rollback production
  hoist rollback production 20261121T220501Z-1a2b3c4`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 2 {
				target = args[1]
				if !release.ValidID(target) {
					return &UsageError{fmt.Errorf("%q is not a release id; hoist releases %s lists them", target, args[0])}
				}
			}
			return runRollback(cmd.Context(), g, args[0], target, batch)
		},
	}
	cmd.Flags().IntVar(&batch, "batch", 0, "switch N hosts at a time (default: all at once)")
	return cmd
}

func runRollback(ctx context.Context, g *globalOptions, stage, target string, batch int) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.Rollback(ctx, target, batch, commandLine())
}
