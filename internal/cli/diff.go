package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/pipeline"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

func newDiffCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "diff STAGE [REF]",
		Short: "Show what deploying REF to a stage would change",
		Long: `diff compares the commit each host of STAGE serves with REF (default: the
stage's ref, else HEAD) and changes nothing: the commits a deploy would add
(and take away), whether the requirements file changed (a new virtualenv
is built), how many static files changed, and the migrations that would
run, with the operations a deploy refuses unless --allow-unsafe-migrations
marked "!". When the hosts serve different commits, each is compared.

The migrations are REF's that the stage's database has not applied (read
on the primary with the live release's code). Marking the unsafe ones loads
REF's migrations with a local Python that has Django (HOIST_PYTHON, the
project's virtualenv, python3) and the stage's settings; without one, the
migration files are listed by name, unmarked.`,
		Example: "  hoist diff production\n  hoist diff production v1.5.0 --json",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) > 1 {
				ref = args[1]
			}
			return runDiff(cmd.Context(), g, args[0], ref)
		},
	}
}

// diffReport is what a deploy of To would change on the hosts serving
// From: one per distinct live commit. It is the --json event.
type diffReport struct {
	Kind         string             `json:"kind"` // "diff"
	Stage        string             `json:"stage"`
	Hosts        []string           `json:"hosts"`
	Release      string             `json:"release,omitempty"` // live on Hosts; "" when nothing is
	From         string             `json:"from,omitempty"`
	To           string             `json:"to"`
	Commits      []pipeline.Commit  `json:"commits"`
	Removed      []pipeline.Commit  `json:"removed,omitempty"`
	Requirements bool               `json:"requirements_changed"`
	StaticFiles  int                `json:"static_files_changed"`
	Migrations   []django.Migration `json:"migrations"`
	// Analysed: the migrations were read by Django, with unsafe operations
	// marked; otherwise they are file names only.
	Analysed bool `json:"migrations_analysed"`
}

func runDiff(ctx context.Context, g *globalOptions, stage, ref string) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	c, s := t.Config, t.Stage
	if ref == "" {
		ref = s.Ref
	}
	to, err := deploy.ResolveCommit(ctx, c.Dir, ref)
	if err != nil {
		return err
	}
	live, err := t.LiveReleases(ctx)
	if err != nil {
		return err
	}
	groups := liveGroups(t.Hosts, live)
	if len(groups) > 1 {
		var parts []string
		for _, gr := range groups {
			parts = append(parts, fmt.Sprintf("%s on %s", shortOr(gr.From, "nothing"), strings.Join(gr.Hosts, ", ")))
		}
		t.UI.Warn("the hosts of %s serve different commits (%s): each is compared with %.7s", s.Name, strings.Join(parts, "; "), to)
	}
	migrations, analysed, err := pendingMigrations(ctx, g, t, live, to)
	if err != nil {
		return err
	}
	out := t.UI.Writer(g.Out)
	for _, gr := range groups {
		r := diffReport{Kind: "diff", Stage: s.Name, Hosts: gr.Hosts, Release: gr.Release, From: gr.From, To: to,
			Migrations: migrations, Analysed: analysed, Requirements: c.Requirements != ""}
		if gr.From != "" {
			ch, err := pipeline.Compare(ctx, c.Dir, c.Requirements, gr.From, to)
			if err != nil {
				return err
			}
			r.Commits, r.Removed, r.Requirements, r.StaticFiles = ch.Added, ch.Removed, ch.Requirements, len(ch.StaticFiles)
		} else if r.Commits, err = pipeline.Log(ctx, c.Dir, "-20", to); err != nil { // a first deploy: REF's newest commits say enough
			return err
		}
		if r.Commits == nil {
			r.Commits = []pipeline.Commit{}
		}
		if g.JSON {
			if err := json.NewEncoder(out).Encode(r); err != nil {
				return err
			}
			continue
		}
		writeDiff(out, c, r)
	}
	return nil
}

// liveGroup is the hosts that serve one commit.
type liveGroup struct {
	From, Release string
	Hosts         []string
}

// liveGroups groups the hosts by the commit they serve, in hoist.yml order.
func liveGroups(hosts []*remote.Host, live map[string]*release.Record) []liveGroup {
	var groups []liveGroup
	for _, h := range hosts {
		from, id := "", ""
		if rec := live[h.Name]; rec != nil {
			from, id = rec.Commit, rec.ID
		}
		i := slices.IndexFunc(groups, func(gr liveGroup) bool { return gr.From == from })
		if i < 0 {
			groups = append(groups, liveGroup{From: from, Release: id})
			i = len(groups) - 1
		}
		groups[i].Hosts = append(groups[i].Hosts, h.Name)
	}
	return groups
}

