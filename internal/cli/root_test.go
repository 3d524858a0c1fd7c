package cli

import (
	"io"
	"testing"
)

// Every command-line mistake exits 2, before anything is read or contacted.
func TestUsageMistakesExit2(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"deploy"},
		{"deploy", "prod", "--no-such-flag"},
		{"run", "prod"},
		{"rollback", "prod", "a", "b"},
		{"version", "extra"},
	} {
		root := NewRoot(io.Discard, io.Discard)
		root.SetArgs(args)
		if code := ExitCode(root.Execute()); code != ExitUsage {
			t.Errorf("hoist %v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
