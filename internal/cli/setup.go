package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newSetupCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "setup STAGE",
		Short: "Prepare the hosts of a stage to receive releases",
		Long: `setup prepares every host of STAGE: the directory layout under deploy_to, the
systemd units that run each release's gunicorn (socket activated), and the
nginx site that serves static files and media and proxies the rest. nginx's
config is checked with nginx -t before it is reloaded.

It needs sudo without a password on each host (or a root login). Run it
again whenever hoist.yml changes how the app is served: a second run with
nothing new changes nothing.`,
		Example: "  hoist setup production",
		Args:    stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSetup(cmd.Context(), g, args[0])
		},
	}
}

func runSetup(ctx context.Context, g *globalOptions, stage string) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.Setup(ctx, commandLine()); err != nil {
		return err
	}
	t.UI.Result("%d host(s) of %s are ready: run hoist deploy %s", len(t.Hosts), stage, stage)
	return nil
}