// pendingMigrations are REF's migrations the stage's database lacks. The
// applied ones are read on the primary with its live release's code (the
// database is the stage's, whatever each host serves); REF's are read by
// a local Django, or else listed from the file names.
func pendingMigrations(ctx context.Context, g *globalOptions, t *deploy.Target, live map[string]*release.Record, to string) ([]django.Migration, bool, error) {
	c, s := t.Config, t.Stage
	var applied []string
	if rec := live[t.Primary.Name]; rec != nil {
		h, err := django.ReadHistory(ctx, t.Primary, t.Layout, rec.ID, c.ProjectDir)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", t.Primary.Name, err)
		}
		applied = h.Applied
	}
	ms, err := analysePending(ctx, c, s, to, applied)
	if err == nil && ms != nil {
		return ms, true, nil
	}
	if err != nil {
		t.UI.Warn("could not load %.7s's migrations with Django here, so unsafe operations are not marked: %v", to, err)
	}
	files, err := pipeline.MigrationFiles(ctx, c.Dir, to)
	if err != nil {
		return nil, false, err
	}
	out := []django.Migration{}
	for _, f := range files {
		if !slices.Contains(applied, f) {
			app, name, _ := strings.Cut(f, ".")
			out = append(out, django.Migration{App: app, Name: name})
		}
	}
	return out, false, nil
}

// analysePending loads REF's migrations with a local Django, on REF's
// committed files, with the stage's settings and the secrets this machine
// has. It returns nil, nil when there is no local Django.
func analysePending(ctx context.Context, c *config.Config, s *config.Stage, to string, applied []string) ([]django.Migration, error) {
	python := django.LocalPython(filepath.Join(c.Dir, c.ProjectDir))
	if python == "" {
		return nil, nil
	}
	art, err := deploy.BuildArtifact(ctx, c.Dir, to, c.Requirements)
	if err != nil {
		return nil, err
	}
	defer art.Remove()
	tmp, err := os.MkdirTemp("", "hoist-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", art.Path, "-C", tmp).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("unpack %.7s: %v: %s", to, err, out)
	}
	env := deploy.StageEnv(c, s, config.AvailableSecrets(c, s, os.Getenv))
	ms, err := django.Pending(ctx, django.LocalRunner(python, filepath.Join(tmp, c.ProjectDir), env), applied)
	if ms == nil && err == nil {
		ms = []django.Migration{}
	}
	return ms, err
}

// writeDiff prints one report for people.
func writeDiff(w io.Writer, c *config.Config, r diffReport) {
	if r.From == "" {
		fmt.Fprintf(w, "%s: nothing is live on %s yet: deploying %.7s is a first deploy\n", r.Stage, strings.Join(r.Hosts, ", "), r.To)
	} else {
		verb := "serve"
		if len(r.Hosts) == 1 {
			verb = "serves"
		}
		fmt.Fprintf(w, "%s: %s %s %.7s (release %s); deploying %.7s would change:\n", r.Stage, strings.Join(r.Hosts, ", "), verb, r.From, r.Release, r.To)
	}
	fmt.Fprintf(w, "commits (%d):\n", len(r.Commits))
	for _, cm := range r.Commits {
		fmt.Fprintf(w, "  + %s\n", cm)
	}
	if len(r.Removed) > 0 {
		fmt.Fprintf(w, "commits live now that %.7s lacks, which the deploy takes away (%d):\n", r.To, len(r.Removed))
		for _, cm := range r.Removed {
			fmt.Fprintf(w, "  - %s\n", cm)
		}
	}
	switch {
	case c.Requirements == "":
		fmt.Fprintln(w, "requirements: none (no requirements file)")
	case r.Requirements:
		fmt.Fprintf(w, "requirements: %s changed: a new virtualenv is built (pip install)\n", c.Requirements)
	default:
		fmt.Fprintf(w, "requirements: %s unchanged: the virtualenv is reused\n", c.Requirements)
	}
	fmt.Fprintf(w, "static files: %d changed\n", r.StaticFiles)
	unsafe := 0
	fmt.Fprintf(w, "migrations to apply (%d):\n", len(r.Migrations))
	for _, m := range r.Migrations {
		fmt.Fprintf(w, "  %s\n", m)
		for _, op := range m.Operations {
			if op.Unsafe != "" {
				unsafe++
				fmt.Fprintf(w, "    ! %s: %s\n", op.Describe, op.Unsafe)
			} else {
				fmt.Fprintf(w, "      %s\n", op.Describe)
			}
		}
	}
	switch {
	case !r.Analysed && len(r.Migrations) > 0:
		fmt.Fprintln(w, "(listed by file name: no local Python with Django to read their operations; set HOIST_PYTHON)")
	case unsafe > 0 && r.From != "":
		fmt.Fprintf(w, "%d unsafe operation(s) marked !: hoist deploy refuses them unless --allow-unsafe-migrations\n", unsafe)
	}
}

// shortOr is a commit's short hash, or none when there is no commit.
func shortOr(commit, none string) string {
	if commit == "" {
		return none
	}
	return commit[:min(7, len(commit))]
}
