package serve

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

const (
	oldID = "20261121T220501Z-1a2b3c4"
	newID = "20261122T220501Z-5d6e7f8"
)

// staticHost is a deploy_to in a temporary directory with two releases,
// each with its static files collected into STATIC_ROOT inside it and
// linked as .hoist-static, as a deploy leaves them.
func staticHost(t *testing.T) release.Layout {
	t.Helper()
	// The web server's workers must reach the files: t.TempDir is 0700.
	root := filepath.Join(t.TempDir(), "srv")
	if err := os.Chmod(filepath.Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	l := release.Layout{Root: root}
	files := map[string]map[string]string{
		oldID: {
			"board/site.css": "old css", "board/site.0a0a0a.css": "old css",
			"shared.1b1b1b.js": "same in both", "staticfiles.json": "old manifest",
		},
		newID: {
			"board/site.css": "new css", "board/site.9f9f9f.css": "new css",
			"shared.1b1b1b.js": "same in both", "staticfiles.json": "new manifest",
		},
	}
	for id, fs := range files {
		for name, body := range fs {
			p := filepath.Join(l.Release(id), "static", name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(filepath.Join(l.Release(id), "static"), l.Static(id)); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(l.Shared(), 0o755)
	os.WriteFile(l.SharedEnv(), []byte("SECRET=never-served\n"), 0o644)
	point(t, l, newID)
	return l
}

// point switches current, as release.Switch does.
func point(t *testing.T, l release.Layout, id string) {
	t.Helper()
	if err := release.Switch(context.Background(), remote.Local{}, l, id, false); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serveStatic starts the web server on the site setup would write for l
// and returns a GET that answers status and body.
func serveStatic(t *testing.T, server config.WebServer, l release.Layout) func(string) (int, string) {
	t.Helper()
	p := parsers(t)
	port := freePort(t)
	s := testSite(server)
	s.Root, s.Web.Port, s.Web.TLS = l.Root, port, config.TLSOff
	dir := t.TempDir()
	var site []byte
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(f.Path, "/etc/nginx/") || strings.HasPrefix(f.Path, "/etc/caddy/") {
			site = f.Content
		}
	}
	var cmd *exec.Cmd
	switch server {
	case config.Nginx:
		// One process, in the foreground: killing it leaves no worker.
		conf := fmt.Sprintf("user root;\npid %s/nginx.pid;\nerror_log stderr;\ndaemon off;\nmaster_process off;\nevents {}\nhttp {\n access_log off;\n include %s/site.conf;\n}\n", dir, dir)
		os.WriteFile(filepath.Join(dir, "site.conf"), site, 0o644)
		os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
		cmd = exec.Command(p.nginx, "-p", dir, "-e", "stderr", "-c", filepath.Join(dir, "nginx.conf"))
	case config.Caddy:
		main := fmt.Sprintf("{\n\tadmin off\n}\nimport %s/site.caddy\n", dir)
		os.WriteFile(filepath.Join(dir, "site.caddy"), site, 0o644)
		os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(main), 0o644)
		cmd = exec.Command(p.caddy, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	}
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s\nsite:\n%s", server, log.String(), site)
		}
	})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := get("/static/staticfiles.json"); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer on port %d:\n%s", server, port, log.String())
		}
	}
	return get
}

