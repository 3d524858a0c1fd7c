package deploy

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/hoistdeploy/hoist/internal/container"
	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// containerImage is what strategy container ships: the image built from
// the commit on this machine, saved once for every host.
type containerImage struct {
	img     *container.Image
	archive *container.Archive
	dir     string // holds the saved image
	workdir string // the project directory inside the image
}

func (ci *containerImage) remove() { os.RemoveAll(ci.dir) }

// buildImage builds the commit's image on this machine from the artifact
// (the committed files, never the work tree) and saves it for shipping.
func (d *deployRun) buildImage(ctx context.Context) error {
	c, u := d.t.Config, d.t.UI
	dir, err := os.MkdirTemp("", "hoist-image-")
	if err != nil {
		return err
	}
	d.image = &containerImage{dir: dir}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", d.art.Path, "-C", src).CombinedOutput(); err != nil {
		return fmt.Errorf("unpack commit %.7s: %v: %s", d.art.Commit, err, out)
	}
	ref := "hoist-" + c.App + ":" + d.id
	u.Info("building image %s (docker build -f %s %s)", ref, c.Container.Dockerfile, c.Container.Context)
	img, err := container.Build(ctx, container.BuildOptions{Dir: src, Dockerfile: c.Container.Dockerfile, Context: c.Container.Context,
		Args: c.Container.BuildArgs, Ref: ref})
	if err != nil {
		return fmt.Errorf("build the image: %w", err)
	}
	d.image.img = img
	d.image.workdir = cmp.Or(c.Container.Workdir, img.WorkingDir)
	if d.image.workdir == "" || d.image.workdir == "/" {
		return fmt.Errorf("the image sets no WORKDIR: set WORKDIR in the Dockerfile, or container.workdir in hoist.yml, to the directory that holds manage.py")
	}
	if err := release.MountPath(d.image.workdir); err != nil {
		return fmt.Errorf("the image's project directory %w", err)
	}
	if d.image.archive, err = container.Save(ctx, img, dir); err != nil {
		return fmt.Errorf("save the image: %w", err)
	}
	u.Info("image %s built: %s, %d MiB in %d layers", ref, release.ShortImageID(img.ID), img.Size>>20, len(img.Layers))
	return nil
}

// shipImage sends each host the layers of the image it lacks.
func (d *deployRun) shipImage(ctx context.Context) error {
	return d.t.each(ctx, d.hosts(), "ship", func(ctx context.Context, h *remote.Host) error {
		d.mu.Lock()
		engine := d.engines[h]
		d.mu.Unlock()
		if engine.Has(d.image.img.ID) {
			d.t.UI.Step(h.Name, "ship", "image already there: sent nothing")
			return nil
		}
		lacks := len(engine.Lacks(d.image.img))
		if engine.Containerd {
			lacks = len(d.image.img.Layers) // Ship sends them all there
			d.t.UI.Step(h.Name, "ship", "the engine uses the containerd image store: sending the whole image")
		}
		sent, err := container.Ship(ctx, h, d.image.archive, engine)
		if err != nil {
			return err
		}
		d.t.UI.Step(h.Name, "ship", "sent %d KiB (%d of %d layers)", sent/1024, lacks, len(d.image.img.Layers))
		return nil
	})
}

// containerRun is what release d.id's containers on h are made of;
// staticRoot is "" until the settings are known.
func (d *deployRun) containerRun(staticRoot string) serve.ContainerRun {
	c := d.t.Config
	return serve.ContainerRun{Image: d.image.img.ID, Ref: d.image.img.Ref, Python: c.Python, Workdir: d.image.workdir,
		StaticRoot: staticRoot, SharedFiles: c.SharedFiles, SharedDirs: c.SharedDirs}
}

// makeContainerRelease makes the release on h from the shipped image: its
// environment file, directory, container script and tag, in one round
// trip. PrepareCmd then reads its settings and collects its static files
// into it, in a container; mountStatic finishes it.
func (d *deployRun) makeContainerRelease(ctx context.Context, h *remote.Host, spec release.BuildSpec) error {
	l := d.t.Layout
	script, err := d.t.Site(h).ContainerScript(d.id, d.containerRun(""))
	if err != nil {
		return err
	}
	cmd, env, err := release.ContainerBuildCmd(l, d.id, release.ContainerSpec{Env: spec.Env, SharedFiles: spec.SharedFiles, SharedDirs: spec.SharedDirs, Script: script})
	if err != nil {
		return err
	}
	building, err := d.buildingCmd(h)
	if err != nil {
		return err
	}
	if _, err := remote.OutputWithInput(ctx, h, remote.Chain(building, release.Tracked(l, cmd)), bytes.NewReader(env)); err != nil {
		return err
	}
	d.t.UI.Step(h.Name, "build", "release %s runs image %s", d.id, release.ShortImageID(d.image.img.ID))
	return nil
}

// mountStatic writes the container script again, now that the settings
// are known, to mount the collected static files at STATIC_ROOT, where
// Django looks for its manifest and compressor for its offline files, and
// links the release's media to the shared dir mounted at MEDIA_ROOT.
func (d *deployRun) mountStatic(ctx context.Context, h *remote.Host, s django.Settings) error {
	l := d.t.Layout
	staticRoot := ""
	if s.StaticFiles && s.StaticRoot != "" {
		staticRoot = s.StaticRoot
	}
	script, err := d.t.Site(h).ContainerScript(d.id, d.containerRun(staticRoot))
	if err != nil {
		return err
	}
	link := ""
	if m := s.MediaRoot; m != "" {
		if host, ok := mediaOnHost(m, d.image.workdir, l.Shared(), d.t.Config.SharedDirs); ok {
			link = remote.Script(`ln -sfn "$1" "$2"`, host, l.Media(d.id))
		} else if h == d.t.Primary {
			d.t.UI.Warn("MEDIA_ROOT %s is not under a shared dir: uploads stay inside the container and are lost with it; add its directory (relative to %s) to shared_dirs", m, d.image.workdir)
		}
	}
	_, err = remote.Output(ctx, h, remote.Chain(release.WriteContainerScriptCmd(l, d.id, script), link))
	return err
}

// mediaOnHost is where MEDIA_ROOT (a path inside the image) lies on the
// host: under the shared dir mounted over it, if any.
func mediaOnHost(media, workdir, shared string, dirs []string) (string, bool) {
	for _, dir := range dirs {
		in := path.Join(workdir, dir)
		if media == in || strings.HasPrefix(media, in+"/") {
			return path.Join(shared, dir, strings.TrimPrefix(media, in)), true
		}
	}
	return "", false
}
