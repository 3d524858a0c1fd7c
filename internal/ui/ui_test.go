package ui

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSecretsNeverPrinted(t *testing.T) {
	var b bytes.Buffer
	u := New(&b, false)
	u.AddSecrets("hunter2-long-secret", "abc")
	u.Step("web1", "build", "key is %s", "hunter2-long-secret")
	u.Error("failed:\nenv had hunter2-long-secret")
	out := b.String()
	if strings.Contains(out, "hunter2") || strings.Count(out, "[secret]") != 2 {
		t.Fatalf("output:\n%s", out)
	}
}

func TestJSONEvents(t *testing.T) {
	var b bytes.Buffer
	u := New(&b, true)
	u.AddSecrets("s3cr3t-value")
	u.Step("web2", "ship", "sent s3cr3t-value")
	u.Result("done")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 events, got %q", lines)
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Kind != "step" || e.Host != "web2" || e.Step != "ship" || e.Message != "sent [secret]" {
		t.Fatalf("event %+v", e)
	}
}
