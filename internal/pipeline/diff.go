package pipeline

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hoistdeploy/hoist/internal/deploy"
)

// Commit is one line of git log --oneline.
type Commit struct {
	Hash    string `json:"hash"`
	Subject string `json:"subject"`
}

func (c Commit) String() string { return fmt.Sprintf("%.7s %s", c.Hash, c.Subject) }

// Change is what a deploy of To would change on hosts serving From, as far
// as git tells (migrations need the database: see django.Pending).
type Change struct {
	From, To     string   // full hashes
	Added        []Commit // in To, not in From, newest first
	Removed      []Commit // in From, not in To: a deploy of To takes them away
	Requirements bool     // the requirements file differs: the deploy builds a new virtualenv
	StaticFiles  []string // files under a static/ directory that differ
}

// Compare reads the change from one commit to another in the repository at
// dir (hoist.yml's directory). Files are counted under dir only: that is
// what a deploy ships.
func Compare(ctx context.Context, dir, requirements, from, to string) (Change, error) {
	ch := Change{From: from, To: to}
	// from comes from a host's release record: it reaches git's command
	// line, where a leading - would be an option.
	for _, c := range []string{from, to} {
		if !hashRe.MatchString(c) {
			return ch, fmt.Errorf("%q is not a commit hash: the release record on the host is damaged", c)
		}
	}
	if _, err := deploy.Git(ctx, dir, "cat-file", "-e", from+"^{commit}"); err != nil {
		return ch, fmt.Errorf("the live commit %.7s is not in this repository: git fetch, then run hoist diff again", from)
	}
	var err error
	if ch.Added, err = Log(ctx, dir, from+".."+to); err != nil {
		return ch, err
	}
	if ch.Removed, err = Log(ctx, dir, to+".."+from); err != nil {
		return ch, err
	}
	if requirements != "" {
		out, err := deploy.Git(ctx, dir, "diff", "--name-only", from, to, "--", requirements)
		if err != nil {
			return ch, err
		}
		ch.Requirements = out != ""
	}
	out, err := deploy.Git(ctx, dir, "diff", "--name-only", "--relative", from, to, "--", ".")
	if err != nil {
		return ch, err
	}
	for _, f := range lines(out) {
		if IsStatic(f) {
			ch.StaticFiles = append(ch.StaticFiles, f)
		}
	}
	return ch, nil
}

// IsStatic tells whether a path is under a directory named static: an
// app's static files, or the usual STATICFILES_DIRS entry.
func IsStatic(path string) bool {
	return strings.HasPrefix(path, "static/") || strings.Contains(path, "/static/")
}

// Log is git log --oneline of revs (and options like -20), newest first.
func Log(ctx context.Context, dir string, revs ...string) ([]Commit, error) {
	args := append(append([]string{"log", "--format=%H %s"}, revs...), "--")
	out, err := deploy.Git(ctx, dir, args...)
	if err != nil {
		return nil, err
	}
	var commits []Commit
	for _, l := range lines(out) {
		hash, subject, _ := strings.Cut(l, " ")
		commits = append(commits, Commit{Hash: hash, Subject: subject})
	}
	return commits, nil
}

func lines(out string) []string {
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

var hashRe = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// migrationFileRe is a migration module: APP/migrations/0001_name.py.
var migrationFileRe = regexp.MustCompile(`(?:^|/)([A-Za-z_][A-Za-z0-9_]*)/migrations/([0-9][A-Za-z0-9_]*)\.py$`)

// MigrationFiles lists the migrations (app.name) committed at commit under
// dir, by file name: what hoist diff falls back to when no local Python
// has Django. The app label is taken to be the package's name.
func MigrationFiles(ctx context.Context, dir, commit string) ([]string, error) {
	out, err := deploy.Git(ctx, dir, "ls-tree", "-r", "--name-only", commit, "--", ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range lines(out) {
		if m := migrationFileRe.FindStringSubmatch(f); m != nil {
			names = append(names, m[1]+"."+m[2])
		}
	}
	return names, nil
}
