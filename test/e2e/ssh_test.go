package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// hoist reaches a host it can only reach through a chain of two jump hosts
// (ProxyJump first,second: first is reached directly, second through
// first, the target through second), named by an ~/.ssh/config alias, with
// every known_hosts entry hashed. A file named "none" planted in the
// project, holding a key that would vouch for nothing real, is never read:
// GlobalKnownHostsFile none means no file.
func TestProxyJumpAndHashedKnownHosts(t *testing.T) {
	t.Parallel()
	skipShort(t)
	first, second, target := shared.Hosts[0], shared.Hosts[1], shared.Hosts[2]
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	key := filepath.Join(shared.Home, ".ssh", "id_ed25519")

	var known strings.Builder
	for _, entry := range []struct{ addr, pub string }{
		{fmt.Sprintf("[127.0.0.1]:%d", first.SSHPort), first.HostKey},
		{second.IP, second.HostKey}, // port 22, as seen from the first jump host
		{target.IP, target.HostKey}, // port 22, as seen from the second
	} {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(entry.pub))
		if err != nil {
			t.Fatal(err)
		}
		known.WriteString(knownhosts.Line([]string{knownhosts.HashHostname(entry.addr)}, pk) + "\n")
	}
	config := fmt.Sprintf(`Host bastion
  HostName 127.0.0.1
  Port %d

Host inner
  HostName %s

Host hidden
  HostName %s
  ProxyJump bastion,inner

Host *
  User deploy
  IdentityFile %s
  UserKnownHostsFile ~/.ssh/known_hosts
  GlobalKnownHostsFile none
`, first.SSHPort, second.IP, target.IP, key)
	os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), []byte(known.String()), 0o600)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(config), 0o600)

	a := newApp(t, shared, "notes", "jumped", notesYML("jumped.test", "[hidden]", "      DATABASE_URL: \"sqlite:////srv/jumped/shared/db.sqlite3\""))
	for i, e := range a.env {
		if strings.HasPrefix(e, "HOME=") {
			a.env[i] = "HOME=" + home
		}
	}
	// Were "none" a file, this one would be read from the project directory.
	os.WriteFile(filepath.Join(a.dir, "none"), []byte("garbage that is not a known_hosts line\n"), 0o600)
	since := time.Now().Add(-time.Second).Unix()
	out := a.mustHoist("releases", "prod")
	if !strings.Contains(out, "hidden:\n  no releases yet") {
		t.Errorf("want the releases of the hidden host, got:\n%s", out)
	}
	// Each hop was reached from the one before: sshd logs where each login
	// came from. (Dialing only the last hop, as hoist once did, logs in to
	// the second host from this machine.) Other tests log in to the same
	// hosts from this machine meanwhile, so look for the hop's login among
	// all of them since this test began.
	loginsFrom := func(h *fleet.Host, ip string) string {
		return sh(t, h, fmt.Sprintf("journalctl -u ssh --no-pager -o cat --since @%d | grep -F 'Accepted publickey for deploy from %s ' || true", since, ip))
	}
	if loginsFrom(second, first.IP) == "" {
		t.Errorf("the second jump host has no login from the first %s since the test began", first.IP)
	}
	if loginsFrom(target, second.IP) == "" {
		t.Errorf("the target has no login from the second jump host %s since the test began", second.IP)
	}
}

// A host paused in the middle of a command is given up after about 30
// seconds of silence, with a message naming it, instead of holding hoist
// for as long as it is paused. hoist logs -f runs until stopped, so only
// the keepalives can end it here.
func TestPausedHostIsGivenUp(t *testing.T) {
	skipShort(t)
	h := shared.Hosts[2]
	a := newApp(t, shared, "notes", "paused", notesYML("paused.test", hostList(h), "      DATABASE_URL: \"sqlite:////srv/paused/shared/db.sqlite3\""))
	// A unit for logs to follow, without a deploy.
	sh(t, h, "systemd-run --unit hoist-paused@keepalive.service sleep 600 && sleep 1")
	defer sh(t, h, "systemctl stop hoist-paused@keepalive.service || true")
	ctx := context.Background()
	defer h.Unpause(ctx)
	time.AfterFunc(3*time.Second, func() { h.Pause(ctx) })
	start := time.Now()
	out, code := a.hoist("logs", "prod", "-f")
	took := time.Since(start)
	if code == 0 || !strings.Contains(out, "stopped answering (no reply to keepalives for 30s)") || !strings.Contains(out, h.Name) {
		t.Errorf("exit %d; want a failure naming %s that says it stopped answering", code, h.Name)
	}
	if took > 50*time.Second {
		t.Errorf("gave the paused host up after %s; want about 33s", took)
	}
}
