package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hoist reaches a host it can only reach through a jump host, named by an
// ~/.ssh/config alias, with every known_hosts entry hashed.
func TestProxyJumpAndHashedKnownHosts(t *testing.T) {
	skipShort(t)
	jump, target := shared.Hosts[1], shared.Hosts[2]
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	key := filepath.Join(shared.Home, ".ssh", "id_ed25519")

	var known strings.Builder
	for _, entry := range []struct{ addr, pub string }{
		{fmt.Sprintf("[127.0.0.1]:%d", jump.SSHPort), jump.HostKey},
		{target.IP, target.HostKey}, // port 22, as seen from the jump host
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
  User deploy
  IdentityFile %s

Host hidden
  HostName %s
  User deploy
  ProxyJump bastion
  IdentityFile %s
`, jump.SSHPort, key, target.IP, key)
	os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), []byte(known.String()), 0o600)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(config), 0o600)

	a := newApp(t, shared, "notes", "jumped", notesYML("jumped.test", "[hidden]", "      DATABASE_URL: \"sqlite:////srv/jumped/shared/db.sqlite3\""))
	for i, e := range a.env {
		if strings.HasPrefix(e, "HOME=") {
			a.env[i] = "HOME=" + home
		}
	}
	out := a.mustHoist("lock", "prod")
	if !strings.Contains(out, "hidden: free") {
		t.Errorf("want the lock state of the hidden host, got:\n%s", out)
	}
}
