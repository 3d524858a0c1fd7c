// Command hoist deploys Django apps to your own servers over SSH.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoistdeploy/hoist/internal/cli"
)

func main() { os.Exit(run()) }

func run() int {
	// The first Ctrl-C (or SIGTERM) cancels the run, which then undoes what
	// it started and releases the lock; a second one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := cli.NewRoot(os.Stdout, os.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hoist: %s\n", err)
	}
	return cli.ExitCode(err)
}
