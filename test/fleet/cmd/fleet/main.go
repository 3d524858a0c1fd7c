// Command fleet starts and removes a hoist test fleet that outlives the
// command, for demo scripts and benchmarks:
//
//	fleet up [-n N] [--db] --home DIR   # prints the fleet as JSON, saves DIR/fleet.json
//	fleet down --home DIR               # removes the fleet saved in DIR
//	fleet pybase                        # builds (once) the python base image for container apps, prints its name
//
// Run hoist against it with HOME=DIR (DIR/.ssh has the config, key and known_hosts).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "pybase":
		err = pybase()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: fleet up [-n N] [--db] --home DIR | fleet down --home DIR | fleet pybase")
	os.Exit(2)
}

// described is what `fleet up` prints and saves: the fleet plus its DB URL.
type described struct {
	*fleet.Fleet
	DatabaseURL string `json:"database_url,omitempty"`
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	n := fs.Int("n", 1, "number of web hosts")
	db := fs.Bool("db", false, "also start a PostgreSQL host")
	home := fs.String("home", "", "HOME directory for hoist (required)")
	_ = fs.Parse(args)
	if *home == "" {
		usage()
	}
	if _, err := os.Stat(filepath.Join(*home, "fleet.json")); err == nil {
		return fmt.Errorf("%s already has a fleet; run fleet down first", *home)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	f, err := fleet.New(ctx, fleet.Options{Hosts: *n, DB: *db, Keep: true}, *home)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(described{f, f.DatabaseURL()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.Home, "fleet.json"), append(b, '\n'), 0o644); err != nil {
		_ = f.Destroy(ctx)
		return err
	}
	fmt.Println(string(b))
	return nil
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	home := fs.String("home", "", "HOME directory the fleet was started with (required)")
	_ = fs.Parse(args)
	if *home == "" {
		usage()
	}
	f, err := fleet.Load(*home)
	if err != nil {
		return err
	}
	if err := f.Destroy(context.Background()); err != nil {
		return err
	}
	return os.Remove(filepath.Join(*home, "fleet.json"))
}

func pybase() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ref, err := fleet.PythonBase(ctx)
	if err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}
