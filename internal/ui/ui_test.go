package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
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

// A secret also shows up escaped: in JSON, in a Python repr, URL-encoded,
// or one line of it after a message was cut at a line end.
func TestEscapedSecretsNeverPrinted(t *testing.T) {
	secret := `p@ss "w'ord" <&> \ ün`
	pem := "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\nAASCBKcwggSjAgEAAoIBAQC7\n-----END KEY-----"
	u := New(new(bytes.Buffer), false)
	u.AddSecrets(secret, pem)
	jsonHTML, _ := json.Marshal(secret)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	enc.Encode(secret)
	for name, text := range map[string]string{
		"as is":              secret,
		"json":               string(jsonHTML),
		"json without html":  plain.String(),
		"python repr":        `'p@ss "w\'ord" <&> \\ ün'`,
		"python repr double": `"p@ss \"w'ord\" <&> \\ ün"`,
		"query":              url.QueryEscape(secret),
		"path":               url.PathEscape(secret),
		"one line of a key":  "...\nAASCBKcwggSjAgEAAoIBAQC7\n-----END KEY-----",
	} {
		got := u.Redact("before " + text + " after")
		for _, piece := range []string{"w'ord", `w\'ord`, "ss%20", "ss+", "MIIEvQ", "AASCBK"} {
			if strings.Contains(got, piece) {
				t.Errorf("%s: %q still holds %q", name, got, piece)
			}
		}
		if !strings.Contains(got, "[secret]") {
			t.Errorf("%s: nothing redacted in %q", name, got)
		}
	}
}

func TestWriterRedacts(t *testing.T) {
	var b bytes.Buffer
	u := New(&b, false)
	u.AddSecrets("hunter2-long-secret")
	w := u.Writer(&b)
	n, err := fmt.Fprintf(w, "web1 | env has hunter2-long-secret\n")
	if err != nil || n != len("web1 | env has hunter2-long-secret\n") {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if b.String() != "web1 | env has [secret]\n" {
		t.Fatalf("got %q", b.String())
	}
}
