package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hoistdeploy/hoist/internal/config"
)

// testServer is an SSH server on loopback, in this process: it runs
// "echo WORD" and "sleep", forwards TCP (so it can be a jump host), and can
// be paused like a frozen host, answering nothing.
type testServer struct {
	ln       net.Listener
	port     int
	key      ssh.Signer
	mu       sync.Mutex
	forwards []string      // where it was asked to forward to, in order
	running  chan struct{} // closed while the server answers
	stop     chan struct{}
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, key: key, running: make(chan struct{}), stop: make(chan struct{})}
	close(s.running)
	t.Cleanup(func() { close(s.stop); ln.Close() })
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(key)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn, cfg)
		}
	}()
	return s
}

// pause makes the server stop answering, as docker pause does.
func (s *testServer) pause() {
	s.mu.Lock()
	s.running = make(chan struct{})
	s.mu.Unlock()
}

// await blocks while the server is paused.
func (s *testServer) await() {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	select {
	case <-running:
	case <-s.stop:
	}
}

func (s *testServer) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go func() {
		for req := range reqs {
			s.await()
			req.Reply(false, nil) // as OpenSSH answers keepalive@openssh.com
		}
	}()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go s.session(nc)
		case "direct-tcpip":
			go s.forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func (s *testServer) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var cmd struct{ Command string }
		ssh.Unmarshal(req.Payload, &cmd)
		req.Reply(true, nil)
		if word, ok := strings.CutPrefix(cmd.Command, "echo "); ok {
			fmt.Fprintln(ch, word)
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			return
		}
		<-s.stop // sleep: until the test ends or the client goes away
		return
	}
}

func (s *testServer) forward(nc ssh.NewChannel) {
	var to struct {
		Host     string
		Port     uint32
		FromHost string
		FromPort uint32
	}
	ssh.Unmarshal(nc.ExtraData(), &to)
	addr := net.JoinHostPort(to.Host, fmt.Sprint(to.Port))
	s.mu.Lock()
	s.forwards = append(s.forwards, addr)
	s.mu.Unlock()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(conn, ch); conn.Close() }()
	io.Copy(ch, conn)
	ch.Close()
}

func (s *testServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *testServer) forwarded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwards...)
}

// sshHome makes a HOME with a client key, known_hosts holding the given
// servers' keys, and sshConfig as ~/.ssh/config.
func sshHome(t *testing.T, sshConfig string, known ...*testServer) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".ssh")
	os.MkdirAll(dir, 0o700)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(block), 0o600)
	var lines strings.Builder
	for _, s := range known {
		lines.WriteString(knownhosts.Line([]string{knownhosts.Normalize(s.addr())}, s.key.PublicKey()) + "\n")
	}
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(lines.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "config"), []byte(sshConfig), 0o600)
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	return home
}

func hostEntry(alias string, s *testServer, extra string) string {
	return fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port %d\n%s\n", alias, s.port, extra)
}

func dialAlias(t *testing.T, alias string, opts DialOptions) (*SSH, error) {
	t.Helper()
	a, err := config.ParseHostAddress(alias)
	if err != nil {
		t.Fatal(err)
	}
	return Dial(context.Background(), a, opts)
}

// ProxyJump a,b goes to a, through a to b, and through b to the target, as
// ssh -J does; it used to skip a.
func TestProxyJumpWalksEveryHop(t *testing.T) {
	a, b, target := newTestServer(t), newTestServer(t), newTestServer(t)
	sshHome(t, hostEntry("a", a, "")+hostEntry("b", b, "")+hostEntry("target", target, "  ProxyJump a,b"), a, b, target)
	s, err := dialAlias(t, "deploy@target", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := Output(context.Background(), s, "echo through")
	if err != nil || out != "through\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	if got := a.forwarded(); len(got) != 1 || got[0] != b.addr() {
		t.Errorf("a forwarded to %v, want only b (%s)", got, b.addr())
	}
	if got := b.forwarded(); len(got) != 1 || got[0] != target.addr() {
		t.Errorf("b forwarded to %v, want only the target (%s)", got, target.addr())
	}
}

