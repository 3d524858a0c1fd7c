package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Local runs commands on this machine, for a deploy done on the server itself.
type Local struct{}

func (Local) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	// Own process group, so cancelling kills the whole command, not only sh.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGTERM) }
	c.WaitDelay = 5 * time.Second
	return localExit(c.Run())
}

func (Local) Interactive(ctx context.Context, cmd string, _ bool) error {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	return localExit(c.Run())
}

func (Local) Close() error { return nil }

func localExit(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Status: ee.ExitCode()}
	}
	return err
}
