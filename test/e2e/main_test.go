// Package e2e deploys the example apps with the real hoist binary, over
// real SSH, to a fleet of real Debian servers running on this machine
// (test/fleet): systemd, nginx, gunicorn, Django, PostgreSQL.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

var (
	hoistBin string
	shared   *fleet.Fleet // three web hosts and a database, for tests that do not break hosts
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "hoist-e2e-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	hoistBin = filepath.Join(tmp, "hoist")
	build := exec.Command("go", "build", "-o", hoistBin, "github.com/hoistdeploy/hoist/cmd/hoist")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Println("e2e: cannot build hoist:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := fleet.EnsureEngine(ctx); err != nil {
		fmt.Println("e2e: no Docker engine:", err)
		return 1
	}
	if _, err := fleet.EnsureImage(ctx); err != nil {
		fmt.Println("e2e: cannot build the fleet image:", err)
		return 1
	}
	home := filepath.Join(tmp, "home")
	shared, err = fleet.New(ctx, fleet.Options{Hosts: 3, DB: true}, home)
	if err != nil {
		fmt.Println("e2e: cannot start the fleet:", err)
		return 1
	}
	defer func() {
		if os.Getenv("HOIST_FLEET_KEEP") == "" {
			shared.Destroy(context.Background())
		}
	}()
	return m.Run()
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: needs the fleet")
	}
}
