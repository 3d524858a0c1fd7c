package release

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// With media and media/avatars both shared, the link script followed the
// new media link into shared/ and its rm -rf deleted the uploads there.
func TestLinkSharedRefusesAParentOutsideTheRelease(t *testing.T) {
	root := t.TempDir()
	l := Layout{Root: root}
	id := "20261121T220501Z-1a2b3c4"
	photo := filepath.Join(l.Shared(), "media", "avatars", "photo.jpg")
	outside := filepath.Join(root, "outside", "x", "keep")
	for _, f := range []string{photo, outside, filepath.Join(l.Release(id), "media", "avatars", "seed.jpg")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(l.Release(id), "evil")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, dirs := range [][]string{{"media", "media/avatars"}, {"evil/x"}} {
		err := linkShared(ctx, l, id, nil, dirs)
		if err == nil || !strings.Contains(err.Error(), "outside the release") {
			t.Errorf("shared_dirs %v: want a refusal, got %v", dirs, err)
		}
	}
	for _, f := range []string{photo, outside} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was deleted: %v", f, err)
		}
	}
	// The plain case still links.
	if err := linkShared(ctx, l, id, []string{"db.sqlite3"}, []string{"static/uploads"}); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(l.Release(id), "static", "uploads")); err != nil || target != filepath.Join(l.Shared(), "static", "uploads") {
		t.Errorf("static/uploads links to %q, %v", target, err)
	}
}

func linkShared(ctx context.Context, l Layout, id string, files, dirs []string) error {
	_, err := remote.Output(ctx, remote.Local{}, remote.Chain(linkSharedCmd(l, id, files, dirs)))
	return err
}
