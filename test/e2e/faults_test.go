package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// The fault matrix: for each step of a deploy and of a rollback, and each
// fault (a host paused, its SSH link cut, Ctrl-C, SIGKILL), the run is held
// just before the step (HOIST_TEST_HOLD), the fault is injected, the run
// goes on; then the invariant must hold: every host serves one healthy
// release, the same on all; shared/ is intact; the failure names the host
// and the step. Then the next command (a deploy) must succeed and leave
// the lock free and hoist status clean: nothing for a person to repair.
//
// Faults that touch a whole host (pause, cut) and those that touch only
// hoist (signals) run on two fleets at once.

var deploySteps = []string{"lock", "ship", "build", "migrate", "health", "switch", "finish"}
var rollbackSteps = []string{"lock", "health", "switch", "finish"}

func TestFaultMatrixHostFaults(t *testing.T) {
	runFaultMatrix(t, "hostfault", []string{"pause", "cut"})
}

func TestFaultMatrixSignals(t *testing.T) {
	runFaultMatrix(t, "signal", []string{"sigint", "sigkill"})
}

type faultCase struct {
	action, step, fault string
}

func runFaultMatrix(t *testing.T, name string, faults []string) {
	skipShort(t)
	t.Parallel()
	f := fleet.Start(t, fleet.Options{Hosts: 2, DB: true})
	const domain = "faults.test"
	dbURL := createDBOn(t, f, name)
	a := newApp(t, f, "notes", name, notesYML(domain, hostList(f.Hosts...), "      DATABASE_URL: \""+dbURL+"\""))
	a.mustHoist("setup", "prod")
	version := 1
	a.mustHoist("deploy", "prod", "--skip-checks")
	for _, h := range f.Hosts {
		sh(t, h, "echo keep > /srv/"+name+"/shared/media/keep.txt")
	}
	var cases []faultCase
	for _, fault := range faults {
		for _, step := range deploySteps {
			cases = append(cases, faultCase{"deploy", step, fault})
		}
		for _, step := range rollbackSteps {
			cases = append(cases, faultCase{"rollback", step, fault})
		}
	}
	passed := 0
	for _, c := range cases {
		ok := t.Run(c.action+"/"+c.step+"/"+c.fault, func(t *testing.T) {
			a.t = t
			if c.action == "deploy" {
				version++
				a.write("VERSION", fmt.Sprintf("v%d\n", version))
				a.commit(fmt.Sprintf("v%d", version))
			} else {
				// Something to roll back from.
				version++
				a.write("VERSION", fmt.Sprintf("v%d\n", version))
				a.commit(fmt.Sprintf("v%d", version))
				a.mustHoist("deploy", "prod", "--skip-checks")
			}
			args := []string{c.action, "prod"}
			if c.action == "deploy" {
				args = append(args, "--skip-checks")
			}
			out, code := injectFault(t, a, f, c, args)
			// A SIGKILL lands wherever the run is, maybe just after it
			// sent the switch to every host: those commands finish on the
			// hosts without it. The invariant is for the state they leave,
			// so it gets a few seconds to settle.
			settle := time.Duration(0)
			if c.fault == "sigkill" {
				settle = 10 * time.Second
			}
			expectOneHealthyRelease(t, f, domain, name, settle)
			if code != 0 && code != 130 && (c.fault == "pause" || c.fault == "cut") {
				if !strings.Contains(out, faultHost(f, c).Name) {
					t.Errorf("the failure does not name the host %s", faultHost(f, c).Name)
				}
			}
			// The next command: it must take over or find the lock free,
			// repair what the fault left, and deploy.
			version++
			a.write("VERSION", fmt.Sprintf("v%d\n", version))
			a.commit(fmt.Sprintf("v%d", version))
			a.mustHoist("deploy", "prod", "--skip-checks")
			expectServing(t, f.Hosts, domain, fmt.Sprintf("version: v%d", version))
			if out := a.mustHoist("lock", "prod"); strings.Count(out, "free") != len(f.Hosts) {
				t.Errorf("the lock is not free everywhere:\n%s", out)
			}
			if out, code := a.hoist("status", "prod"); code != 0 {
				t.Errorf("status after the next deploy: exit %d\n%s", code, out)
			}
		})
		if ok {
			passed++
		}
	}
	a.t = t
	t.Logf("fault matrix %s: %d runs, %d passed", name, len(cases), passed)
}

