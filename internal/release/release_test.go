package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/internal/remote"
)

func TestNewIDSortsByTime(t *testing.T) {
	a := NewID(time.Date(2026, 11, 21, 22, 5, 1, 0, time.UTC), "1a2b3c4d5e6f")
	b := NewID(time.Date(2026, 11, 22, 1, 0, 0, 0, time.FixedZone("x", 3600)), "ffffff0")
	if a != "20261121T220501Z-1a2b3c4" {
		t.Fatalf("got %s", a)
	}
	if !(a < b) || !ValidID(a) || !ValidID(b) || ValidID("../etc") {
		t.Fatalf("ids %s %s", a, b)
	}
}

func inv(live string, recs ...Record) Inventory { return Inventory{Records: recs, Live: live} }

func TestPreviousGoodSkipsRolledBackAndFailed(t *testing.T) {
	i := inv("r5",
		Record{ID: "r1", State: Retired}, Record{ID: "r2", State: Retired},
		Record{ID: "r3", State: Retired, RolledBack: true}, Record{ID: "r4", State: Failed},
		Record{ID: "r5", State: Live})
	if p := i.PreviousGood(); p == nil || p.ID != "r2" {
		t.Fatalf("previous good = %v, want r2", p)
	}
}

func TestPruneNeverDropsLiveOrPrevious(t *testing.T) {
	// r2 is live after a rollback; r1 is its previous good one.
	i := inv("r2",
		Record{ID: "r1", State: Retired}, Record{ID: "r2", State: Live},
		Record{ID: "r3", State: Retired, RolledBack: true}, Record{ID: "r4", State: Retired, RolledBack: true})
	drop := PruneCandidates(i, 2)
	if strings.Join(drop, ",") != "r3,r4" {
		t.Fatalf("drop = %v, want r3,r4", drop)
	}
	if left := i.Without(drop...); len(left.Records) != 2 || left.Live != "r2" || left.Find("r3") != nil {
		t.Fatalf("after pruning: %+v", left)
	}
	if drop := PruneCandidates(i, 5); len(drop) != 0 {
		t.Fatalf("nothing to drop under keep, got %v", drop)
	}
}

// The env file must read back the same through a shell and through the
// loader that runs manage.py (systemd reads the same syntax).
func TestEnvFileRoundTrip(t *testing.T) {
	env := map[string]string{"PLAIN": "x", "TRICKY": `a "quoted" $HOME ` + "`id`" + ` back\slash 'single'`, "EMPTY": ""}
	data, err := EnvFile(env)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "x.env")
	os.WriteFile(file, data, 0o600)
	out, err := remote.Output(context.Background(), remote.Local{}, remote.Script(`set -a; . "$1"; printf '%s|%s|%s' "$PLAIN" "$TRICKY" "$EMPTY"`, file))
	if err != nil {
		t.Fatal(err)
	}
	if want := env["PLAIN"] + "|" + env["TRICKY"] + "|"; out != want {
		t.Errorf("shell read %q, want %q", out, want)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		py, err := exec.Command("python3", "-c", envLoader, file, "-"+filepath.Join(dir, "missing"), "--",
			"python3", "-c", "import os; print(os.environ['TRICKY'], end='')").CombinedOutput()
		if err != nil || string(py) != env["TRICKY"] {
			t.Errorf("loader read %q (%v), want %q", py, err, env["TRICKY"])
		}
	}
	if _, err := EnvFile(map[string]string{"K": "two\nlines"}); err == nil {
		t.Error("a value with a line break must be refused")
	}
}

// An instance whose stop a switch scheduled (its timer runs) is draining,
// not stray: reconcile leaves it to its timer, status does not complain.
func TestDrainingInstanceIsNotStray(t *testing.T) {
	out := "\x1dlive\n/srv/app/releases/r2\n\x1drunning\n" +
		"hoist-app@20261102T100000Z-bbbbbb2.service\nhoist-app@20261101T100000Z-aaaaaa1.service\n" +
		"hoist-app-stop-20261101T100000Z-aaaaaa1.timer\nhoist-app@20261031T100000Z-999999a.service\n"
	inv := parseInventory(out, "hoist-app")
	inv.Live = "20261102T100000Z-bbbbbb2"
	rep := Reconcile(inv, false)
	if len(rep.Stop) != 1 || rep.Stop[0] != "20261031T100000Z-999999a" {
		t.Errorf("stop = %v, want only the instance without a timer", rep.Stop)
	}
}

// status shows what a run that died left, and says what repairs it: the
// user should not have to clean up by hand.
func TestProblemsSayWhatRepairsThem(t *testing.T) {
	inv := Inventory{
		Live:    "20261102T100000Z-bbbbbb2",
		Records: []Record{{ID: "20261102T100000Z-bbbbbb2", State: Live}, {ID: "20261103T100000Z-ccccccc", State: Building}},
		Running: []string{"20261102T100000Z-bbbbbb2", "20261103T100000Z-ccccccc"},
	}
	problems := inv.Problems(false)
	if len(problems) != 2 {
		t.Fatalf("problems = %q, want the abandoned build and its stray instance", problems)
	}
	for _, p := range problems {
		if !strings.Contains(p, "20261103T100000Z-ccccccc") || !strings.HasSuffix(p, "the next hoist deploy, rollback or setup repairs it") {
			t.Errorf("problem %q should name the release and what repairs it", p)
		}
	}
}
