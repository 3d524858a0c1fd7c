package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newHistoryCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "history STAGE",
		Short: "Show the deploys and rollbacks of a stage as one timeline",
		Long: `history merges what every host of STAGE recorded (.hoist/history.jsonl) into
one timeline, oldest first: when, what (deploy, rollback, migrate), who, the
commit and release, how long it took, the result, and the step that failed.
With --json, one event per line.`,
		Example: "  hoist history production\n  hoist history production --json | jq 'select(.result != \"ok\")'",
		Args:    stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistory(cmd.Context(), g, args[0])
		},
	}
}

func runHistory(ctx context.Context, g *globalOptions, stage string) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	events, err := t.History(ctx)
	if err != nil {
		return err
	}
	out := t.UI.Writer(g.Out)
	if g.JSON {
		enc := json.NewEncoder(out)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(events) == 0 {
		fmt.Fprintf(out, "nothing was deployed to %s yet\n", stage)
		return nil
	}
	w := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "WHEN (UTC)\tACTION\tRESULT\tRELEASE\tCOMMIT\tTOOK\tWHO\tHOSTS")
	for _, e := range events {
		result := e.Result
		if e.FailedStep != "" {
			result += " at " + e.FailedStep
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.7s\t%.1fs\t%s\t%d\n", e.Start.UTC().Format("2006-01-02 15:04:05"),
			e.Action, result, e.Release, e.Commit, e.Duration, e.Who, len(e.Hosts))
	}
	return w.Flush()
}
