// Command hoist deploys Django apps to your own servers over SSH.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoistdeploy/hoist/internal/cli"
	"github.com/hoistdeploy/hoist/internal/deploy"
)

func main() { os.Exit(run()) }

func run() int {
	// The first Ctrl-C (or SIGTERM) cancels the run, which then undoes what
	// it started and releases the lock. A second one exits at once, except
	// while hosts are being switched or switched back: stopping there would
	// leave hosts serving different releases.
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		cancel()
		for range signals {
			if deploy.Critical() {
				fmt.Fprintln(os.Stderr, "hoist: hosts are being switched; finishing that so none is left half-way (the lock is released right after)")
				continue
			}
			fmt.Fprintln(os.Stderr, "hoist: interrupted again: stopping now; the lock expires by itself and the next run repairs what is left")
			os.Exit(cli.ExitInterrupted)
		}
	}()
	root := cli.NewRoot(os.Stdout, os.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hoist: %s\n", err)
	}
	return cli.ExitCode(err)
}
