package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An app in a subdirectory of its repository (a monorepo, or this
// repository's examples) is packed from that directory only, committed
// content only.
func TestBuildArtifactOfAnAppInASubdirectory(t *testing.T) {
	repo := t.TempDir()
	app := filepath.Join(repo, "apps", "site")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "manage.py"), []byte("print('hi')\n"), 0o644)
	os.WriteFile(filepath.Join(app, "requirements.txt"), []byte("Django\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "other.txt"), []byte("not the app\n"), 0o644)
	run := func(dir string, args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	run(repo, "git", "init", "-q")
	run(repo, "git", "add", "-A")
	run(repo, "git", "commit", "-qm", "x")
	os.WriteFile(filepath.Join(app, "manage.py"), []byte("print('uncommitted')\n"), 0o644)

	a, err := BuildArtifact(context.Background(), app, "HEAD", "requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Remove()
	if !a.Dirty || string(a.Requirements) != "Django" || len(a.Sum) != 64 {
		t.Errorf("artifact %+v", a)
	}
	out, err := exec.Command("tar", "-tzf", a.Path).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(out))
	if strings.Join(names, " ") != "manage.py requirements.txt" {
		t.Errorf("artifact holds %v, want the app's files only", names)
	}
	content, _ := exec.Command("tar", "-xzOf", a.Path, "manage.py").Output()
	if string(content) != "print('hi')\n" {
		t.Errorf("the artifact must hold the committed file, got %q", content)
	}
	if _, err := BuildArtifact(context.Background(), app, "no-such-ref", ""); err == nil || !strings.Contains(err.Error(), "not a commit") {
		t.Errorf("a bad ref: %v", err)
	}
}
