package container

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Archive is a `docker save` of one image, kept as the tar docker wrote.
type Archive struct {
	Image *Image
	Path  string // the tar file
	// ID is the sha256 of the image's config: the image's id on an engine
	// with the classic image store, whatever store the local engine uses
	// (with the containerd store the local id is a manifest's digest).
	ID     string
	Layers []Layer // bottom first, one per Image.Layers
}

// Layer is one layer's file in the archive.
type Layer struct {
	Path   string // in the archive: <v1 id>/layer.tar, or blobs/sha256/<digest>
	DiffID string
	Size   int64 // of its file in the archive
}

// Save writes `docker save` of img into dir and reads it. The archive is
// saved by img.Ref when it has one, so loading it tags the image on the
// host too.
func Save(ctx context.Context, img *Image, dir string) (*Archive, error) {
	path := filepath.Join(dir, "image.tar")
	name := img.Ref
	if name == "" {
		name = img.ID
	}
	if _, err := docker(ctx, "save", "-o", path, name); err != nil {
		return nil, err
	}
	a, err := readArchive(path)
	if err != nil {
		return nil, fmt.Errorf("docker save of %s: %w", name, err)
	}
	// The ref may have moved to another image since img was inspected.
	var diffIDs []string
	for _, l := range a.Layers {
		diffIDs = append(diffIDs, l.DiffID)
	}
	if !slices.Equal(diffIDs, img.Layers) {
		return nil, fmt.Errorf("docker save of %s: its layers are not those of image %s: was it rebuilt meanwhile?", name, img.ID)
	}
	a.Image = img
	return a, nil
}

// readArchive finds the config and the layers of a docker save tar. Both
// layouts have a manifest.json naming them: the classic one engines up to
// 24 write (<config id>.json, <v1 id>/layer.tar) and the OCI one of newer
// engines (blobs/sha256/<digest> for both). Layers are listed bottom first,
// in the order of the config's rootfs.diff_ids, which is how each file gets
// its diff id: with compressed blobs the file's digest is not the diff id.
func readArchive(path string) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	files := map[string]*tar.Header{}
	var manifest []struct {
		Config string
		Layers []string
	}
	found, err := readTar(f, func(h *tar.Header, r io.Reader) error {
		files[h.Name] = h
		if h.Name == "manifest.json" {
			return json.NewDecoder(r).Decode(&manifest)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found["manifest.json"] {
		return nil, errors.New("no manifest.json in the archive")
	}
	if len(manifest) != 1 {
		return nil, fmt.Errorf("manifest.json lists %d images, want 1", len(manifest))
	}
	m := manifest[0]

	// Second pass for the config: in the classic layout manifest.json comes
	// last, after the config it names.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var config []byte
	if _, err := readTar(f, func(h *tar.Header, r io.Reader) (err error) {
		if h.Name == m.Config {
			config, err = io.ReadAll(r)
		}
		return err
	}); err != nil {
		return nil, err
	}
	if config == nil {
		return nil, fmt.Errorf("the config %s that manifest.json names is not in the archive", m.Config)
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers, the config %d", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	sum := sha256.Sum256(config)
	a := &Archive{Path: path, ID: "sha256:" + hex.EncodeToString(sum[:])}
	for i, p := range m.Layers {
		h := files[p]
		if h == nil {
			return nil, fmt.Errorf("layer %s that manifest.json names is not in the archive", p)
		}
		a.Layers = append(a.Layers, Layer{Path: p, DiffID: cfg.RootFS.DiffIDs[i], Size: h.Size})
	}
	return a, nil
}

// readTar calls fn for each entry of the tar r and says which names it saw.
func readTar(r io.Reader, fn func(*tar.Header, io.Reader) error) (map[string]bool, error) {
	seen := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return seen, nil
		}
		if err != nil {
			return nil, err
		}
		seen[h.Name] = true
		if err := fn(h, tr); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

// Write writes the archive as a docker save tar stream, leaving out the
// layer files of the layers skip says to leave out; everything else
// (manifest.json, the config, repositories, each layer's json and VERSION,
// OCI index and blobs) goes as saved. An engine with the classic image store
// loads such a stream as long as it holds the layers left out, with the
// same layers below them: it opens a layer's file only when it lacks that
// layer. A nil skip leaves nothing out.
func (a *Archive) Write(w io.Writer, skip func(diffID string) bool) error {
	omit := map[string]bool{}
	for _, l := range a.Layers {
		if skip != nil && skip(l.DiffID) {
			omit[l.Path] = true
		}
	}
	// The same diff id twice in an image shares one file (a blob, or in the
	// classic layout a symlink to the first layer.tar): skip says the same
	// for both, so the file is either sent or not, never half.
	f, err := os.Open(a.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(w)
	if _, err := readTar(f, func(h *tar.Header, r io.Reader) error {
		if omit[h.Name] {
			return nil
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}); err != nil {
		return err
	}
	return tw.Close()
}
