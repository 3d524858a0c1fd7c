package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// probeScript sends one HTTP request to a unix socket, the way the web
// server will, and reports what came back as JSON. Python is on every host
// already; curl may not be.
const probeScript = `
import json, socket, sys
sock, path, host, proto, timeout = sys.argv[1:6]
out = {"status": 0, "body": "", "error": ""}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    s.connect(sock)
    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\nX-Forwarded-Proto: %s\r\nX-Forwarded-For: 127.0.0.1\r\nUser-Agent: hoist-health\r\n\r\n" % (path, host, proto)).encode())
    data = b""
    while len(data) < 65536:
        chunk = s.recv(8192)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    out["status"] = int(head.split(b" ", 2)[1])
    out["body"] = body.decode("utf-8", "replace")
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
`

// Probe is one health-check answer.
type Probe struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

// CheckError is a release that did not become healthy.
type CheckError struct {
	Last    Probe
	Crashed bool   // the service died instead of answering
	Journal string // the service's last log lines
	Want    config.Health
	HostHdr string
}

func (e *CheckError) Error() string {
	var b strings.Builder
	switch {
	case e.Crashed:
		b.WriteString("the new release's gunicorn exited instead of serving")
	case e.Last.Error != "":
		fmt.Fprintf(&b, "GET %s (Host: %s) failed: %s", e.Want.Path, e.HostHdr, e.Last.Error)
	case e.Last.Status != e.Want.Status:
		fmt.Fprintf(&b, "GET %s (Host: %s) answered %d, want %d", e.Want.Path, e.HostHdr, e.Last.Status, e.Want.Status)
		if e.Last.Status == 400 {
			b.WriteString(" (Django answers 400 to a Host header not in ALLOWED_HOSTS: set health.host or fix DJANGO_ALLOWED_HOSTS)")
		}
	default:
		fmt.Fprintf(&b, "GET %s (Host: %s) answered %d but the body lacks %q", e.Want.Path, e.HostHdr, e.Last.Status, e.Want.Contains)
	}
	if body := strings.TrimSpace(e.Last.Body); body != "" && !e.Crashed {
		if len(body) > 600 {
			body = body[:600] + " ..."
		}
		b.WriteString("\nresponse: " + body)
	}
	if e.Journal != "" {
		b.WriteString("\nservice log:\n" + e.Journal)
	}
	return b.String()
}

// Check waits until the release's own socket answers the health check, or
// gives up after the configured retries. It talks to the socket directly,
// so a release is judged before any user can reach it.
func Check(ctx context.Context, h *remote.Host, s Site, id string, hc config.Health, hostHeader, proto string) error {
	cmd := remote.Command(s.Python, "-c", probeScript, s.layout().Socket(id), hc.Path, hostHeader, proto,
		strconv.FormatFloat(hc.Timeout.Seconds(), 'f', -1, 64))
	var last Probe
	for attempt := 0; attempt < hc.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		out, err := remote.Output(ctx, h, cmd)
		if err != nil {
			return fmt.Errorf("run the health probe: %w", err)
		}
		if err := json.Unmarshal([]byte(out), &last); err != nil {
			return fmt.Errorf("health probe said %q: %w", out, err)
		}
		if last.Error == "" && last.Status == hc.Status && strings.Contains(last.Body, hc.Contains) {
			return nil
		}
		if crashed(ctx, h, s, id) {
			return &CheckError{Last: last, Crashed: true, Journal: Journal(ctx, h, s, id, 30), Want: hc, HostHdr: hostHeader}
		}
	}
	return &CheckError{Last: last, Journal: Journal(ctx, h, s, id, 15), Want: hc, HostHdr: hostHeader}
}

// crashed tells whether systemd has had to restart the service, or gave up
// on it: waiting longer will not help.
func crashed(ctx context.Context, h *remote.Host, s Site, id string) bool {
	out, err := remote.Output(ctx, h, remote.Command("systemctl", "show", "-p", "NRestarts", "-p", "ActiveState", s.Instance(id)+".service"))
	if err != nil {
		return false
	}
	return strings.Contains(out, "ActiveState=failed") || (strings.Contains(out, "NRestarts=") && !strings.Contains(out, "NRestarts=0"))
}

// Journal returns the last lines the release's service logged.
func Journal(ctx context.Context, h *remote.Host, s Site, id string, lines int) string {
	out, _ := remote.Output(ctx, h, h.Sudo("journalctl", "-u", s.Instance(id)+".service", "-n", strconv.Itoa(lines), "--no-pager", "-o", "cat"))
	return strings.TrimSpace(out)
}
