package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
)

// Artifact is the code of one commit, packed on this machine and shipped to
// the hosts, so servers never need access to the git repository.
type Artifact struct {
	Commit       string // full hash
	Path         string // a .tar.gz in a temporary directory
	Sum          string // sha256 of the file: hosts keep artifacts by it
	Size         int64
	Dirty        bool   // the work tree has changes the artifact lacks
	Requirements []byte // the requirements file as committed
}

// BuildArtifact packs the app directory dir as it is at ref. Only committed
// content is packed.
func BuildArtifact(ctx context.Context, dir, ref, requirements string) (*Artifact, error) {
	if _, err := git(ctx, dir, "rev-parse", "--git-dir"); err != nil {
		return nil, fmt.Errorf("%s is not in a git repository: hoist deploys commits, so run git init and commit first", dir)
	}
	commit, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("%q is not a commit in this repository (try a branch, a tag or a commit hash)", ref)
	}
	prefix, err := git(ctx, dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	prefix = strings.TrimSuffix(prefix, "/")
	tree := commit
	if prefix != "" {
		tree = commit + ":" + prefix
	}
	a := &Artifact{Commit: commit}
	if status, err := git(ctx, dir, "status", "--porcelain", "--", "."); err == nil && status != "" {
		a.Dirty = true
	}
	if requirements != "" {
		data, err := git(ctx, dir, "show", commit+":"+path.Join(prefix, requirements))
		if err != nil {
			return nil, fmt.Errorf("requirements file %s is not in commit %.7s: commit it, or fix requirements in hoist.yml", requirements, commit)
		}
		a.Requirements = []byte(data)
	}

	tmp, err := os.MkdirTemp("", "hoist-artifact-")
	if err != nil {
		return nil, err
	}
	a.Path = path.Join(tmp, commit+".tar.gz")
	// From the top of the repository: run in a subdirectory, git archive
	// would apply the prefix a second time.
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	if _, err := git(ctx, top, "archive", "--format=tar.gz", "-o", a.Path, tree); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("git archive: %w", err)
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if a.Size, err = io.Copy(h, f); err != nil {
		return nil, err
	}
	a.Sum = hex.EncodeToString(h.Sum(nil))
	return a, nil
}

// Remove deletes the local file.
func (a *Artifact) Remove() { os.RemoveAll(path.Dir(a.Path)) }

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
