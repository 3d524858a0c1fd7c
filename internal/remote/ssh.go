package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/hoistdeploy/hoist/internal/config"
)

// SSH is one connection to a host, reused for every command run there.
type SSH struct {
	name   string // as the user wrote it, for messages
	client *ssh.Client
	jumps  []*ssh.Client // ProxyJump hops in the order connected, closed with the client
	done   chan struct{} // closed by Close

	dead    chan struct{} // closed when keepalives found the link dead
	deadErr *DeadLinkError
}

// How often hoist asks a host whether it is still there, and how long
// without any answer it waits before it gives the host up. A paused or
// cut-off host otherwise holds a deploy for as long as TCP takes to notice,
// which can be hours. Variables so tests can shorten them.
var (
	keepAliveInterval = 5 * time.Second
	keepAliveDeadline = 30 * time.Second
)

// DeadLinkError is a host that stopped answering in the middle of a
// command: paused, frozen, or cut off the network.
type DeadLinkError struct {
	Host    string
	Silence time.Duration
}

func (e *DeadLinkError) Error() string {
	return fmt.Sprintf("%s stopped answering (no reply to keepalives for %s): check that the host is up and reachable", e.Host, e.Silence)
}

// ErrHostUnresponsive matches a *DeadLinkError with errors.Is.
var ErrHostUnresponsive = errors.New("host stopped answering")

func (e *DeadLinkError) Is(target error) bool { return target == ErrHostUnresponsive }

// Dial connects to addr (an ~/.ssh/config alias and/or user@host:port),
// through every ProxyJump hop, verifying each host key against known_hosts.
func Dial(ctx context.Context, addr config.Address, opts DialOptions) (*SSH, error) {
	sc, err := loadSSHConfig()
	if err != nil {
		return nil, err
	}
	s := &SSH{name: addr.String(), done: make(chan struct{}), dead: make(chan struct{})}
	client, err := s.dial(ctx, sc, addr, opts, 0)
	if err != nil {
		s.closeJumps()
		return nil, err
	}
	s.client = client
	go s.keepAlive(keepAliveInterval, keepAliveDeadline)
	return s, nil
}

// DialOptions are what the command line can add to ~/.ssh/config.
type DialOptions struct {
	Identity       string        // a private key file, tried first
	ConnectTimeout time.Duration // TCP connect plus SSH handshake, per hop
}

// maxHops bounds a ProxyJump chain, so a loop in ~/.ssh/config (a host that
// jumps through itself) fails instead of dialing forever.
const maxHops = 8

