package e2e

import (
	"strings"
	"testing"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// setup installs, with the host's real apt-get, what hoist needs and the
// packages of hoist.yml on a host that lacks them; the app then deploys
// and serves; a second setup installs nothing.
func TestSetupInstallsPackages(t *testing.T) {
	skipShort(t)
	t.Parallel()
	// Its own host: the test purges packages from it.
	f := fleet.Start(t, fleet.Options{Hosts: 1})
	h := f.Hosts[0]
	// A bare server: no nginx, no venv module (python3.11-venv holds
	// ensurepip), no tree. dpkg works offline.
	sh(t, h, "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q nginx nginx-common python3-venv python3.11-venv >/dev/null 2>&1")
	if out := sh(t, h, "python3 -c 'import ensurepip' 2>&1 || true; command -v nginx tree || true"); !strings.Contains(out, "No module named 'ensurepip'") || strings.Contains(out, "/") {
		t.Fatalf("the host is not bare after the purge: %s", out)
	}
	const domain = "pkgs.test"
	a := newApp(t, f, "notes", "pkgs", notesYML(domain, hostList(h), "      DATABASE_URL: \"sqlite:////srv/pkgs/shared/db.sqlite3\"")+"packages: [tree]\n")

	// A source that cannot be fetched: apt-get update exits 0 all the
	// same, and setup must not go on to a puzzling "unable to locate".
	sh(t, h, "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* && echo 'deb [trusted=yes] http://127.0.0.1:9/ ./' >/etc/apt/sources.list.d/dead.list")
	out, code := a.hoist("setup", "prod")
	if code == 0 || !strings.Contains(out, "apt-get update failed") || !strings.Contains(out, "Failed to fetch http://127.0.0.1:9/") {
		t.Errorf("setup with a dead APT source: exit %d, want a failure quoting apt:\n%s", code, out)
	}

	h.ServeAptRepo(t, "nginx", "python3-venv", "tree")
	out = a.mustHoist("setup", "prod")
	for _, want := range []string{"nginx installed", "python3-venv installed", "tree installed", "python3 already installed"} {
		if !strings.Contains(out, want) {
			t.Errorf("first setup should say %q:\n%s", want, out)
		}
	}
	for _, p := range []string{"nginx", "python3-venv", "tree"} {
		if st := sh(t, h, "dpkg-query -W -f='${Status}' "+p+" || true"); st != "install ok installed" {
			t.Errorf("%s after setup: %q, want installed", p, st)
		}
	}
	sh(t, h, "python3 -m venv /tmp/venv-check && /tmp/venv-check/bin/python -m pip --version")

	a.mustHoist("deploy", "prod")
	expectServing(t, f.Hosts, domain, "hello from notes_extras")

	// Again: nothing is missing, so apt-get does not even run.
	runs := "grep -c '^Start-Date' /var/log/apt/history.log || true"
	before := sh(t, h, runs)
	out = a.mustHoist("setup", "prod")
	if !strings.Contains(out, "nothing to install") || strings.Contains(out, "installing") {
		t.Errorf("second setup should install nothing and say so:\n%s", out)
	}
	for _, want := range []string{"nginx already installed", "python3-venv already installed", "tree already installed"} {
		if !strings.Contains(out, want) {
			t.Errorf("second setup should say %q:\n%s", want, out)
		}
	}
	if after := sh(t, h, runs); after != before {
		t.Errorf("second setup ran apt-get: history.log has %s transactions, had %s", after, before)
	}
	expectServing(t, f.Hosts, domain, "hello from notes_extras")
}
