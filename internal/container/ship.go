package container

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Ship loads the archive's image into the host's engine e (as EngineCmd
// found it) and returns how many bytes went over the link. A host that has
// the image is sent nothing. Otherwise the archive streams into
// `docker load` on the host, without the layers the host already has, and
// the host must then hold the image.
//
// If the partial archive does not load (an image the host had was removed
// since e was read, say), the whole archive is sent once more.
func Ship(ctx context.Context, h *remote.Host, a *Archive, e Engine) (sent int64, err error) {
	id := a.ID
	if e.Containerd {
		// That store names an image by its manifest's digest, which is
		// the local id when the deploying engine uses that store too.
		id = a.Image.ID
	}
	if e.Has(id) {
		return 0, nil
	}
	// With the containerd image store, send every layer: no engine with
	// that store can run here (Debian's 20.10 has none), so a partial
	// archive was never tried on one. What is known: buildpacks' imgutil
	// writes such archives for the classic store and turns the trick off
	// when the engine reports driver-type io.containerd.snapshotter.v1; and
	// unregistry (docker pussh), which sends only missing layers, does it
	// as a registry reading containerd's content store, not through
	// docker load, and so needs that store.
	var skip func(string) bool
	if lacks := e.Lacks(a.Image); !e.Containerd && len(lacks) < len(a.Layers) {
		lacking := map[string]bool{}
		for _, d := range lacks {
			lacking[d] = true
		}
		skip = func(diffID string) bool { return !lacking[diffID] }
	}
	sent, err = load(ctx, h, a, id, skip)
	if err != nil && skip != nil && ctx.Err() == nil {
		var full int64
		full, err = load(ctx, h, a, id, nil)
		sent += full
	}
	return sent, err
}

// load streams the archive (less what skip leaves out), compressed, into
// docker load on the host, then checks that the host holds the image, in one round trip.
// The bytes counted are those the link took: the pipe hands them over only
// as the transport reads them.
func load(ctx context.Context, h *remote.Host, a *Archive, id string, skip func(string) bool) (int64, error) {
	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	go func() {
		// gzip at its fastest: Python code and its libraries shrink to a
		// third or less, and docker load reads gzip as it is.
		// Writes to the link in large pieces: flate's own are small.
		bw := bufio.NewWriterSize(cw, 1<<20)
		gz, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
		err := a.Write(gz, skip)
		if cerr := gz.Close(); err == nil {
			err = cerr
		}
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		pw.CloseWithError(err)
	}()
	out, err := remote.OutputWithInput(ctx, h, h.SudoScript(
		`docker load >&2 && docker image inspect --format '{{.Id}}' "$1"`, id), pr)
	// A load that failed early leaves the writer blocked on the pipe.
	pr.CloseWithError(io.ErrClosedPipe)
	sent := cw.n.Load()
	if err != nil {
		return sent, fmt.Errorf("%s: docker load of %s: %w", h.Name, a.Image.Ref, err)
	}
	if strings.TrimSpace(out) != id {
		return sent, fmt.Errorf("%s: after docker load the host has no image %s (it said %q)", h.Name, id, strings.TrimSpace(out))
	}
	return sent, nil
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