// `UserKnownHostsFile none` means no file, not a file named "none" in the
// current directory, where a cloned repository could put its own key.
func TestKnownHostsNoneIsNoFile(t *testing.T) {
	srv := newTestServer(t)
	sshHome(t, hostEntry("web", srv, "  UserKnownHostsFile none\n  GlobalKnownHostsFile none"))
	wd := t.TempDir()
	t.Chdir(wd)
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.addr())}, srv.key.PublicKey())
	os.WriteFile(filepath.Join(wd, "none"), []byte(line+"\n"), 0o600)

	_, err := dialAlias(t, "web", DialOptions{})
	var hk *HostKeyError
	if !errors.As(err, &hk) || !hk.Unknown {
		t.Fatalf("want an unknown host key, got %v", err)
	}
}

// A relative known_hosts path is read by ssh from the current directory:
// hoist refuses it and says how to write it.
func TestKnownHostsRelativePathRefused(t *testing.T) {
	srv := newTestServer(t)
	sshHome(t, hostEntry("web", srv, "  UserKnownHostsFile .ssh/known_hosts"), srv)
	_, err := dialAlias(t, "web", DialOptions{})
	if err == nil || !strings.Contains(err.Error(), "relative path") || !strings.Contains(err.Error(), "~/.ssh/known_hosts") {
		t.Fatalf("want a refused relative path, got %v", err)
	}
}

// silentListener accepts TCP and never says a word, like a frozen sshd.
func silentListener(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// The handshake through a jump host used to have no timeout and ignore
// Ctrl-C.
func TestHandshakeThroughJumpHostTimesOutAndCancels(t *testing.T) {
	jump := newTestServer(t)
	port := silentListener(t)
	sshHome(t, hostEntry("jump", jump, "")+fmt.Sprintf("Host frozen\n  HostName 127.0.0.1\n  Port %d\n  ProxyJump jump\n", port), jump)

	start := time.Now()
	_, err := dialAlias(t, "frozen", DialOptions{ConnectTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("want a timeout, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %s", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	_, err = Dial(ctx, config.Address{Host: "frozen"}, DialOptions{ConnectTimeout: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Ctrl-C took %s", d)
	}
}

// A host paused in the middle of a command is given up after the
// keepalive deadline, with a message that says so, instead of holding the
// command for as long as it is paused.
func TestPausedHostIsGivenUp(t *testing.T) {
	defer func(i, d time.Duration) { keepAliveInterval, keepAliveDeadline = i, d }(keepAliveInterval, keepAliveDeadline)
	keepAliveInterval, keepAliveDeadline = 50*time.Millisecond, 400*time.Millisecond

	srv := newTestServer(t)
	sshHome(t, hostEntry("web", srv, ""), srv)
	s, err := dialAlias(t, "web", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Answering keepalives keeps a long command alive.
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), "sleep", nil, io.Discard, io.Discard) }()
	select {
	case err := <-done:
		t.Fatalf("a host that answers was given up: %v", err)
	case <-time.After(time.Second):
	}
	srv.pause()
	select {
	case err := <-done:
		var dead *DeadLinkError
		if !errors.As(err, &dead) || !errors.Is(err, ErrHostUnresponsive) {
			t.Fatalf("want a *DeadLinkError, got %T %v", err, err)
		}
		if !strings.Contains(err.Error(), "web stopped answering (no reply to keepalives for 400ms)") {
			t.Errorf("message: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting on a paused host")
	}
	// Later commands fail at once with the same error.
	next := make(chan error, 1)
	go func() { next <- s.Run(context.Background(), "echo x", nil, io.Discard, io.Discard) }()
	select {
	case err := <-next:
		if !errors.Is(err, ErrHostUnresponsive) {
			t.Errorf("next command: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the next command on a host given up is still waiting")
	}
}
