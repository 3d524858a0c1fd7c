package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The image recipes are embedded so their hashes (the image tags) do not
// depend on the working directory of whichever test binary asks for them.
//
//go:embed image pybase rootfs
var recipe embed.FS

// sharedRecipe is sourced by both recipes; it goes beside their scripts.
const sharedRecipe = "rootfs"

// ImageRepo is the docker repository of host images; the tag is ImageTag().
const ImageRepo = "hoist-fleet"

// PythonBaseRepo is the docker repository of PythonBase images.
const PythonBaseRepo = "hoist-pybase"

// ImageTag hashes every file of the host image's recipe (names and
// contents): the image is rebuilt exactly when the recipe changes.
func ImageTag() string { return recipeTag("image") }

// recipeTag hashes every file of the recipe in dir and of the shared one.
func recipeTag(dir string) string {
	names := recipeFiles(dir)
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := recipe.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Image is the full reference of the host image for the current recipe.
func Image() string { return ImageRepo + ":" + ImageTag() }

// cacheDir holds the build lock, build logs and the .deb cache.
func cacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	d = filepath.Join(d, "hoist-fleet")
	_ = os.MkdirAll(d, 0o755)
	return d
}

// EnsureEngine makes sure a Docker engine answers. On our machines none runs
// at first, so it starts `dockerd --iptables=false` (iptables cannot be used
// here) in the background, detached from this process, and waits for it.
func EnsureEngine(ctx context.Context) error {
	if dockerUp(ctx) {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(cacheDir(), "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("dockerd", "--iptables=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: the engine must outlive the test binary that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	go cmd.Wait() // reap it if it exits while we are alive
	deadline := time.Now().Add(60 * time.Second)
	for !dockerUp(ctx) {
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd did not become ready in 60s; see %s", logf.Name())
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func dockerUp(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

// EnsureImage returns the host image for the current recipe, building it if
// missing.
func EnsureImage(ctx context.Context) (string, error) {
	img := Image()
	if err := ensureBuilt(ctx, img, "image", "build-image.sh", "rootfs"); err != nil {
		return "", err
	}
	return img, nil
}

// PythonBase returns the base image of the fleet's container apps, built
// on this machine's engine if missing: Debian bookworm (minbase) with
// python3, Django, gunicorn and psycopg2, imported from a debootstrap
// directory since nothing can be pulled here.
func PythonBase(ctx context.Context) (string, error) {
	if err := EnsureEngine(ctx); err != nil {
		return "", err
	}
	img := PythonBaseRepo + ":" + recipeTag("pybase")
	if err := ensureBuilt(ctx, img, "pybase", "build-pybase.sh", "rootfs-pybase"); err != nil {
		return "", err
	}
	return img, nil
}

// ensureBuilt builds img with the recipe in dir (running its script) unless
// the engine has it, then drops the images of the recipe's earlier
// versions. A flock serialises builds across concurrent test binaries
// (`go test ./...` runs packages in parallel): the second one waits, then
// finds the image there. The same lock guards the shared .deb cache.
func ensureBuilt(ctx context.Context, img, dir, script, rootfs string) error {
	if imageExists(ctx, img) {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir(), "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close() // closing releases the flock
	if err := flock(ctx, lock); err != nil {
		return err
	}
	if imageExists(ctx, img) {
		return nil
	}

	// Write the embedded recipe to disk for bash to run.
	tmp, err := os.MkdirTemp("", "hoist-fleet-recipe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, p := range recipeFiles(dir) {
		b, err := recipe.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.Base(p)), b, 0o755); err != nil {
			return err
		}
	}
	logPath := filepath.Join(cacheDir(), "build-"+strings.ReplaceAll(img, ":", "-")+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(tmp, script), img)
	cmd.Env = append(os.Environ(),
		"HOIST_FLEET_DEB_CACHE="+filepath.Join(cacheDir(), "debs"),
		"HOIST_FLEET_ROOTFS="+filepath.Join(cacheDir(), rootfs))
	cmd.Stdout, cmd.Stderr = logf, logf
	// On cancel, kill debootstrap and all, not just bash: a lone orphan would
	// go on writing into the rootfs the next build clears.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s failed (%v); log %s:\n%s", img, err, logPath, tail(logPath, 30))
	}
	fmt.Fprintf(logf, ">>> took %s\n", time.Since(start).Round(time.Second))
	removeOldImages(ctx, img)
	return nil
}

// recipeFiles lists the embedded files of the recipe in dir and of the
// shared one.
func recipeFiles(dir string) []string {
	var names []string
	for _, d := range []string{dir, sharedRecipe} {
		_ = fs.WalkDir(recipe, d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				names = append(names, p)
			}
			return err
		})
	}
	return names
}

// removeOldImages drops the images of earlier recipes of img's repository
// (the host image is 600+ MB). One still used by a container stays: docker
// refuses, and we ignore that.
func removeOldImages(ctx context.Context, img string) {
	repo, _, _ := strings.Cut(img, ":")
	out, err := docker(ctx, "images", repo, "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return
	}
	for _, old := range strings.Fields(out) {
		if old != img {
			_, _ = docker(ctx, "rmi", old)
		}
	}
}

func imageExists(ctx context.Context, img string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", img).Run() == nil
}

// flock waits for an exclusive lock on f, giving up when ctx is done.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("waiting for image build lock: %w", err)
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(string(bytes.Join(lines, []byte("\n"))))
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
