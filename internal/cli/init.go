package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
explained. It reads the settings (without running them) for the environment
variables they read, and proposes the secret-looking ones under secrets and
the others under env; it notices django-compressor, Celery and a missing
STATIC_ROOT. Edit the hosts and the values, then run hoist setup.`,
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
	fmt.Fprintf(g.Out, "wrote %s for app %q (settings %s)\n", path, p.App, p.Settings)
	printFindings(g, p)
	fmt.Fprintf(g.Out, "next: put your server in stages.production.hosts, then run: hoist setup production\n")
	return nil
}

// printFindings says what init took from the settings, so the user knows
// which lines of hoist.yml to check.
func printFindings(g *globalOptions, p config.Project) {
	f := p.Found
	if f == nil {
		fmt.Fprintf(g.Out, "could not read the settings module %s here: check secrets and env in %s\n", p.Settings, config.FileName)
		return
	}
	var secrets, required, optional []string
	for _, v := range f.Vars {
		switch {
		case v.Secret:
			secrets = append(secrets, v.Name)
		case v.Optional:
			optional = append(optional, v.Name)
		default:
			required = append(required, v.Name)
		}
	}
	fmt.Fprintf(g.Out, "read %s\n", strings.Join(f.Files, ", "))
	list := func(what string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(g.Out, "  %s: %s\n", what, strings.Join(names, ", "))
		}
	}
	list("secrets (set them in your environment to deploy)", secrets)
	list(fmt.Sprintf("env (replace %s with their values)", config.Placeholder), required)
	list("env with defaults in the settings (commented out)", optional)
	if len(f.Vars) == 0 {
		fmt.Fprintf(g.Out, "  no environment variable: make the settings read SECRET_KEY from one\n")
	}
	if f.Celery != "" {
		fmt.Fprintf(g.Out, "  Celery (%s): processes.worker runs its worker\n", f.CeleryFile)
	}
	switch {
	case f.Compressor && f.CompressOffline:
		fmt.Fprintf(g.Out, "  django-compressor: build runs python manage.py compress\n")
	case f.Compressor:
		fmt.Fprintf(g.Out, "  django-compressor without COMPRESS_OFFLINE: the build step is commented out\n")
	}
	if !f.StaticRoot {
		fmt.Fprintf(g.Out, "  no STATIC_ROOT: set it in your settings, collectstatic needs it\n")
	}
}
