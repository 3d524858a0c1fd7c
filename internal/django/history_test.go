package django

import (
	"reflect"
	"strings"
	"testing"
)

// Pure cases of the history logic that the sqlite fixture does not reach.

func hist(id string, apps []string, known []string, leaves map[string][]string, applied ...string) History {
	return History{Release: id, Apps: apps, Known: known, Leaves: leaves, Applied: applied}
}

func TestUnknownIgnoresAppsNoReleaseHas(t *testing.T) {
	h := hist("a", []string{"shop"}, []string{"shop.0001_a"}, nil)
	got := Unknown([]string{"shop.0001_a", "shop.0002_b", "gone.0001_x"}, h)
	if want := []string{"shop.0002_b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unknown = %v, want %v", got, want)
	}
	if err := CheckSwitch(h); err != nil {
		t.Errorf("nothing applied: %v", err)
	}
}

// An app only the live release has goes back to zero; the target's apps
// keep their migrations.
func TestPlanRollbackAppOnlyLiveHas(t *testing.T) {
	applied := []string{"reviews.0001_initial", "shop.0001_a", "shop.0002_b"}
	from := hist("live", []string{"reviews", "shop"}, applied, map[string][]string{"reviews": {"0001_initial"}, "shop": {"0002_b"}}, applied...)
	to := hist("old", []string{"shop"}, []string{"shop.0001_a", "shop.0002_b"}, map[string][]string{"shop": {"0002_b"}}, applied...)
	p, err := PlanRollback(from, to)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Targets, map[string]string{"reviews": "zero"}) || !reflect.DeepEqual(p.Unapply, []string{"reviews.0001_initial"}) {
		t.Errorf("plan = %+v", p)
	}
	if got := Lacking(from, to); !reflect.DeepEqual(got, []string{"reviews.0001_initial"}) {
		t.Errorf("lacking = %v", got)
	}
	if !reflect.DeepEqual(p.Keep, []string{"shop.0001_a", "shop.0002_b"}) {
		t.Errorf("keep = %v", p.Keep)
	}
	after := to
	after.Applied = []string{"shop.0001_a", "shop.0002_b"}
	if err := VerifyRollback(after, p); err != nil {
		t.Errorf("verify: %v", err)
	}
	after.Applied = applied
	if err := VerifyRollback(after, p); err == nil || !strings.Contains(err.Error(), "reviews.0001_initial") {
		t.Errorf("verify with reviews left = %v", err)
	}
}

func TestPlanRollbackRefusesDivergedAndConflicting(t *testing.T) {
	applied := []string{"shop.0001_a", "shop.0002_live"}
	from := hist("live", []string{"shop"}, applied, map[string][]string{"shop": {"0002_live"}}, applied...)
	diverged := hist("old", []string{"shop"}, []string{"shop.0001_a", "shop.0002_hotfix"}, map[string][]string{"shop": {"0002_hotfix"}}, applied...)
	if _, err := PlanRollback(from, diverged); err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Errorf("diverged: %v", err)
	}
	conflict := hist("old", []string{"shop"}, []string{"shop.0001_a", "shop.0002_x", "shop.0002_y"}, map[string][]string{"shop": {"0002_x", "0002_y"}}, applied...)
	if _, err := PlanRollback(from, conflict); err == nil || !strings.Contains(err.Error(), "conflicting shop migrations (0002_x, 0002_y)") {
		t.Errorf("conflict: %v", err)
	}
}

func TestHistoryProblemParts(t *testing.T) {
	h := hist("live", []string{"shop"}, []string{"shop.0001_a", "shop.0002_b"}, nil, "shop.0001_a")
	if err := h.Problem(); err != nil {
		t.Errorf("nothing wrong, got %v", err)
	}
	h.Unapplied = []string{"shop.0002_b"}
	if err := h.Problem(); err == nil || !strings.Contains(err.Error(), "not applied: shop.0002_b") {
		t.Errorf("unapplied: %v", err)
	}
}
