// Package container builds an app's image on the deploying machine and ships
// it to hosts over SSH, sending only the layers a host lacks.
package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Image is a built image as the local engine knows it.
type Image struct {
	Ref        string   // what it was built or inspected as
	ID         string   // the local engine's image id
	Layers     []string // RootFS.Layers: diff ids, bottom first
	WorkingDir string
	Size       int64
}

// BuildOptions say what to build.
type BuildOptions struct {
	Dir        string // the project root
	Dockerfile string // relative to Dir
	Context    string // relative to Dir
	Args       map[string]string
	Ref        string // the tag to give the image
	Log        io.Writer
}

// Build runs `docker build` on this machine and inspects the result. The
// build's output streams to Log; a failed build's error ends with its last
// lines, which are where docker says what went wrong.
//
// DOCKER_BUILDKIT is left as the user has it. With no buildx plugin (as
// here) the docker 28 client falls back to the classic builder by itself,
// which works with Debian's 20.10 engine; forcing DOCKER_BUILDKIT=0 would
// take BuildKit away from the machines that have it, and =1 fails without
// buildx.
func Build(ctx context.Context, o BuildOptions) (*Image, error) {
	if o.Ref == "" {
		return nil, errors.New("build: no image name (ref) given")
	}
	args := []string{"build", "-t", o.Ref, "-f", filepath.Join(o.Dir, o.Dockerfile)}
	keys := make([]string, 0, len(o.Args))
	for k := range o.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+o.Args[k])
	}
	args = append(args, filepath.Join(o.Dir, o.Context))

	var out bytes.Buffer
	w := io.Writer(&out)
	if o.Log != nil {
		w = io.MultiWriter(o.Log, &out)
	}
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("docker build of %s failed (%v):\n%s", o.Ref, err, lastLines(remote.Redact(out.String()), 20))
	}
	return Inspect(ctx, o.Ref)
}

// Inspect reads an image from the local engine.
func Inspect(ctx context.Context, ref string) (*Image, error) {
	out, err := docker(ctx, "image", "inspect", "--format", "{{json .}}", ref)
	if err != nil {
		return nil, err
	}
	var v struct {
		ID     string `json:"Id"`
		Size   int64
		RootFS struct{ Layers []string }
		Config struct{ WorkingDir string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, fmt.Errorf("docker image inspect %s: %w", ref, err)
	}
	return &Image{Ref: ref, ID: v.ID, Layers: v.RootFS.Layers, WorkingDir: v.Config.WorkingDir, Size: v.Size}, nil
}

// docker runs the local docker client and returns its stdout; the error
// holds what it said on stderr.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
