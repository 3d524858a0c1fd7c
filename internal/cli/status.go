package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
)

func newStatusCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status STAGE",
		Short: "Show what runs on each host, and whether anything is wrong",
		Long: `status shows, per host: the live release, its commit and age, who deployed
it, whether its service is active and answering its health check, migrations
the database lacks, and drift: files of the live release changed on the
server since they were shipped (hand edits on production), by name.

It exits 6 when anything is wrong (hosts disagree, a service is down or not
answering, unapplied migrations, drift), so it can run from cron.`,
		Example: "  hoist status production",
		Args:    stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), g, args[0])
		},
	}
}

// unhealthyError is a stage hoist status found something wrong with.
type unhealthyError struct{ problems int }

func (e *unhealthyError) Error() string {
	return fmt.Sprintf("%d problem(s) found", e.problems)
}

func runStatus(ctx context.Context, g *globalOptions, stage string) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	statuses := t.Status(ctx)
	problems := 0
	releases := map[string]bool{}
	for _, s := range statuses {
		if !s.OK() {
			problems++
		}
		if s.Live != nil {
			releases[s.Live.ID] = true
		}
	}
	if len(releases) > 1 {
		problems++
	}
	if g.JSON {
		type jsonStatus struct {
			Host      string                `json:"host"`
			Release   string                `json:"release,omitempty"`
			Commit    string                `json:"commit,omitempty"`
			By        string                `json:"deployed_by,omitempty"`
			Service   string                `json:"service,omitempty"`
			Standby   string                `json:"standby,omitempty"`
			Answer    string                `json:"answer_error,omitempty"`
			Unapplied []string              `json:"unapplied_migrations,omitempty"`
			Drift     []string              `json:"drift,omitempty"`
			Problems  []string              `json:"problems,omitempty"`
			Processes []deploy.ProcessState `json:"processes,omitempty"`
			Error     string                `json:"error,omitempty"`
			OK        bool                  `json:"ok"`
		}
		// One object per host, one per line, like every --json output.
		enc := json.NewEncoder(g.Out)
		for _, s := range statuses {
			j := jsonStatus{Host: s.Host, Service: s.Service, Standby: s.Standby, Unapplied: s.Unapplied, Drift: s.Drift, Problems: s.Problems, Processes: s.Processes, OK: s.OK()}
			if s.Live != nil {
				j.Release, j.Commit, j.By = s.Live.ID, s.Live.Commit, s.Live.DeployedBy
			}
			if s.Answer != nil {
				j.Answer = s.Answer.Error()
			}
			if s.Err != nil {
				j.Error = s.Err.Error()
			}
			enc.Encode(j)
		}
	} else {
		for _, s := range statuses {
			mark := "ok"
			if !s.OK() {
				mark = "PROBLEM"
			}
			fmt.Fprintf(g.Out, "%s: %s\n", s.Host, mark)
			if s.Live == nil {
				fmt.Fprintln(g.Out, "  nothing deployed")
			} else {
				fmt.Fprintf(g.Out, "  release   %s (commit %.7s, %s ago, by %s)\n", s.Live.ID, s.Live.Commit, age(s.Live.Created), s.Live.DeployedBy)
			}
			if s.Service != "" {
				answer := "answering"
				if s.Answer != nil {
					answer = "NOT answering: " + firstLine(s.Answer.Error())
				}
				if s.Service != "active" {
					answer = "DOWN"
				}
				fmt.Fprintf(g.Out, "  service   %s, %s\n", s.Service, answer)
			}
			if s.Standby != "" {
				fmt.Fprintf(g.Out, "  standby   %s runs idle: hoist rollback switches back to it\n", s.Standby)
			}
			for _, p := range s.Processes {
				mark := p.State
				if p.State != "active" {
					mark = strings.ToUpper(p.State)
				}
				fmt.Fprintf(g.Out, "  process   %s: %s\n", p.Name, mark)
			}
			if len(s.Unapplied) > 0 {
				fmt.Fprintf(g.Out, "  migrations not applied: %s\n", strings.Join(s.Unapplied, ", "))
			}
			if len(s.Drift) > 0 {
				fmt.Fprintf(g.Out, "  DRIFT: changed on the server since shipped: %s\n", strings.Join(s.Drift, ", "))
			}
			for _, p := range s.Problems {
				fmt.Fprintf(g.Out, "  PROBLEM: %s\n", p)
			}
			if s.Err != nil {
				fmt.Fprintf(g.Out, "  error: %v\n", s.Err)
			}
		}
		if len(releases) > 1 {
			fmt.Fprintln(g.Out, "hosts serve different releases: deploy again to bring them together")
		}
	}
	if problems > 0 {
		return &unhealthyError{problems: problems}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
