package release

import (
	"fmt"
	"slices"
)

// Repair is what makes a host's records agree with what it really has:
// current decides which release is live, an instance that is not live is
// stray, and a build that never went live was abandoned by a run that
// died.
type Repair struct {
	Records []Record // records to rewrite
	Remove  []string // abandoned builds to delete
	Stop    []string // stray instances to stop
	Notes   []string // what was wrong, for the user
}

// Empty tells whether the host needed nothing.
func (r Repair) Empty() bool { return len(r.Records)+len(r.Remove)+len(r.Stop) == 0 }

// Reconcile plans the repair of one host. It never touches the release
// current points to except to mark it live. With standby, the instance of
// the release a rollback returns to may run (see Standby).
func Reconcile(inv Inventory, standby bool) Repair {
	var rep Repair
	for _, r := range inv.Records {
		switch {
		case r.ID == inv.Live && r.State != Live:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s serves but is recorded %s", r.ID, r.State))
			r.State = Live
			rep.Records = append(rep.Records, r)
		case r.ID != inv.Live && r.State == Live:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s is recorded live but current points to %s", r.ID, orNothing(inv.Live)))
			r.State = Retired
			rep.Records = append(rep.Records, r)
		case r.ID != inv.Live && (r.State == Building || r.State == Ready || r.State == Failed):
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s was left %s by a run that did not finish", r.ID, r.State))
			rep.Remove = append(rep.Remove, r.ID)
		}
	}
	if inv.Live != "" && inv.Find(inv.Live) == nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("current points to %s, which has no record", inv.Live))
		rep.Records = append(rep.Records, Record{ID: inv.Live, State: Live, Seq: inv.NextSeq()})
	}
	for _, id := range inv.Running {
		// A retired instance still draining stops on its own (its timer).
		if id != inv.Live && !slices.Contains(inv.Draining, id) && !(standby && id == inv.Standby()) {
			rep.Notes = append(rep.Notes, fmt.Sprintf("an instance of %s runs though %s is live", id, orNothing(inv.Live)))
			rep.Stop = append(rep.Stop, id)
		}
	}
	return rep
}

// Problems are what Reconcile would repair, for status, which changes
// nothing.
func (inv Inventory) Problems(standby bool) []string {
	var notes []string
	for _, n := range Reconcile(inv, standby).Notes {
		notes = append(notes, n+": the next hoist deploy, rollback or setup repairs it")
	}
	for _, d := range inv.Damaged {
		notes = append(notes, fmt.Sprintf("the release record %s is damaged or names an invalid id: look at it, then remove it", d))
	}
	return notes
}

// Standby is the release whose web instance may keep running, idle, beside
// the live one (gunicorn.standby): the one a rollback returns to, so that
// its instance is warm when it does. "" when there is none.
func (inv Inventory) Standby() string {
	if r := inv.PreviousGood(); r != nil {
		return r.ID
	}
	return ""
}

func orNothing(id string) string {
	if id == "" {
		return "no release"
	}
	return id
}
