package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
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