// The real nginx and Caddy, on the site setup writes, serve the live
// release's static files first and the earlier releases' after, follow a
// rollback at once, and stop serving a pruned release's files.
func TestStaticFilesAcrossReleases(t *testing.T) {
	for _, server := range []config.WebServer{config.Nginx, config.Caddy} {
		t.Run(string(server), func(t *testing.T) {
			l := staticHost(t)
			ctx := context.Background()
			if err := linkStaticFallback(ctx, l); err != nil {
				t.Fatal(err)
			}
			get := serveStatic(t, server, l)
			expect := func(when, path string, code int, body string) {
				t.Helper()
				gotCode, gotBody := get(path)
				if gotCode != code || (body != "" && gotBody != body) {
					t.Errorf("%s: GET %s = %d %.80q, want %d %q", when, path, gotCode, gotBody, code, body)
				}
			}
			expect("new live", "/static/board/site.9f9f9f.css", 200, "new css")
			expect("new live", "/static/board/site.0a0a0a.css", 200, "old css")
			expect("new live", "/static/board/site.css", 200, "new css")
			expect("new live", "/static/staticfiles.json", 200, "new manifest")
			expect("new live", "/static/shared.1b1b1b.js", 200, "same in both")
			expect("new live", "/static/board/missing.css", 404, "")
			// Nothing outside the static dirs, and no directories.
			for _, p := range []string{"/static/", "/static/board", "/static/board/", "/static/../shared/.env",
				"/static/%2e%2e/shared/.env", "/static/..%2fshared/.env", "/static/%2e%2e/%2e%2e/shared/.env",
				"/static/*", "/static/board/*.css", "/static/.hoist-static/staticfiles.json"} {
				if code, body := get(p); code == 200 || strings.Contains(body, "never-served") {
					t.Errorf("GET %s = %d %.80q, want an error", p, code, body)
				}
			}

			// A rollback: the release rolled back to answers first, with
			// its manifest; the newer release's names still answer.
			point(t, l, oldID)
			expect("rolled back", "/static/board/site.css", 200, "old css")
			expect("rolled back", "/static/staticfiles.json", 200, "old manifest")
			expect("rolled back", "/static/board/site.9f9f9f.css", 200, "new css")
			point(t, l, newID)

			// Pruning deletes the release: its files go at once, before
			// any relinking; a name the live release shares stays.
			if err := os.RemoveAll(l.Release(oldID)); err != nil {
				t.Fatal(err)
			}
			expect("pruned", "/static/board/site.0a0a0a.css", 404, "")
			expect("pruned", "/static/shared.1b1b1b.js", 200, "same in both")
			if err := linkStaticFallback(ctx, l); err != nil {
				t.Fatal(err)
			}
			expect("relinked", "/static/board/site.0a0a0a.css", 404, "")
			expect("relinked", "/static/board/site.9f9f9f.css", 200, "new css")
		})
	}
}

