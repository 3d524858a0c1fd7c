package deploy

import (
	"context"
	"os"
	"strings"
	"time"
)

// holdBefore stops a run just before a step while HOIST_TEST_HOLD is
// STEP:FILE and FILE exists; it creates FILE.held to say it waits. The
// fault tests (test/e2e/faults_test.go) use it to pause a host, cut a link
// or kill hoist at an exact step. Unset, it costs nothing.
func holdBefore(ctx context.Context, step string) {
	name, file, ok := strings.Cut(os.Getenv("HOIST_TEST_HOLD"), ":")
	if !ok || name != step {
		return
	}
	os.WriteFile(file+".held", nil, 0o644)
	for ctx.Err() == nil {
		if _, err := os.Stat(file); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
