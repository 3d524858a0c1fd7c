package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/deploy"
)

type shipOptions struct {
	SkipChecks  bool
	AllowUnsafe bool
}

func newShipCmd(g *globalOptions) *cobra.Command {
	opts := &shipOptions{}
	cmd := &cobra.Command{
		Use:   "ship [REF]",
		Short: "Deploy one commit through every stage of the pipeline, testing each",
		Long: `ship resolves REF (default: the first stage's ref, else HEAD) to one commit
and deploys it to each stage of hoist.yml's pipeline in order, exactly as
hoist deploy does. After each stage it sets the stage's tags and runs the
stage's test command on this machine, in the project directory, with the
stage's address in TEST_SERVER and HOIST_URL. The result is recorded in the
stage's history.

A failing deploy or test stops the ship: the later stages are not touched
and keep serving their release. Every secret of every stage is read before
anything starts.`,
		Example: `  hoist ship             # HEAD through staging, then production
  hoist ship v1.4.0
  hoist ship --json      # in CI: one event per line`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) > 0 {
				ref = args[0]
			}
			return runShip(cmd.Context(), g, ref, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.SkipChecks, "skip-checks", false, "do not run Django's checks before each deploy (not recommended)")
	cmd.Flags().BoolVar(&opts.AllowUnsafe, "allow-unsafe-migrations", false, "apply migrations the live release cannot survive, on every stage")
	return cmd
}

func runShip(ctx context.Context, g *globalOptions, ref string, opts *shipOptions) error {
	start := time.Now()
	c, err := g.loadConfig()
	if err != nil {
		return err
	}
	if len(c.Pipeline) == 0 {
		return &UsageError{fmt.Errorf("%s has no pipeline: add one, like pipeline: [staging, production], to say which stages hoist ship deploys, in order", config.FileName)}
	}
	stages, secrets, err := g.pipelineStages(c)
	if err != nil {
		return err
	}
	if ref == "" {
		ref = stages[0].Ref
	}
	commit, err := deploy.ResolveCommit(ctx, c.Dir, ref)
	if err != nil {
		return err
	}
	u := g.ui()
	u.Info("shipping %s (commit %.7s) through %s", ref, commit, strings.Join(c.Pipeline, ", "))
	for i, s := range stages {
		u.Info("stage %d of %d: %s", i+1, len(stages), s.Name)
		err := g.deployStage(ctx, c, s, deploy.Options{
			Ref: commit, Command: commandLine(), Secrets: secrets[i],
			SkipChecks: opts.SkipChecks, Migrate: deploy.MigrateAuto, AllowUnsafe: opts.AllowUnsafe,
		}, u.Info)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, notShipped(c.Pipeline[i+1:]))
		}
	}
	u.Result("shipped %.7s through %s in %.1fs", commit, strings.Join(c.Pipeline, ", "), time.Since(start).Seconds())
	return nil
}

// pipelineStages are the stages of the pipeline with their secrets, all
// read up front: a secret missing for the last stage stops the ship
// before the first one changes.
func (g *globalOptions) pipelineStages(c *config.Config) ([]*config.Stage, []map[string]string, error) {
	var stages []*config.Stage
	var secrets []map[string]string
	for _, name := range c.Pipeline {
		s, err := c.Stage(name)
		if err != nil {
			return nil, nil, &UsageError{err}
		}
		sec, err := g.stageSecrets(c, s)
		if err != nil {
			return nil, nil, err
		}
		stages = append(stages, s)
		secrets = append(secrets, sec)
	}
	return stages, secrets, nil
}

// notShipped says which stages a stopped ship left alone.
func notShipped(rest []string) string {
	if len(rest) == 0 {
		return "ship stopped at the last stage of the pipeline"
	}
	if len(rest) == 1 {
		return fmt.Sprintf("ship stopped: %s was not deployed and keeps serving its release", rest[0])
	}
	return fmt.Sprintf("ship stopped: %s were not deployed and keep serving their releases", strings.Join(rest, ", "))
}
