package deploy

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"testing"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/ui"
)

// packagesScript runs here as on a host: dpkg's status decides for the
// packages of hoist.yml, each is reported once, and an interpreter that
// does not exist makes python3 and python3-venv missing.
func TestCheckPackagesOnThisMachine(t *testing.T) {
	if exec.Command("dpkg-query", "-W", "dpkg").Run() != nil {
		t.Skip("needs a Debian machine (dpkg-query)")
	}
	tg := &Target{
		Config: &config.Config{Python: "/nonexistent/python3", Packages: []string{"dpkg", "hoist-no-such-package", "dpkg"}},
		Stage:  &config.Stage{Strategy: config.ReleaseStrategy},
		UI:     ui.New(&bytes.Buffer{}, false),
	}
	h := &remote.Host{Name: "local", Transport: remote.Local{}, Root: true}
	p, err := tg.checkPackages(context.Background(), h, config.NoWebServer)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.present, []string{"dpkg"}) {
		t.Errorf("present = %q, want [dpkg]", p.present)
	}
	if !slices.Equal(p.missing, []string{"python3", "python3-venv", "hoist-no-such-package"}) {
		t.Errorf("missing = %q", p.missing)
	}
	if p.noApt || p.noSystemd != (exec.Command("sh", "-c", "command -v systemctl").Run() != nil) {
		t.Errorf("noApt = %v, noSystemd = %v", p.noApt, p.noSystemd)
	}
}