// faultHost is the host a fault hits: the primary for migrate (the only
// host that step touches), else the second host.
func faultHost(f *fleet.Fleet, c faultCase) *fleet.Host {
	if c.step == "migrate" {
		return f.Hosts[0]
	}
	return f.Hosts[1]
}

// injectFault runs hoist held before the step, injects the fault, lets the
// run go on and returns its output and exit code.
func injectFault(t *testing.T, a *app, f *fleet.Fleet, c faultCase, args []string) (string, int) {
	t.Helper()
	hold := filepath.Join(t.TempDir(), "hold")
	os.WriteFile(hold, nil, 0o644)
	a.env = append(a.env, "HOIST_TEST_HOLD="+c.step+":"+hold)
	defer func() { a.env = a.env[:len(a.env)-1] }()
	cmd, out := a.startHoist(args...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for held := false; !held; {
		select {
		case err := <-done:
			t.Fatalf("hoist ended (%v) before the step %s:\n%s", err, c.step, out)
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("hoist never reached the step %s:\n%s", c.step, out)
		case <-time.After(20 * time.Millisecond):
			_, err := os.Stat(hold + ".held")
			held = err == nil
		}
	}
	h := faultHost(f, c)
	ctx := context.Background()
	switch c.fault {
	case "pause":
		if err := h.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		defer h.Unpause(ctx)
		os.Remove(hold)
	case "cut":
		// Kill the SSH sessions of the deploy user: the link drops, sshd
		// goes on, as after a network blip.
		h.Exec(ctx, "pkill", "-KILL", "-f", "sshd: deploy")
		os.Remove(hold)
	case "sigint":
		os.Remove(hold)
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
	case "sigkill":
		os.Remove(hold)
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Kill()
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("hoist did not stop within 3 minutes of the fault\n%s", out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	t.Logf("$ hoist %s  (%s before %s; exit %d)\n%s", strings.Join(args, " "), c.fault, c.step, code, out)
	if c.fault == "pause" {
		h.Unpause(ctx)
	}
	return out.String(), code
}

// expectOneHealthyRelease: every host answers 200 with the same release,
// within settle, and the files in shared/ survived.
func expectOneHealthyRelease(t *testing.T, f *fleet.Fleet, domain, app string, settle time.Duration) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for len(releasesServed(t, f, domain)) > 1 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, h := range f.Hosts {
		code, body := get(t, h, domain, "/")
		if code != 200 {
			t.Errorf("%s answers %d after the fault", h.Name, code)
		}
		v := pageVersion(body)
		if v == "" {
			t.Errorf("%s: no version in the page", h.Name)
			continue
		}
		seen[v] = true
		if got := sh(t, h, "cat /srv/"+app+"/shared/media/keep.txt"); got != "keep" {
			t.Errorf("%s: shared/media/keep.txt = %q", h.Name, got)
		}
	}
	if len(seen) > 1 {
		t.Errorf("hosts serve different releases after the fault: %v", seen)
	}
}

// releasesServed are the versions the hosts' pages show.
func releasesServed(t *testing.T, f *fleet.Fleet, domain string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, h := range f.Hosts {
		_, body := get(t, h, domain, "/")
		if v := pageVersion(body); v != "" {
			seen[v] = true
		}
	}
	return seen
}

// pageVersion is the version the notes app's page shows, "" if none.
func pageVersion(body string) string {
	_, after, ok := strings.Cut(body, "version: ")
	if f := strings.Fields(after); ok && len(f) > 0 {
		return f[0]
	}
	return ""
}
