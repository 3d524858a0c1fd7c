package remote

import (
	"context"
	"strings"
	"testing"
)

// Stderr is redacted whole and then cut to its tail: cut first, a secret
// across the cut would leave a piece no redactor recognises.
func TestOutputRedactsBeforeCutting(t *testing.T) {
	secret := "first-half-of-the-key\nsecond-half-of-the-key"
	SetRedactor(func(s string) string { return strings.ReplaceAll(s, secret, "[secret]") })
	defer SetRedactor(nil)
	script := `printf '%s\n' "$1" >&2; for i in $(seq 39); do echo "line $i" >&2; done; exit 1`
	_, err := Output(context.Background(), Local{}, Script(script, secret))
	ee, ok := err.(*ExitError)
	if !ok {
		t.Fatalf("want *ExitError, got %v", err)
	}
	if strings.Contains(ee.Stderr, "half-of-the-key") || !strings.HasPrefix(ee.Stderr, "[secret]\nline 1\n") {
		t.Fatalf("stderr tail:\n%s", ee.Stderr)
	}
}
