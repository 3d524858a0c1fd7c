package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

func newReleasesCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "releases STAGE",
		Short:   "List the releases on each host of a stage",
		Long:    `releases lists, per host, every release kept on disk: its id, commit, image (strategy container), age, who deployed it, its state, and which one is live (marked *).`,
		Example: "  hoist releases production",
		Args:    stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReleases(cmd.Context(), g, args[0])
		},
	}
}

func runReleases(ctx context.Context, g *globalOptions, stage string) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	invs := make([]release.Inventory, len(t.Hosts))
	var mu sync.Mutex
	err = deploy.Each(ctx, t.Hosts, "releases", func(ctx context.Context, h *remote.Host) error {
		inv, err := release.ReadInventory(ctx, h, t.Layout, "")
		mu.Lock()
		defer mu.Unlock()
		for i, x := range t.Hosts {
			if x == h {
				invs[i] = inv
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if g.JSON {
		out := map[string]release.Inventory{}
		for i, h := range t.Hosts {
			out[h.Name] = invs[i]
		}
		return json.NewEncoder(g.Out).Encode(out)
	}
	for i, h := range t.Hosts {
		fmt.Fprintf(g.Out, "%s:\n", h.Name)
		if len(invs[i].Records) == 0 {
			fmt.Fprintln(g.Out, "  no releases yet")
			continue
		}
		w := tabwriter.NewWriter(g.Out, 2, 8, 2, ' ', 0)
		image := ""
		if t.Layout.Container {
			image = "\tIMAGE"
		}
		fmt.Fprintln(w, "  \tRELEASE\tCOMMIT"+image+"\tAGE\tDEPLOYED BY\tSTATE")
		for j := len(invs[i].Records) - 1; j >= 0; j-- {
			r := invs[i].Records[j]
			mark := ""
			if r.ID == invs[i].Live {
				mark = "*"
			}
			state := string(r.State)
			if r.RolledBack {
				state += " (rolled back)"
			}
			image := ""
			if t.Layout.Container {
				// Records of strategy container name the image as their artifact.
				image = "\t" + release.ShortImageID(r.Artifact)
			}
			fmt.Fprintf(w, "  %s\t%s\t%.7s%s\t%s\t%s\t%s\n", mark, r.ID, r.Commit, image, age(r.Created), r.DeployedBy, state)
		}
		w.Flush()
	}
	return nil
}

func age(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
