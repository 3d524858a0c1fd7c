package remote

import (
	"context"
	"strings"
	"testing"
)

func TestQuoteRoundTripsThroughARealShell(t *testing.T) {
	local := Local{}
	values := []string{"", "plain", "two words", "it's", `"double"`, "$HOME", "`id`", "a;b&&c|d", "new\nline", "back\\slash", "*", "-n", "ünï"}
	for _, v := range values {
		out, err := Output(context.Background(), local, Command("printf", "%s", v))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if out != v {
			t.Errorf("Quote(%q) came back as %q", v, out)
		}
	}
}

func TestScriptPassesValuesAsParameters(t *testing.T) {
	out, err := Output(context.Background(), Local{}, Script(`printf '%s|%s' "$1" "$2"`, "a b", "$(id)"))
	if err != nil {
		t.Fatal(err)
	}
	if out != "a b|$(id)" {
		t.Fatalf("got %q", out)
	}
}

func TestExitErrorCarriesStatusAndStderr(t *testing.T) {
	_, err := Output(context.Background(), Local{}, Script(`echo doomed >&2; exit 3`))
	ee, ok := err.(*ExitError)
	if !ok {
		t.Fatalf("want *ExitError, got %T %v", err, err)
	}
	if ee.Status != 3 || !strings.Contains(ee.Stderr, "doomed") {
		t.Fatalf("got status %d stderr %q", ee.Status, ee.Stderr)
	}
}

func TestChainStopsAtTheFirstFailureAndNamesIt(t *testing.T) {
	ctx := context.Background()
	out, err := Output(ctx, Local{}, Chain(Script(`echo one`), "", Labeled("two", Script(`echo two`))))
	if err != nil || out != "one\ntwo\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	out, err = Output(ctx, Local{}, Chain(Script(`echo one`), Labeled("the second part", Script(`exit 4`)), Script(`echo three`)))
	ee, ok := err.(*ExitError)
	if !ok || ee.Status != 4 || !strings.Contains(ee.Stderr, "hoist: the second part failed") {
		t.Fatalf("want exit 4 naming the second part, got %v", err)
	}
	if strings.Contains(out, "three") {
		t.Fatalf("the chain went on after a failure: %q", out)
	}
	if out, err := Output(ctx, Local{}, Chain(Labeled("nothing", ""), Script(`echo after`))); err != nil || out != "after\n" {
		t.Fatalf("an empty labeled part: %q, %v", out, err)
	}
	if out, err := Output(ctx, Local{}, Chain()); err != nil || out != "" {
		t.Fatalf("an empty chain: %q, %v", out, err)
	}
}
