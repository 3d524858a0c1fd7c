package container

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestArchiveOCILayout reads and rewrites the layout newer engines save
// (blobs/sha256/...), which Debian's 20.10 here cannot write: layer files
// get their diff ids from the config, in order, since a compressed blob's
// digest is not its diff id.
func TestArchiveOCILayout(t *testing.T) {
	config := `{"rootfs":{"type":"layers","diff_ids":["sha256:d1","sha256:d2"]}}`
	sum := sha256.Sum256([]byte(config))
	cfgDigest := hex.EncodeToString(sum[:])
	files := []struct{ name, body string }{
		{"blobs/", ""},
		{"blobs/sha256/", ""},
		{"blobs/sha256/b1", "bottom layer, gzipped"},
		{"blobs/sha256/b2", "top layer"},
		{"blobs/sha256/" + cfgDigest, config},
		{"blobs/sha256/m1", `{"schemaVersion":2}`},
		{"index.json", `{"manifests":[{"digest":"sha256:m1"}]}`},
		{"manifest.json", `[{"Config":"blobs/sha256/` + cfgDigest + `","RepoTags":["app:1"],"Layers":["blobs/sha256/b1","blobs/sha256/b2"]}]`},
		{"oci-layout", `{"imageLayoutVersion":"1.0.0"}`},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		tw.WriteHeader(h)
		tw.Write([]byte(f.body))
	}
	tw.Close()
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	a, err := readArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Layer{{"blobs/sha256/b1", "sha256:d1", 21}, {"blobs/sha256/b2", "sha256:d2", 9}}
	if a.ID != "sha256:"+cfgDigest || !slices.Equal(a.Layers, want) {
		t.Fatalf("read %s %+v, want %+v", a.ID, a.Layers, want)
	}

	var out bytes.Buffer
	if err := a.Write(&out, func(d string) bool { return d == "sha256:d1" }); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	for _, f := range files {
		if sent := slices.Contains(names, f.name); sent != (f.name != "blobs/sha256/b1") {
			t.Errorf("%s sent: %v", f.name, sent)
		}
	}
}
