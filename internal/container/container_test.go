package container

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// needDocker skips a test when no local engine answers.
func needDocker(t *testing.T) {
	t.Helper()
	if exec.Command("docker", "info").Run() != nil {
		t.Skip("no docker engine: docker info fails")
	}
}

// buildScratch builds an image FROM base (scratch or an image ref) with
// one file COPYed in, under a name of its own removed after the test.
func buildScratch(t *testing.T, ctx context.Context, base, file string, content []byte) *Image {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), content, 0o644); err != nil {
		t.Fatal(err)
	}
	df := "FROM " + base + "\nCOPY " + file + " /" + file + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := "hoist-test-" + randomHex(4) + ":" + file
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	var log bytes.Buffer
	img, err := Build(ctx, BuildOptions{Dir: dir, Dockerfile: "Dockerfile", Context: ".", Ref: ref, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestShipSendsOnlyTheLayersTheEngineLacks builds A and B = A plus one
// layer, saves B, removes it, and ships it back into the same (local)
// engine, which still holds A: only B's top layer and the metadata go.
func TestShipSendsOnlyTheLayersTheEngineLacks(t *testing.T) {
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	big := make([]byte, 512<<10) // A's layer: what must not be sent
	rand.Read(big)
	a := buildScratch(t, ctx, "scratch", "a.bin", big)
	b := buildScratch(t, ctx, a.Ref, "b.txt", []byte("the app's code\n"))
	if !slices.Equal(b.Layers[:len(a.Layers)], a.Layers) || len(b.Layers) != len(a.Layers)+1 {
		t.Fatalf("B's layers %v do not extend A's %v by one", b.Layers, a.Layers)
	}

	arch, err := Save(ctx, b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The classic store: the local engine's id is the config's digest.
	if arch.ID != b.ID {
		t.Errorf("archive id %s, image id %s", arch.ID, b.ID)
	}
	if _, err := docker(ctx, "rmi", b.Ref); err != nil {
		t.Fatal(err)
	}

	h := &remote.Host{Name: "local", Transport: remote.Local{}, Root: true}
	engine := func() Engine {
		out, err := remote.Output(ctx, h, EngineCmd(h))
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseEngine(out)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := engine()
	if !e.Has(a.ID) || e.Has(b.ID) {
		t.Fatalf("the engine should hold A (%s) and not B (%s)", a.ID, b.ID)
	}
	if lacks := e.Lacks(b); !slices.Equal(lacks, b.Layers[len(a.Layers):]) {
		t.Fatalf("Lacks(B) = %v, want B's top layer only", lacks)
	}

	sent, err := Ship(ctx, h, arch, e)
	if err != nil {
		t.Fatal(err)
	}
	top := arch.Layers[len(arch.Layers)-1].Size
	full, _ := os.Stat(arch.Path)
	// Over the top layer's tar: manifest.json, the config, repositories and
	// each layer's json and VERSION, a few KiB in all.
	t.Logf("sent %d bytes: top layer tar %d, whole archive %d", sent, top, full.Size())
	// Ship gzips the stream, so the layer's tar padding shrinks.
	if sent == 0 || sent > top+16<<10 {
		t.Errorf("sent %d bytes, want at most the top layer's %d plus 16 KiB", sent, top)
	}
	back, err := Inspect(ctx, b.Ref)
	if err != nil {
		t.Fatalf("B not back after Ship: %v", err)
	}
	if back.ID != b.ID {
		t.Errorf("B came back as %s, was %s", back.ID, b.ID)
	}

	if sent, err := Ship(ctx, h, arch, engine()); err != nil || sent != 0 {
		t.Errorf("shipping B again sent %d bytes (%v), want none", sent, err)
	}

	// A and B removed after the engine was read: the partial archive does
	// not load (A's layer is gone), so the whole one goes after it.
	if _, err := docker(ctx, "rmi", b.Ref, a.Ref); err != nil {
		t.Fatal(err)
	}
	sent, err = Ship(ctx, h, arch, e)
	if err != nil {
		t.Fatalf("Ship with a stale view of the engine: %v", err)
	}
	if whole := gzipped(t, arch); sent < whole {
		t.Errorf("with a stale view of the engine sent %d bytes, less than the whole archive's %d (gzipped)", sent, whole)
	}
	if back, err := Inspect(ctx, b.Ref); err != nil || back.ID != b.ID {
		t.Errorf("B not back after the second Ship: %v", err)
	}
}

func TestBuildFailureEndsWithItsOutput(t *testing.T) {
	needDocker(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY missing.txt /\n"), 0o644)
	_, err := Build(context.Background(), BuildOptions{Dir: dir, Dockerfile: "Dockerfile", Context: ".", Ref: "hoist-test-fails:x"})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("missing.txt")) {
		t.Fatalf("want an error naming missing.txt, got %v", err)
	}
}

// gzipped is the size of the whole archive as Ship sends it.
func gzipped(t *testing.T, a *Archive) int64 {
	var n countingWriter
	n.w = io.Discard
	gz, _ := gzip.NewWriterLevel(&n, gzip.BestSpeed)
	if err := a.Write(gz, nil); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	return n.n.Load()
}
