// Package cli is hoist's command line: one file per command, each a cobra
// command in front of a runX function that holds the behaviour.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/pipeline"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/ui"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// globalOptions are the flags every command takes.
type globalOptions struct {
	Dir            string
	JSON           bool
	Timings        bool
	Identity       string
	ConnectTimeout time.Duration
	Out, Err       io.Writer

	u         *ui.UI // one per run, so every part of it hides the same secrets
	protected bool   // Out already hides them
}

// NewRoot builds the hoist command.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	g := &globalOptions{Out: out, Err: errOut}
	root := &cobra.Command{
		Use:   "hoist",
		Short: "Deploy Django apps to your own servers over SSH",
		Long: `hoist takes a Django project from git to one or many Linux servers over SSH:
an immutable release per deploy, migrations run once, a health check before
any user sees the new code, an atomic cut-over on every host, and a rollback
in seconds.

Start with "hoist init" in your project, then "hoist setup STAGE" once per
server, then "hoist deploy STAGE".`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	f := root.PersistentFlags()
	f.StringVarP(&g.Dir, "chdir", "C", "", "the project directory holding hoist.yml (default: the current directory or the nearest parent with a hoist.yml)")
	f.BoolVar(&g.JSON, "json", false, "print one JSON event per line, for CI")
	f.BoolVar(&g.Timings, "timings", false, "after a deploy or rollback, print how long each step took on each host")
	f.StringVarP(&g.Identity, "identity", "i", "", "SSH private key to try first")
	f.DurationVar(&g.ConnectTimeout, "connect-timeout", 0, "how long to wait for each host to answer (default: ConnectTimeout from ~/.ssh/config, else 10s)")

	root.AddCommand(
		newInitCmd(g),
		newSetupCmd(g),
		newDeployCmd(g),
		newShipCmd(g),
		newDiffCmd(g),
		newRollbackCmd(g),
		newReleasesCmd(g),
		newHistoryCmd(g),
		newLockCmd(g),
		newCheckCmd(g),
		newRunCmd(g),
		newManageCmd(g),
		newLogsCmd(g),
		newStatusCmd(g),
		newVersionCmd(g),
	)
	// Every mistake on the command line exits 2, whichever command made it.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		err = &UsageError{err}
		g.finish(err)
		return err
	})
	for _, cmd := range root.Commands() {
		g.redactErrors(cmd)
		if check := cmd.Args; check != nil {
			cmd.Args = func(cmd *cobra.Command, args []string) error {
				err := check(cmd, args)
				if err == nil {
					return nil
				}
				var usage *UsageError
				if !errors.As(err, &usage) {
					err = &UsageError{err}
				}
				g.finish(err)
				return err
			}
		}
	}
	return root
}

// redactErrors hides the stage's secrets in the error cmd returns, which main
// prints (the error keeps its type, so the exit code stays right), and
// ends the command's output (finish).
func (g *globalOptions) redactErrors(cmd *cobra.Command) {
	run := cmd.RunE
	if run == nil {
		return
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err != nil && g.u != nil {
			err = redacted(g.u.Redact, err)
		}
		g.finish(err)
		return err
	}
}

// finish ends the command's output: with --json the error becomes events
// too (CI reads stdout), the live view marks the hosts that failed and
// draws its final state. main still prints the error to stderr.
func (g *globalOptions) finish(err error) {
	if err != nil && (g.JSON || g.u != nil) {
		g.ui().Fail(err.Error(), hostErrors(err)...)
	}
	if g.u != nil {
		g.u.Close()
	}
}

// hostErrors finds the steps that failed on each host in err.
func hostErrors(err error) []ui.HostError {
	var found []ui.HostError
	var walk func(error)
	walk = func(err error) {
		if se, ok := err.(*deploy.StepError); ok && se.Err != nil {
			found = append(found, ui.HostError{Host: se.Host, Step: se.Step, Message: se.Err.Error()})
			return
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			if inner := e.Unwrap(); inner != nil {
				walk(inner)
			}
		}
	}
	walk(err)
	return found
}

// hostNames names the hosts of a target, for the live view's rows.
func hostNames(t *deploy.Target) []string {
	names := make([]string, len(t.Hosts))
	for i, h := range t.Hosts {
		names[i] = h.Name
	}
	return names
}

// loadConfig finds and validates hoist.yml.
func (g *globalOptions) loadConfig() (*config.Config, error) {
	dir := g.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		dir = wd
		for {
			if _, err := os.Stat(filepath.Join(dir, config.FileName)); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return nil, &UsageError{fmt.Errorf("no %s here or in any parent directory: run hoist init in your project first", config.FileName)}
			}
			dir = parent
		}
	}
	c, err := config.Load(dir)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			return nil, &UsageError{fmt.Errorf("%s has %d problem(s):\n%w", config.FileName, len(errs), err)}
		}
		return nil, &UsageError{err}
	}
	return c, nil
}

// loadStage loads hoist.yml and picks the stage.
func (g *globalOptions) loadStage(name string) (*config.Config, *config.Stage, error) {
	c, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	s, err := c.Stage(name)
	if err != nil {
		return nil, nil, &UsageError{err}
	}
	return c, s, nil
}

