package fleet

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/container"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// TestShipImageLayers ships an app image to a fleet host over real SSH three
// times: first with its Python base, then after a code change (only the
// app's layer goes), then unchanged (nothing goes).
func TestShipImageLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containers")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker client")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	f := Start(t, Options{Hosts: 1})
	start := time.Now()
	base, err := PythonBase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("python base %s ready in %s", base, time.Since(start).Round(time.Millisecond))

	// hoist reads ~/.ssh from $HOME: the fleet's, and only its key.
	t.Setenv("HOME", f.Home)
	t.Setenv("SSH_AUTH_SOCK", "")
	tr, err := remote.Connect(ctx, "web1", remote.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := &remote.Host{Name: "web1", Transport: tr}
	if err := h.Identify(ctx); err != nil {
		t.Fatal(err)
	}
	engine := func() (container.Engine, error) {
		out, err := remote.Output(ctx, h, container.EngineCmd(h))
		if err != nil {
			return container.Engine{}, err
		}
		return container.ParseEngine(out)
	}

	// Docker is installed on fleet hosts but off until setup starts it.
	if _, err := engine(); !errors.Is(err, container.ErrEngineDown) {
		t.Fatalf("before docker starts: %v, want the engine down", err)
	}
	if _, err := remote.Output(ctx, h, h.Sudo("systemctl", "start", "docker")); err != nil {
		t.Fatal(err)
	}
	driver, err := remote.Output(ctx, h, h.Sudo("docker", "info", "--format", "{{.Driver}}"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("web1's engine uses the %s storage driver", strings.TrimSpace(driver))

	app := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM "+base+"\nWORKDIR /app\nCOPY app.py .\nCMD [\"python3\", \"app.py\"]\n")
	ref := "hoist-test-app:" + f.ID
	var built []string
	t.Cleanup(func() { exec.Command("docker", append([]string{"rmi", "-f", ref}, built...)...).Run() })

	ship := func(version string) (*container.Archive, int64) {
		t.Helper()
		write("app.py", "import django\nprint('version "+version+", django', django.get_version())\n")
		var log bytes.Buffer
		img, err := container.Build(ctx, container.BuildOptions{Dir: app, Dockerfile: "Dockerfile", Context: ".", Ref: ref, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, img.ID)
		a, err := container.Save(ctx, img, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		sent, err := container.Ship(ctx, h, a, e)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("version %s: %d layers, host lacked %d: sent %d bytes in %s (top layer tar %d bytes, whole archive %d)",
			version, len(a.Layers), len(e.Lacks(img)), sent, time.Since(start).Round(time.Millisecond),
			a.Layers[len(a.Layers)-1].Size, size(t, a.Path))
		if e, err := engine(); err != nil || !e.Has(a.ID) {
			t.Fatalf("after shipping version %s the host has no image %s (%v)", version, a.ID, err)
		}
		return a, sent
	}

	// The stream is gzipped: a Debian base with Python compresses to about
	// a third.
	a1, sent := ship("1")
	if baseSize := a1.Layers[0].Size; sent < baseSize/5 {
		t.Errorf("first ship sent %d bytes, too little for the base layer's %d even compressed", sent, baseSize)
	}

	a2, sent := ship("2")
	top := a2.Layers[len(a2.Layers)-1].Size
	// The rest is manifest.json, the config, repositories and each layer's
	// json and VERSION: a few KiB.
	if limit := top*11/10 + 32<<10; sent > limit {
		t.Errorf("after a code change sent %d bytes, want at most %d (the app layer is %d)", sent, limit, top)
	}

	e, err := engine()
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := container.Ship(ctx, h, a2, e); err != nil || sent != 0 {
		t.Errorf("shipping version 2 again sent %d bytes (%v), want none", sent, err)
	}

	// The host's engine runs what it got.
	out, err := remote.Output(ctx, h, h.Sudo("docker", "run", "--rm", "--network", "none", a2.ID))
	if err != nil || !strings.HasPrefix(out, "version 2, django 3.2") {
		t.Errorf("docker run on web1: %q, %v", out, err)
	}
}

func size(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
