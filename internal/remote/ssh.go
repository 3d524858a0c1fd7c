package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// SSH is one connection to a host, reused for every command run there.
type SSH struct {
	client *ssh.Client
	jumps  []*ssh.Client // ProxyJump hops, closed with the client
	done   chan struct{}
}

// Dial connects to target (an ~/.ssh/config alias or user@host:port),
// verifying the host key against known_hosts.
func Dial(ctx context.Context, target string, opts DialOptions) (*SSH, error) {
	sc, err := loadSSHConfig()
	if err != nil {
		return nil, err
	}
	s := &SSH{done: make(chan struct{})}
	client, err := s.dial(ctx, sc, target, opts, 0)
	if err != nil {
		for _, j := range s.jumps {
			j.Close()
		}
		return nil, err
	}
	s.client = client
	go s.keepAlive()
	return s, nil
}

// DialOptions are what the command line can add to ~/.ssh/config.
type DialOptions struct {
	Identity       string        // a private key file, tried first
	ConnectTimeout time.Duration // TCP connect plus SSH handshake
}

func (s *SSH) dial(ctx context.Context, sc *sshConfig, target string, opts DialOptions, depth int) (*ssh.Client, error) {
	if depth > 5 {
		return nil, errors.New("ProxyJump chain is longer than 5 hops")
	}
	ep, err := sc.resolve(target)
	if err != nil {
		return nil, err
	}
	timeout := opts.ConnectTimeout
	if timeout == 0 {
		timeout = ep.connectTimeout
	}
	cfg, err := clientConfig(ep, opts.Identity)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(ep.hostname, strconv.Itoa(ep.port))

	var conn net.Conn
	if ep.proxyJump != "" {
		hops := strings.Split(ep.proxyJump, ",")
		// The last hop in the list is the one next to the target.
		jump, err := s.dial(ctx, sc, strings.TrimSpace(hops[len(hops)-1]), opts, depth+1)
		if err != nil {
			return nil, fmt.Errorf("via jump host %s: %w", hops[len(hops)-1], err)
		}
		s.jumps = append(s.jumps, jump)
		conn, err = jump.Dial("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("connect to %s through jump host: %w", addr, err)
		}
	} else {
		d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		conn, err = d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
	}
	// A host that accepts TCP but never answers (a paused VM, a firewall
	// that drops packets) must not hang the deploy.
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("ssh handshake with %s timed out after %s", addr, timeout)
		}
		return nil, fmt.Errorf("ssh to %s@%s: %w", ep.user, addr, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// keepAlive notices a dead link, which TCP alone can take hours to see.
func (s *SSH) keepAlive() {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if _, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				missed++
				if missed >= 3 {
					s.client.Close()
					return
				}
			} else {
				missed = 0
			}
		}
	}
}

func (s *SSH) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	sess, err := s.client.NewSession()
	if err != nil {
		return fmt.Errorf("open ssh session: %w", err)
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	return s.wait(ctx, sess, cmd)
}

func (s *SSH) Interactive(ctx context.Context, cmd string, tty bool) error {
	sess, err := s.client.NewSession()
	if err != nil {
		return fmt.Errorf("open ssh session: %w", err)
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
// never stuck behind a remote command.
func (s *SSH) wait(ctx context.Context, sess *ssh.Session, cmd string) error {
	if err := sess.Start(cmd); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		return sshExit(err)
	case <-ctx.Done():
		sess.Signal(ssh.SIGTERM)
		sess.Close()
		return ctx.Err()
	}
}

func (s *SSH) Close() error {
	close(s.done)
	err := s.client.Close()
	for _, j := range s.jumps {
		j.Close()
	}
	return err
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
