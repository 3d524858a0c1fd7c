package ui

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTimingsAreEventsAndATable(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, true)
	u.Timed("web1", "build", 1500*time.Millisecond)
	u.Timed("web2", "build", 2*time.Second)
	u.Timed("", "build", 2100*time.Millisecond)
	u.Timed("web1", "switch", 100*time.Millisecond)
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e struct {
			Kind, Step string
			Seconds    float64
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Kind != "timing" || e.Step == "" || e.Seconds <= 0 {
			t.Errorf("event %q: %+v %v", line, e, err)
		}
	}
	// Through a writer that redacts with the same UI, as commands print.
	var table bytes.Buffer
	u.WriteTimings(u.Writer(&table))
	want := "step            stage       web1       web2\n" +
		"build           2.10s      1.50s      2.00s\n" +
		"switch              -      0.10s          -\n"
	if table.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), want)
	}
}
