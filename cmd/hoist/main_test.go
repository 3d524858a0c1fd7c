package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hoist": func() { os.Exit(run()) },
	})
}

// The scripts in testdata run the real hoist command on files they write:
// everything that needs no server (hoist.yml errors, init, usage, exit codes).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata"})
}
