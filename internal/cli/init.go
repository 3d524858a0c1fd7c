package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/config"
)

type initOptions struct{ Force bool }

func newInitCmd(g *globalOptions) *cobra.Command {
	opts := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented hoist.yml for the Django project here",
		Long: `init looks for manage.py, the settings module and a requirements file in the
current directory and writes a hoist.yml describing them, with every key
explained. Edit the hosts, then run hoist setup.`,
		Example: "  cd ~/code/mysite && hoist init",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInit(g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite an existing hoist.yml")
	return cmd
}

func runInit(g *globalOptions, opts *initOptions) error {
	dir := g.Dir
	if dir == "" {
		dir = "."
	}
	path := filepath.Join(dir, config.FileName)
	if _, err := os.Stat(path); err == nil && !opts.Force {
		return &UsageError{fmt.Errorf("%s already exists; pass --force to overwrite it", path)}
	}
	p, err := config.Detect(dir)
	if err != nil {
		return &UsageError{err}
	}
	data := config.InitTemplate(p)
	if _, err := config.Parse(path, data); err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			return err
		}
		// The template is ours: if it does not parse, say so rather than
		// write a file the next command will reject.
		return fmt.Errorf("internal error: the generated hoist.yml is invalid:\n%w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.Out, "wrote %s for app %q (settings %s)\nnext: put your server in stages.production.hosts, then run: hoist setup production\n", path, p.App, p.Settings)
	return nil
}
