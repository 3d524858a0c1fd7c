package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/remote"
)

type logsOptions struct {
	Follow bool
	Host   string
	Lines  int
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	opts := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs STAGE",
		Short: "Show the app's logs (gunicorn and Django) from systemd's journal",
		Long:  `logs shows the journal of the app's gunicorn instances on every web host (or HOST), each line prefixed with its host. -f follows new lines until Ctrl-C.`,
		Example: `  hoist logs production
  hoist logs production -f --host web2`,
		Args: stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), g, args[0], opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().StringVar(&opts.Host, "host", "", "only this host, as written in hoist.yml")
	cmd.Flags().IntVarP(&opts.Lines, "lines", "n", 50, "how many recent lines per host")
	return cmd
}

func runLogs(ctx context.Context, g *globalOptions, stage string, opts *logsOptions) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	hosts := t.Web()
	if opts.Host != "" {
		h, err := pickHost(t, opts.Host)
		if err != nil {
			return err
		}
		hosts = []*remote.Host{h}
	}
	var mu sync.Mutex
	return deploy.Each(ctx, hosts, "logs", func(ctx context.Context, h *remote.Host) error {
		argv := []string{"journalctl", "-u", t.Site(h).Unit() + "@*", "-n", strconv.Itoa(opts.Lines), "--no-pager", "-o", "short-iso"}
		if opts.Follow {
			argv = append(argv, "-f")
		}
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(g.Out, "%s | %s\n", h.Name, sc.Text())
				mu.Unlock()
			}
		}()
		err := h.Run(ctx, h.Sudo(argv...), nil, pw, pw)
		pw.Close()
		<-done
		if opts.Follow && ctx.Err() != nil {
			return nil
		}
		return err
	})
}
