package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// A single health path missed a release whose home page fails: every path
// of health.paths is asked, and the error names the one that failed.
func TestCheckAsksEveryPath(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("the probe runs with python3")
	}
	s := Site{App: "shop", Root: t.TempDir(), Python: "python3", Web: config.Web{Server: config.Nginx}}
	id := "20261121T220501Z-1a2b3c4"
	if err := os.MkdirAll(s.layout().Run(), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", s.layout().Socket(id))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			http.Error(w, "boom", 500)
			return
		}
		w.Write([]byte("ok"))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	h := &remote.Host{Transport: remote.Local{}, Root: true}
	hc := config.Health{Paths: []string{"/", "/up"}, Status: 200, Timeout: 2 * time.Second, Retries: 1}
	if err := Check(context.Background(), h, s, id, hc, "shop.example.com"); err != nil {
		t.Fatalf("healthy paths: %v", err)
	}
	hc.Paths = []string{"/", "/broken", "/up"}
	err = Check(context.Background(), h, s, id, hc, "shop.example.com")
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Path != "/broken" || ce.Last.Status != 500 {
		t.Fatalf("want a CheckError for /broken, got %v", err)
	}
}

// A crash loop logs gunicorn's own traceback and systemd's restarts after
// the app's error: the excerpt shows the app's.
func TestCrashExcerptShowsTheAppsError(t *testing.T) {
	var log []string
	log = append(log, "[INFO] Booting worker with pid: 7", "[ERROR] Exception in worker process", "Traceback (most recent call last):",
		`  File "/usr/lib/python3/dist-packages/gunicorn/arbiter.py", line 589, in spawn_worker`, "    worker.init_process()",
		`  File "/srv/app/releases/x/notes/wsgi.py", line 9, in <module>`, "RuntimeError: boom at import", "[INFO] Worker exiting (pid: 7)")
	for i := 0; i < 5; i++ {
		log = append(log, "Traceback (most recent call last):", `  File "gunicorn/arbiter.py", line 525, in reap_workers`,
			"gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>",
			"hoist-app@x.service: Main process exited, code=exited, status=1/FAILURE", "Scheduled restart job, restart counter is at 1.")
	}
	got := crashExcerpt(strings.Join(log, "\n"))
	if !strings.Contains(got, "RuntimeError: boom at import") || !strings.Contains(got, "wsgi.py") {
		t.Errorf("excerpt lacks the app's error:\n%s", got)
	}
	if strings.Contains(got, "HaltServer") {
		t.Errorf("excerpt goes on into gunicorn's own traceback:\n%s", got)
	}
	if got := crashExcerpt("no\ntraceback\nhere"); got != "no\ntraceback\nhere" {
		t.Errorf("without a traceback: %q", got)
	}
}

// The switch runs in the round trip of the check through the web server:
// a switch that fails is reported as the switch's failure, not the app's,
// and a probe follows one that succeeds.
func TestCheckPublicRunsTheSwitchFirst(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("the probe runs with python3")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(ln)
	defer srv.Close()
	s := Site{App: "shop", Root: t.TempDir(), Python: "python3", Web: config.Web{Server: config.Nginx, Port: ln.Addr().(*net.TCPAddr).Port}}
	id := "20261121T220501Z-1a2b3c4"
	h := &remote.Host{Transport: remote.Local{}, Root: true}
	hc := config.Health{Paths: []string{"/"}, Status: 200, Timeout: 2 * time.Second, Retries: 1}
	marker := s.Root + "/switched"

	err = CheckPublic(context.Background(), h, s, id, hc, "shop.example.com", remote.Labeled("switch", "false"))
	var ce *CheckError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), remote.Failed("switch")) || strings.Contains(err.Error(), "start") {
		t.Fatalf("a failing switch: %v; want the switch's failure", err)
	}
	if err := CheckPublic(context.Background(), h, s, id, hc, "shop.example.com", remote.Labeled("switch", remote.Command("touch", marker))); err != nil {
		t.Fatalf("a switch that works, then a healthy site: %v", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the switch did not run: %v", err)
	}
}
