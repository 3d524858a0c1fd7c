package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// timing is how long one step took on one host ("" for the whole stage).
type timing struct {
	host, step string
	took       time.Duration
}

// Timed records how long a step took on a host (host "" for the step as a
// whole) and, with --json, says so as a "timing" event. In the live view
// it marks the step done on the host's row.
func (u *UI) Timed(host, step string, took time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.timings = append(u.timings, timing{host, step, took})
	if u.live != nil {
		u.live.timed(host, step, took)
	}
	if u.json {
		b, _ := json.Marshal(struct {
			Time    string  `json:"time"`
			Kind    string  `json:"kind"`
			Host    string  `json:"host,omitempty"`
			Step    string  `json:"step"`
			Seconds float64 `json:"seconds"`
		}{time.Now().UTC().Format(time.RFC3339Nano), "timing", host, step, took.Seconds()})
		fmt.Fprintf(u.out, "%s\n", b)
	}
}

// WriteTimings prints a table of the recorded timings, a row per step in
// the order they ran and a column per host: where a slow run spent its
// time.
func (u *UI) WriteTimings(w io.Writer) {
	// w may redact through this UI, which takes u.mu: write after unlocking.
	io.WriteString(w, u.timingsTable())
}

func (u *UI) timingsTable() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var steps, hosts []string
	took := map[[2]string]time.Duration{}
	for _, t := range u.timings {
		if !slices.Contains(steps, t.step) {
			steps = append(steps, t.step)
		}
		if t.host != "" && !slices.Contains(hosts, t.host) {
			hosts = append(hosts, t.host)
		}
		took[[2]string{t.step, t.host}] += t.took
	}
	slices.Sort(hosts)
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %8s", "step", "stage")
	for _, h := range hosts {
		fmt.Fprintf(&b, " %10s", h)
	}
	b.WriteString("\n")
	for _, s := range steps {
		fmt.Fprintf(&b, "%-12s %8s", s, seconds(took, s, ""))
		for _, h := range hosts {
			fmt.Fprintf(&b, " %10s", seconds(took, s, h))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func seconds(took map[[2]string]time.Duration, step, host string) string {
	d, ok := took[[2]string{step, host}]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
