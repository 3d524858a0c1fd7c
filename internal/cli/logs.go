package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/remote"
)

type logsOptions struct {
	Follow  bool
	Host    string
	Lines   int
	Process string
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	opts := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs STAGE",
		Short: "Show the app's logs (gunicorn, Django, background processes) from systemd's journal",
		Long: `logs shows the journal of the app's gunicorn instances and background
processes on every host that runs them (or HOST), each line prefixed with
its host, then the time, the process (web, or its name in hoist.yml) and
the release. -f follows new lines until Ctrl-C.`,
		Example: `  hoist logs production
  hoist logs production -f --host web2
  hoist logs production --process worker`,
		Args: stageArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), g, args[0], opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().StringVar(&opts.Host, "host", "", "only this host, as written in hoist.yml")
	cmd.Flags().IntVarP(&opts.Lines, "lines", "n", 50, "how many recent lines per host")
	cmd.Flags().StringVar(&opts.Process, "process", "", "only this process: web (gunicorn), or a name from hoist.yml's processes")
	return cmd
}

func runLogs(ctx context.Context, g *globalOptions, stage string, opts *logsOptions) error {
	t, err := g.open(ctx, stage)
	if err != nil {
		return err
	}
	defer t.Close()
	hosts := t.Runs()
	if opts.Host != "" {
		h, err := pickHost(t, opts.Host)
		if err != nil {
			return err
		}
		hosts = []*remote.Host{h}
	}
	out := t.UI.Writer(g.Out)
	var mu sync.Mutex
	return deploy.Each(ctx, hosts, "logs", func(ctx context.Context, h *remote.Host) error {
		site := t.Site(h)
		units := []string{site.Unit() + "@*"}
		names := map[string]string{site.Unit(): "web"}
		for _, p := range site.Processes {
			units = append(units, site.ProcessUnit(p.Name)+"@*")
			names[site.ProcessUnit(p.Name)] = p.Name
		}
		if opts.Process != "" {
			var only []string
			for _, u := range units {
				if names[strings.TrimSuffix(u, "@*")] == opts.Process {
					only = append(only, u)
				}
			}
			if len(only) == 0 {
				return fmt.Errorf("no process %q runs here: web, or one of hoist.yml's processes", opts.Process)
			}
			units = only
		}
		argv := []string{"journalctl", "-n", strconv.Itoa(opts.Lines), "--no-pager", "-o", "json"}
		for _, u := range units {
			argv = append(argv, "-u", u)
		}
		if opts.Follow {
			argv = append(argv, "-f")
		}
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				line := journalLine(sc.Bytes(), names)
				mu.Lock()
				fmt.Fprintf(out, "%s | %s\n", h.Name, line)
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

// journalLine renders one journal entry (journalctl -o json) as
// "TIME NAME RELEASE: MESSAGE", NAME being web or the process's name.
func journalLine(data []byte, names map[string]string) string {
	var e struct {
		Time    string          `json:"__REALTIME_TIMESTAMP"`
		Unit    string          `json:"_SYSTEMD_UNIT"`
		Message json.RawMessage `json:"MESSAGE"`
	}
	if json.Unmarshal(data, &e) != nil {
		return string(data) // journalctl's own words ("-- No entries --")
	}
	var msg string
	if json.Unmarshal(e.Message, &msg) != nil {
		var raw []byte // journald gives non-UTF-8 messages as byte arrays
		json.Unmarshal(e.Message, &raw)
		msg = string(raw)
	}
	when := e.Time
	if us, err := strconv.ParseInt(e.Time, 10, 64); err == nil {
		when = time.UnixMicro(us).Format("2006-01-02T15:04:05")
	}
	tmpl, release, _ := strings.Cut(strings.TrimSuffix(e.Unit, ".service"), "@")
	name := names[tmpl]
	if name == "" {
		name = tmpl
	}
	return fmt.Sprintf("%s %s %s: %s", when, name, release, msg)
}
