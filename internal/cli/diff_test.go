package cli

import (
	"fmt"
	"testing"

	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// Hosts that disagree are compared one live commit at a time, in
// hoist.yml order; a host with nothing live is a group of its own.
func TestLiveGroups(t *testing.T) {
	hosts := []*remote.Host{{Name: "web1"}, {Name: "web2"}, {Name: "web3"}, {Name: "web4"}}
	live := map[string]*release.Record{
		"web1": {ID: "r2", Commit: "bbbb"},
		"web2": {ID: "r1", Commit: "aaaa"},
		"web3": {ID: "r2", Commit: "bbbb"},
		"web4": nil,
	}
	got := fmt.Sprint(liveGroups(hosts, live))
	if want := "[{bbbb r2 [web1 web3]} {aaaa r1 [web2]} {  [web4]}]"; got != want {
		t.Errorf("liveGroups = %s, want %s", got, want)
	}
}