// Each rebuild swaps in a whole new tree and leaves no old one behind;
// a name several releases have points at the newest of them.
func TestLinkStaticFallback(t *testing.T) {
	l := staticHost(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := linkStaticFallback(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	trees, _ := filepath.Glob(filepath.Join(l.StaticFallbackTrees(), "tree.*"))
	if len(trees) != 2 {
		t.Errorf("want one tree and its list after three rebuilds, have %v", trees)
	}
	data, err := os.ReadFile(filepath.Join(l.StaticFallback(), "board/site.css"))
	if err != nil || string(data) != "new css" {
		t.Errorf("board/site.css in the fallback = %q %v, want the newest release's", data, err)
	}
	if target, _ := os.Readlink(filepath.Join(l.StaticFallback(), "board/site.0a0a0a.css")); !strings.HasPrefix(target, l.Static(oldID)) {
		t.Errorf("a fallback file should link into its release's static dir, links to %q", target)
	}

	// A host set up but never deployed has no releases/ yet.
	empty := release.Layout{Root: t.TempDir()}
	if err := linkStaticFallback(ctx, empty); err != nil {
		t.Fatalf("no releases yet: %v", err)
	}
	if entries, err := os.ReadDir(empty.StaticFallback()); err != nil || len(entries) != 0 {
		t.Errorf("no releases: the fallback should be an empty tree: %v %v", entries, err)
	}
}

// A name that is a directory in one release and a file in the next cannot
// be linked: the rest of the tree is, and the problem is reported as what
// it is, not as a failed command.
func TestLinkStaticFallbackReportsWhatItCouldNotLink(t *testing.T) {
	l := staticHost(t)
	// In the old release, "board" is a directory; in a newer one, a file.
	third := "20261123T220501Z-9a9a9a9"
	if err := os.MkdirAll(filepath.Join(l.Release(third), "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(l.Release(third), "static", "board"), []byte("a file"), 0o644)
	os.WriteFile(filepath.Join(l.Release(third), "static", "third.css"), []byte("third"), 0o644)
	os.Symlink(filepath.Join(l.Release(third), "static"), l.Static(third))
	err := linkStaticFallback(context.Background(), l)
	if err == nil || !strings.Contains(err.Error(), "not all linked") || !strings.Contains(err.Error(), "board") {
		t.Fatalf("want the conflict on board reported, got %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(l.StaticFallback(), "third.css")); err != nil || string(data) != "third" {
		t.Errorf("the rest should be linked: third.css = %q, %v", data, err)
	}
}

// linkStaticFallback rebuilds the fallback here, as a deploy's pruning
// does on a host.
func linkStaticFallback(ctx context.Context, l release.Layout) error {
	return runFallback(ctx, RelinkStaticCmd(l))
}

func runFallback(ctx context.Context, cmd string) error {
	out, err := remote.Output(ctx, remote.Local{}, cmd)
	if err != nil {
		return fmt.Errorf("link releases' static files: %w", err)
	}
	return FallbackProblem(out)
}

// Keeping the release current points to links it into the served tree in
// place; the tree is rebuilt only when that release is older than one the
// tree holds, and a release being built is never linked.
func TestKeepStaticLinksTheLiveReleaseInPlace(t *testing.T) {
	l := staticHost(t)
	ctx := context.Background()
	served := func() string {
		t.Helper()
		tree, err := os.Readlink(l.StaticFallback())
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(l.StaticFallback(), name))
		if err != nil {
			return "missing"
		}
		return string(data)
	}
	listed := func() string {
		data, _ := os.ReadFile(filepath.Join(l.StaticFallbackTrees(), served()+".list"))
		return strings.Join(strings.Fields(string(data)), " ")
	}
	keep := func(live, building string) {
		t.Helper()
		point(t, l, live)
		if err := runFallback(ctx, KeepStaticCmd(l, building)); err != nil {
			t.Fatal(err)
		}
	}

	// oldID is live and newID is being built: no tree yet, so one is
	// built, without newID, which a failed deploy would remove.
	keep(oldID, newID)
	first := served()
	if got := read("board/site.css") + "|" + read("board/site.0a0a0a.css") + "|" + read("board/site.9f9f9f.css"); got != "old css|old css|missing" {
		t.Errorf("after the first keep: site.css|old hashed|new hashed = %s", got)
	}
	if got := listed(); got != oldID {
		t.Errorf("the tree lists %q, want %s", got, oldID)
	}

	// newID went live: linked into the same tree.
	third := "20261123T220501Z-9a9a9a9"
	os.MkdirAll(filepath.Join(l.Release(third), ".hoist-static"), 0o755)
	os.WriteFile(filepath.Join(l.Release(third), ".hoist-static", "third.css"), []byte("third"), 0o644)
	keep(newID, "")
	if served() != first {
		t.Errorf("keeping a newer release rebuilt the tree (%s, was %s)", served(), first)
	}
	if got := read("board/site.css") + "|" + read("board/site.0a0a0a.css") + "|" + read("board/site.9f9f9f.css") + "|" + read("third.css"); got != "new css|old css|new css|missing" {
		t.Errorf("after keeping newID: site.css|old hashed|new hashed|third = %s", got)
	}
	if got := listed(); got != oldID+" "+newID {
		t.Errorf("the tree lists %q, want both releases", got)
	}
	keep(newID, third)
	if got := listed(); got != oldID+" "+newID {
		t.Errorf("keeping a listed release again changed the list to %q", got)
	}

	// A rollback made oldID live: it is listed, so nothing changes. A
	// live release older than the newest listed, and not listed, gets the
	// tree rebuilt, so a name still points at the newest release that
	// has it; one tree and its list are left.
	keep(oldID, "")
	if served() != first {
		t.Error("keeping a listed release rebuilt the tree")
	}
	mid := "20261121T230501Z-7b7b7b7"
	os.MkdirAll(filepath.Join(l.Release(mid), ".hoist-static", "board"), 0o755)
	os.WriteFile(filepath.Join(l.Release(mid), ".hoist-static", "board", "site.css"), []byte("mid css"), 0o644)
	keep(mid, "")
	if served() == first {
		t.Error("keeping a release older than the tree's newest should rebuild it")
	}
	if got := read("board/site.css") + "|" + read("third.css"); got != "new css|third" {
		t.Errorf("after the rebuild: site.css|third = %s, want the newest release's", got)
	}
	if left, _ := filepath.Glob(filepath.Join(l.StaticFallbackTrees(), "tree.*")); len(left) != 2 {
		t.Errorf("want one tree and its list after a rebuild, have %v", left)
	}

	// Pruned releases leave dead links in a tree that only grows; once
	// five of those it lists are gone, the next keep rebuilds it.
	rebuilt := served()
	for i, id := range []string{oldID, mid} {
		os.RemoveAll(l.Release(id))
		fourth := fmt.Sprintf("20261124T22050%dZ-4b4b4b4", i)
		os.MkdirAll(filepath.Join(l.Release(fourth), ".hoist-static"), 0o755)
		keep(fourth, "")
	}
	if served() != rebuilt {
		t.Errorf("two pruned releases should not rebuild the tree")
	}
	for i := 2; i < 5; i++ {
		os.RemoveAll(l.Release(fmt.Sprintf("20261124T22050%dZ-4b4b4b4", i-2)))
		next := fmt.Sprintf("20261124T22050%dZ-4b4b4b4", i)
		os.MkdirAll(filepath.Join(l.Release(next), ".hoist-static"), 0o755)
		keep(next, "")
	}
	if served() == rebuilt {
		t.Errorf("the tree should have been rebuilt once five releases it lists were pruned")
	}
	if got := listed(); strings.Contains(got, oldID) || strings.Contains(got, mid) {
		t.Errorf("the rebuilt tree still lists pruned releases: %s", got)
	}
}
