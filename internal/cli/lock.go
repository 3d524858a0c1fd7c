package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

type lockOptions struct{ Release bool }

func newLockCmd(g *globalOptions) *cobra.Command {
	opts := &lockOptions{}
	cmd := &cobra.Command{
		Use:   "lock STAGE",
		Short: "Show who holds a stage's deploy lock, or break it",
		Long: `Every deploy and rollback locks the stage on all its hosts; a second one is
refused with the holder's name. hoist releases the lock on success, failure
and Ctrl-C. If a run died without releasing it (its machine lost power, say),
break it with --release.`,
		Example: `  hoist lock production
  hoist lock production --release`,
		Args: stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLock(cmd.Context(), g, args[0], opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Release, "release", false, "remove the lock on every host, whoever holds it")
	return cmd
}

func runLock(ctx context.Context, g *globalOptions, stage string, opts *lockOptions) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	if opts.Release {
		if err := t.BreakLock(ctx); err != nil {
			return err
		}
		fmt.Fprintf(g.Out, "%s is unlocked on every host\n", stage)
		return nil
	}
	locks, err := t.ReadLocks(ctx)
	if err != nil {
		return err
	}
	for _, l := range locks {
		if l.Holder == nil {
			fmt.Fprintf(g.Out, "%s: free\n", l.Host)
		} else if l.Expired() {
			fmt.Fprintf(g.Out, "%s: held by a dead run: %s, last renewed %s ago; the next run takes it over\n", l.Host, l.Holder, l.Holder.Age.Round(time.Second))
		} else {
			fmt.Fprintf(g.Out, "%s: locked by %s, renewed %s ago\n", l.Host, l.Holder, l.Holder.Age.Round(time.Second))
		}
	}
	return nil
}
