package container

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/remote"
)

func TestLacksCountsWholeChains(t *testing.T) {
	img := &Image{Layers: []string{"base", "deps", "app"}}
	cases := []struct {
		name   string
		images map[string][]string
		want   []string
	}{
		{"empty host", nil, []string{"base", "deps", "app"}},
		{"base image", map[string][]string{"b": {"base"}}, []string{"deps", "app"}},
		{"older release", map[string][]string{"r1": {"base", "deps", "old-app"}}, []string{"app"}},
		{"longest prefix wins", map[string][]string{
			"b": {"base"}, "r1": {"base", "deps", "old"}}, []string{"app"}},
		// deps and app exist on the host, but over another base: other
		// layers, as far as the engine is concerned.
		{"same diff ids over another base", map[string][]string{
			"x": {"other-base", "deps", "app"}}, []string{"base", "deps", "app"}},
		{"shared bottom only", map[string][]string{
			"x": {"base", "other", "app"}}, []string{"deps", "app"}},
		{"the image itself", map[string][]string{"i": {"base", "deps", "app"}}, []string{}},
	}
	for _, c := range cases {
		e := Engine{Images: c.images}
		if got := e.Lacks(img); !slices.Equal(got, c.want) {
			t.Errorf("%s: Lacks = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseEngine(t *testing.T) {
	classic := `engine 20.10.24+dfsg1
driver-status [["Backing Filesystem","extfs"],["Supports d_type","true"],["Native Overlay Diff","true"],["userxattr","false"]]
image sha256:aaa sha256:1 sha256:2
image sha256:bbb sha256:1
`
	e, err := ParseEngine(classic)
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != "20.10.24+dfsg1" || e.Containerd || !e.Has("sha256:aaa") || e.Has("sha256:1") ||
		!slices.Equal(e.Images["sha256:aaa"], []string{"sha256:1", "sha256:2"}) {
		t.Errorf("classic engine parsed as %+v", e)
	}

	e, err = ParseEngine(`engine 28.2.2
driver-status [["driver-type","io.containerd.snapshotter.v1"]]
`)
	if err != nil || !e.Containerd || len(e.Images) != 0 {
		t.Errorf("containerd engine parsed as %+v, %v", e, err)
	}

	if _, err := ParseEngine("no-docker\n"); !errors.Is(err, ErrNoDocker) {
		t.Errorf("no docker: %v", err)
	}
	// What Debian's docker 20.10 client says with dockerd stopped.
	_, err = ParseEngine("docker-down\nCannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n")
	if !errors.Is(err, ErrEngineDown) || !strings.Contains(err.Error(), "Cannot connect") {
		t.Errorf("daemon down: %v", err)
	}
	if _, err := ParseEngine("sudo: a password is required\n"); err == nil {
		t.Error("output with no engine version parsed without error")
	}
}

// TestEngineCmdWithoutDocker runs EngineCmd for real, on this machine, with
// no docker on PATH and with docker pointed at no daemon.
func TestEngineCmdWithoutDocker(t *testing.T) {
	h := &remote.Host{Name: "local", Transport: remote.Local{}, Root: true}
	ctx := context.Background()

	t.Run("daemon not running", func(t *testing.T) {
		if _, err := exec.LookPath("docker"); err != nil {
			t.Skip("no docker client")
		}
		t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
		out, err := remote.Output(ctx, h, EngineCmd(h))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseEngine(out); !errors.Is(err, ErrEngineDown) || !strings.Contains(err.Error(), "none.sock") {
			t.Errorf("got %v from:\n%s", err, out)
		}
	})

	t.Run("not installed", func(t *testing.T) {
		bin := t.TempDir()
		if err := os.Symlink("/bin/sh", filepath.Join(bin, "sh")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin)
		out, err := remote.Output(ctx, h, EngineCmd(h))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseEngine(out); !errors.Is(err, ErrNoDocker) {
			t.Errorf("got %v from:\n%s", err, out)
		}
	})
}
