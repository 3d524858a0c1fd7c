package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// probeScript sends one HTTP request to an endpoint on the host (a
// release's unix socket, or the web server) and reports what came back as
// JSON. Python is on every host already; curl may not be. It runs with -S
// (no site-packages) and imports ssl only for HTTPS: a probe is on the
// path to every switch, and those imports are most of its start.
const probeScript = `
import json, socket, sys
endpoint, path, host, proto, timeout = sys.argv[1:6]
out = {"status": 0, "body": "", "error": ""}
try:
    if endpoint.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(float(timeout))
        s.connect(endpoint[5:])
    else:
        scheme, _, addr = endpoint.partition("://")
        ip, _, port = addr.rpartition(":")
        s = socket.create_connection((ip, int(port)), float(timeout))
        if scheme == "https":
            # The certificate is the web server's business; this checks the app behind it.
            import ssl
            s = ssl._create_unverified_context().wrap_socket(s, server_hostname=host)
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
	Path    string // the path that failed
	HostHdr string
	Via     string // where the request went
}

func (e *CheckError) Error() string {
	var b strings.Builder
	switch {
	case e.Crashed:
		b.WriteString("the new release's gunicorn exited instead of serving")
	case e.Last.Error != "":
		fmt.Fprintf(&b, "GET %s (Host: %s) via %s failed: %s", e.Path, e.HostHdr, e.Via, e.Last.Error)
	case e.Last.Status != e.Want.Status:
		fmt.Fprintf(&b, "GET %s (Host: %s) via %s answered %d, want %d", e.Path, e.HostHdr, e.Via, e.Last.Status, e.Want.Status)
		if e.Last.Status == 400 {
			b.WriteString(" (Django answers 400 to a Host header not in ALLOWED_HOSTS: set health.host or fix DJANGO_ALLOWED_HOSTS)")
		}
	default:
		fmt.Fprintf(&b, "GET %s (Host: %s) answered %d but the body lacks %q", e.Path, e.HostHdr, e.Last.Status, e.Want.Contains)
	}
	if body := strings.TrimSpace(e.Last.Body); body != "" && !e.Crashed {
		body = remote.Redact(body) // before the cut, which could split a secret
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

// Check waits until the release's own socket answers the health check on
// every path of hc, or gives up after the configured retries. It talks to the socket directly,
// so a release is judged before any user can reach it.
func Check(ctx context.Context, h *remote.Host, s Site, id string, hc config.Health, hostHeader string) error {
	return check(ctx, h, s, id, "unix:"+s.layout().Socket(id), hc, hostHeader, "")
}

// StartAndCheck is Start, then Check; the start and the first probe are
// one round trip.
func StartAndCheck(ctx context.Context, h *remote.Host, s Site, id string, hc config.Health, hostHeader string) error {
	return check(ctx, h, s, id, "unix:"+s.layout().Socket(id), hc, hostHeader, remote.Labeled("start", StartCmd(h, s, id)))
}

// CheckPublic runs first (the switch, labeled) and then asks the web
// server on the host, as a user's request would arrive: it proves the proxy
// reaches the live release.
func CheckPublic(ctx context.Context, h *remote.Host, s Site, id string, hc config.Health, hostHeader, first string) error {
	if s.Web.Server == config.NoWebServer {
		_, err := remote.Output(ctx, h, first)
		return err
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(s.Web.Port)
	if s.HTTPS() {
		endpoint = "https://127.0.0.1:443"
	}
	hc.Retries = 3
	return check(ctx, h, s, id, endpoint, hc, hostHeader, first)
}

// check probes every path of hc at endpoint until all answer as hc wants,
// or the retries run out. A first command, if any, runs in the round trip
// of the first probe, before it, labeled (remote.Labeled): "start" when it
// starts the release, whose log then comes with its failure.
func check(ctx context.Context, h *remote.Host, s Site, id, endpoint string, hc config.Health, hostHeader, first string) error {
	proto := "http"
	if s.HTTPS() {
		proto = "https"
	}
	paths := hc.Paths
	if len(paths) == 0 { // a Health not made by config.Load
		paths = []string{hc.Path}
	}
	timeout := strconv.FormatFloat(hc.Timeout.Seconds(), 'f', -1, 64)
	var last Probe
	var path string
	var tried time.Time
	for attempt := 0; attempt < hc.Retries; attempt++ {
		// Attempts start at most once a second; one that timed out
		// waiting for a busy instance has waited long enough.
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second - time.Since(tried)):
			}
		}
		tried = time.Now()
		// An attempt passes when every path does; it stops at the first
		// that fails, which the next attempt asks again.
		ok := true
		for _, path = range paths {
			cmd := remote.Labeled("probe", remote.Command(s.Python, "-S", "-c", probeScript, endpoint, path, hostHeader, proto, timeout))
			if first != "" {
				cmd = remote.Chain(first, cmd)
			}
			out, err := remote.Output(ctx, h, cmd)
			if err != nil && first != "" && strings.Contains(err.Error(), remote.Failed("start")) {
				return fmt.Errorf("start %s: %w\n%s", s.Instance(id), err, Journal(ctx, h, s, id, 20))
			}
			if err != nil && first != "" && !strings.Contains(err.Error(), remote.Failed("probe")) {
				// What ran before the probe failed: the probe never ran.
				return err
			}
			if err != nil {
				return fmt.Errorf("run the health probe: %w", err)
			}
			first = ""
			if err := json.Unmarshal([]byte(out), &last); err != nil {
				return fmt.Errorf("health probe said %q: %w", out, err)
			}
			if ok = last.Error == "" && last.Status == hc.Status && strings.Contains(last.Body, hc.Contains); !ok {
				break
			}
		}
		if ok {
			return nil
		}
		if crashed(ctx, h, s, id) {
			return &CheckError{Last: last, Crashed: true, Journal: crashExcerpt(Journal(ctx, h, s, id, 300)), Want: hc, Path: path, HostHdr: hostHeader}
		}
	}
	return &CheckError{Last: last, Journal: Journal(ctx, h, s, id, 15), Want: hc, Path: path, HostHdr: hostHeader, Via: endpoint}
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

// crashExcerpt picks from a crashed service's log the app's own error: the
// first traceback, to the exception line that ends it, which the restarts
// that follow (gunicorn's own HaltServer traceback, systemd's lines)
// would push out of a plain tail. Without a traceback, the last 30 lines.
func crashExcerpt(log string) string {
	lines := strings.Split(log, "\n")
	start := slices.IndexFunc(lines, func(l string) bool {
		return strings.HasPrefix(strings.TrimSpace(l), "Traceback (most recent call last)")
	})
	if start < 0 {
		return strings.Join(lines[max(0, len(lines)-30):], "\n")
	}
	// The frames are indented; the exception line that ends the traceback
	// is not.
	end := start + 1
	for end < len(lines) && strings.HasPrefix(lines[end], " ") {
		end++
	}
	excerpt := lines[max(0, start-1):min(len(lines), end+1)]
	if len(excerpt) > 40 {
		excerpt = append(append(excerpt[:10:10], "  ..."), excerpt[len(excerpt)-29:]...)
	}
	return strings.Join(excerpt, "\n")
}

// Journal returns the last lines the release's service logged.
func Journal(ctx context.Context, h *remote.Host, s Site, id string, lines int) string {
	out, _ := remote.Output(ctx, h, h.Sudo("journalctl", "-u", s.Instance(id)+".service", "-n", strconv.Itoa(lines), "--no-pager", "-o", "cat"))
	return strings.TrimSpace(out)
}