// dial connects to addr. When ~/.ssh/config gives it a ProxyJump list, the
// hops are connected in order, as ssh -J does: the first one the way its own
// config says (it may have a ProxyJump of its own), each next one through
// the one before, and addr through the last.
func (s *SSH) dial(ctx context.Context, sc *sshConfig, addr config.Address, opts DialOptions, depth int) (*ssh.Client, error) {
	ep, err := sc.resolve(addr)
	if err != nil {
		return nil, err
	}
	if depth+len(ep.proxyJump) > maxHops {
		return nil, fmt.Errorf("the ProxyJump chain to %s is longer than %d hops: is there a loop in ~/.ssh/config?", addr, maxHops)
	}
	var via *ssh.Client
	for i, hop := range ep.proxyJump {
		var c *ssh.Client
		if i == 0 {
			c, err = s.dial(ctx, sc, hop, opts, depth+1)
		} else {
			var hep *endpoint
			if hep, err = sc.resolve(hop); err == nil {
				c, err = s.handshake(ctx, hep, via, opts)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("via jump host %s: %w", hop, err)
		}
		s.jumps = append(s.jumps, c)
		via = c
	}
	return s.handshake(ctx, ep, via, opts)
}

// handshake opens TCP to ep (directly, or from the jump host via) and runs
// the SSH handshake, within the connect timeout and giving up at once when
// ctx ends. A host that accepts TCP but never answers (a paused VM, a
// firewall that drops packets) must not hang the command.
func (s *SSH) handshake(ctx context.Context, ep *endpoint, via *ssh.Client, opts DialOptions) (*ssh.Client, error) {
	timeout := opts.ConnectTimeout
	if timeout == 0 {
		timeout = ep.connectTimeout
	}
	cfg, err := clientConfig(ep, opts.Identity)
	if err != nil {
		return nil, err
	}
	addr := hostPort(ep)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var conn net.Conn
	if via == nil {
		d := net.Dialer{KeepAlive: 30 * time.Second}
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = via.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		switch ctx.Err() {
		case context.DeadlineExceeded:
			return nil, fmt.Errorf("connect to %s: no answer within %s: check the address and that the host is up", addr, timeout)
		case context.Canceled:
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	// A connection through a jump host is an SSH channel: it takes no
	// deadline, and closing it does not wake a read waiting on the jump
	// host. So when ctx ends, close the link and every hop before it.
	links := append([]*ssh.Client{}, s.jumps...)
	stop := context.AfterFunc(ctx, func() {
		conn.Close()
		for i := len(links) - 1; i >= 0; i-- {
			links[i].Close()
		}
	})
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		// ctx ended during the handshake and the links are closed: say
		// why, unless the host key was refused first.
		if c != nil {
			c.Close()
		}
		if !isHostKeyError(err) {
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("ssh handshake with %s timed out after %s: the host accepts connections but does not answer", addr, timeout)
			}
			return nil, ctx.Err()
		}
	}
	if err != nil {
		conn.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		return nil, fmt.Errorf("ssh to %s@%s: %w", ep.user, addr, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

func isHostKeyError(err error) bool {
	var hk *HostKeyError
	return errors.As(err, &hk)
}

// keepAlive notices a dead link, which TCP alone can take hours to see. A
// keepalive request waits for its reply with no timeout of its own (a
// paused host holds it forever), so one request is out at a time, in its
// own goroutine, and the host is given up when nothing came back for
// deadline. Any reply counts, even a refusal: the host answered.
func (s *SSH) keepAlive(interval, deadline time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	replies := make(chan error, 1)
	pending := false
	last := time.Now()
	for {
		select {
		case <-s.done:
			return
		case err := <-replies:
			pending = false
			if err != nil {
				return // the connection is closed; Run says so
			}
			last = time.Now()
		case <-t.C:
			if silence := time.Since(last); silence >= deadline {
				s.deadErr = &DeadLinkError{Host: s.name, Silence: deadline}
				close(s.dead)
				// Closing the connection ends every session still waiting
				// on the host, so nothing stays blocked on it.
				s.client.Close()
				s.closeJumps()
				return
			}
			if !pending {
				pending = true
				go func() {
					_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
					replies <- err
				}()
			}
		}
	}
}

// linkError is the error for a session that failed because the host was
// given up, or nil.
func (s *SSH) linkError() error {
	select {
	case <-s.dead:
		return s.deadErr
	default:
		return nil
	}
}

// sessionError explains a session that could not open: EOF means the
// server closed the connection (sshd restarted, the link was cut).
func (s *SSH) sessionError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("the SSH connection to %s was closed (sshd restarted or the link was cut): %w", s.name, err)
	}
	return fmt.Errorf("open ssh session on %s: %w", s.name, err)
}

func (s *SSH) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	sess, err := s.client.NewSession()
	if err != nil {
		if dead := s.linkError(); dead != nil {
			return dead
		}
		return s.sessionError(err)
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	return s.wait(ctx, sess, cmd)
}

func (s *SSH) Interactive(ctx context.Context, cmd string, tty bool) error {
	sess, err := s.client.NewSession()
	if err != nil {
		if dead := s.linkError(); dead != nil {
			return dead
		}
		return s.sessionError(err)
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = os.Stdin, os.Stdout, os.Stderr
	if tty {
		fd := int(os.Stdin.Fd())
		w, h, err := term.GetSize(fd)
		if err != nil {
			w, h = 80, 24
		}
		termType := os.Getenv("TERM")
		if termType == "" {
			termType = "xterm"
		}
		if err := sess.RequestPty(termType, h, w, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
			return fmt.Errorf("request a terminal: %w", err)
		}
		old, err := term.MakeRaw(fd)
		if err == nil {
			defer term.Restore(fd, old)
		}
	}
	return s.wait(ctx, sess, cmd)
}

// wait runs cmd and gives up on the session when ctx ends, so Ctrl-C is
// never stuck behind a remote command, or when the host stops answering.
func (s *SSH) wait(ctx context.Context, sess *ssh.Session, cmd string) error {
	if err := sess.Start(cmd); err != nil {
		if dead := s.linkError(); dead != nil {
			return dead
		}
		return err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		if dead := s.linkError(); dead != nil && err != nil {
			return dead
		}
		return sshExit(err)
	case <-s.dead:
		return s.deadErr
	case <-ctx.Done():
		sess.Signal(ssh.SIGTERM)
		sess.Close()
		return ctx.Err()
	}
}

func (s *SSH) Close() error {
	close(s.done)
	err := s.client.Close()
	s.closeJumps()
	return err
}

// closeJumps closes the ProxyJump hops, the one next to the target first.
func (s *SSH) closeJumps() {
	for i := len(s.jumps) - 1; i >= 0; i-- {
		s.jumps[i].Close()
	}
}

func sshExit(err error) error {
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Status: ee.ExitStatus()}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return &ExitError{Status: -1, Stderr: "the connection dropped before the command finished"}
	}
	return err
}