// loadStageSecrets is loadStage with every secret of the stage read and
// hidden from output, so a missing or too short one stops the command
// before anything happens. Commands that hand secrets to hosts use it.
func (g *globalOptions) loadStageSecrets(name string) (*config.Config, *config.Stage, map[string]string, error) {
	c, s, err := g.loadStage(name)
	if err != nil {
		return nil, nil, nil, err
	}
	secrets, err := g.stageSecrets(c, s)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, s, secrets, nil
}

// stageSecrets reads every secret of a stage and hides them from output.
func (g *globalOptions) stageSecrets(c *config.Config, s *config.Stage) (map[string]string, error) {
	secrets, err := config.ReadSecrets(c, s, os.Getenv)
	if err != nil {
		// Still hide what can be found: the error is printed.
		g.hideSecrets(config.AvailableSecrets(c, s, os.Getenv))
		return nil, &UsageError{err}
	}
	g.hideSecrets(secrets)
	return secrets, nil
}

// open loads hoist.yml and connects to every host of the stage, for the
// commands that only look or switch (status, logs, run, rollback...).
// Health answers, journals and command output can hold the app's secrets:
// the ones this machine has are hidden, and a missing one stops nothing.
func (g *globalOptions) open(ctx context.Context, stageName string) (*deploy.Target, error) {
	c, s, err := g.loadStage(stageName)
	if err != nil {
		return nil, err
	}
	g.hideSecrets(config.AvailableSecrets(c, s, os.Getenv))
	return g.connect(ctx, c, s)
}

// hideSecrets registers secret values once for the whole run: in the UI,
// for remote output cut short in errors, and in what commands print to Out
// directly.
func (g *globalOptions) hideSecrets(secrets map[string]string) {
	u := g.ui()
	for _, v := range secrets {
		u.AddSecrets(v)
	}
	remote.SetRedactor(u.Redact)
	if !g.protected {
		g.Out = u.Writer(g.Out)
		g.protected = true
	}
}

func (g *globalOptions) connect(ctx context.Context, c *config.Config, s *config.Stage) (*deploy.Target, error) {
	return deploy.Open(ctx, c, s, remote.DialOptions{Identity: g.Identity, ConnectTimeout: g.ConnectTimeout}, g.ui())
}

// ui is the run's one UI, made on first use: JSON events, plain lines,
// or on a terminal the live view for the commands that name their hosts.
func (g *globalOptions) ui() *ui.UI {
	if g.u == nil {
		g.u = ui.Auto(g.Out, g.JSON)
	}
	return g.u
}

// writeTimings prints the table of step timings when --timings asks for
// it (with --json they are events already).
func (g *globalOptions) writeTimings(t *deploy.Target) {
	if !g.Timings || g.JSON {
		return
	}
	t.UI.WriteTimings(g.Out)
	trips := t.RoundTrips()
	var parts []string
	for _, h := range t.Hosts {
		parts = append(parts, fmt.Sprintf("%s %d", h.Name, trips[h.Name]))
	}
	fmt.Fprintf(g.Out, "ssh commands per host: %s\n", strings.Join(parts, ", "))
}

// commandLine is what a lock says is running.
func commandLine() string { return "hoist " + strings.Join(os.Args[1:], " ") }

// UsageError is a mistake in the command line or in hoist.yml.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Exit codes, documented in the README.
const (
	ExitOK          = 0
	ExitFailed      = 1 // the command failed; what serves is said in the message
	ExitUsage       = 2 // bad command line or hoist.yml
	ExitUnreachable = 3 // a host could not be reached or its key verified; nothing changed
	ExitLocked      = 4 // someone else holds the stage's lock
	ExitChecks      = 5 // Django's checks failed; nothing was deployed
	ExitUnhealthy   = 6 // hoist status found something wrong
	ExitTests       = 7 // a stage's functional tests failed; its new release stays live, later stages were not deployed
	ExitNotPromoted = 8 // the commit has not passed an earlier stage of the pipeline; nothing was deployed
	ExitInterrupted = 130
)

// ExitCode maps an error to hoist's exit code.
func ExitCode(err error) int {
	var usage *UsageError
	var conn *deploy.ConnectError
	var locked *deploy.LockedError
	var checks *deploy.ChecksError
	var unhealthy *unhealthyError
	var rexit *remoteExit
	var tests *pipeline.TestError
	var promo *notPromotedError
	switch {
	case errors.As(err, &rexit):
		return rexit.code
	case err == nil:
		return ExitOK
	case errors.As(err, &usage), strings.HasPrefix(err.Error(), "unknown command"):
		return ExitUsage
	case errors.As(err, &locked):
		return ExitLocked
	case errors.As(err, &conn):
		return ExitUnreachable
	case errors.As(err, &checks):
		return ExitChecks
	case errors.As(err, &unhealthy):
		return ExitUnhealthy
	case errors.As(err, &tests):
		return ExitTests
	case errors.As(err, &promo):
		return ExitNotPromoted
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return ExitFailed
}

// stageArg is the positional STAGE every remote command takes.
func stageArg(cmd *cobra.Command, args []string) error {
	if len(args) < 1 {
		return &UsageError{fmt.Errorf("%s needs a stage name, e.g. hoist %s production", cmd.Name(), cmd.Name())}
	}
	return nil
}
