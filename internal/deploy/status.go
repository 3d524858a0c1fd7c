package deploy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoistdeploy/hoist/internal/django"
	"github.com/hoistdeploy/hoist/internal/release"
	"github.com/hoistdeploy/hoist/internal/remote"
	"github.com/hoistdeploy/hoist/internal/serve"
)

// HostStatus is the state of the app on one host.
type HostStatus struct {
	Host      string
	Live      *release.Record // nil before the first deploy
	Service   string          // systemd's ActiveState of the live instance
	Standby   string          // the release whose instance runs idle for a rollback (gunicorn.standby), if one does
	Processes []ProcessState  // the live release's background processes on the host
	Answer    error           // the health check of the live instance; nil when it answered
	Unapplied []string        // migrations the live code has and the database lacks
	Drift     []string        // files of the live release changed on the host since they were shipped
	Problems  []string        // records that disagree with the host, stray instances, a stale lock
	Err       error           // the status itself could not be read
}

// OK tells whether nothing is wrong on the host.
func (s HostStatus) OK() bool {
	for _, p := range s.Processes {
		if p.State != "active" {
			return false
		}
	}
	return s.Err == nil && s.Live != nil && (s.Service == "" || s.Service == "active") && s.Answer == nil && len(s.Unapplied) == 0 && len(s.Drift) == 0 && len(s.Problems) == 0
}

// ProcessState is systemd's ActiveState of one background process.
type ProcessState struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Status looks at every host of the stage.
func (t *Target) Status(ctx context.Context) []HostStatus {
	out := make([]HostStatus, len(t.Hosts))
	var wg sync.WaitGroup
	for i, h := range t.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = t.hostStatus(ctx, h)
		}()
	}
	wg.Wait()
	return out
}

func (t *Target) hostStatus(ctx context.Context, h *remote.Host) HostStatus {
	st := HostStatus{Host: h.Name}
	inv, err := release.ReadInventory(ctx, h, t.Layout, t.Site(h).Unit())
	if err != nil {
		st.Err = err
		return st
	}
	st.Problems = inv.Problems(t.Config.Gunicorn.Standby)
	if state, holder, err := t.readLock(ctx, h); err == nil && state == "held" {
		if ls := (LockStatus{Host: h.Name, Holder: &holder}); ls.Expired() {
			st.Problems = append(st.Problems, fmt.Sprintf("the lock of %s was not renewed for %s: that run died; the next deploy takes it over", holder, holder.Age.Round(time.Second)))
		}
	}
	st.Live = inv.Find(inv.Live)
	if id := inv.Standby(); t.Config.Gunicorn.Standby && slices.Contains(inv.Running, id) {
		st.Standby = id
	}
	if st.Live == nil {
		return st
	}
	id := st.Live.ID
	site := t.Site(h)
	for _, p := range site.Processes {
		state, _ := remote.Output(ctx, h, remote.Command("systemctl", "show", "-p", "ActiveState", "--value", site.ProcessUnit(p.Name)+"@"+id+".service"))
		st.Processes = append(st.Processes, ProcessState{Name: p.Name, State: strings.TrimSpace(state)})
	}
	if t.isWeb(h) {
		site := t.Site(h)
		state, _ := remote.Output(ctx, h, remote.Command("systemctl", "show", "-p", "ActiveState", "--value", site.Instance(id)+".service"))
		st.Service = strings.TrimSpace(state)
		if st.Service == "active" {
			hc := t.Config.Health
			hc.Retries = 1
			s, err := django.ReadSettings(ctx, h, t.Layout, id, t.Config.ProjectDir)
			if err != nil {
				st.Answer = err
			} else {
				st.Answer = serve.Check(ctx, h, site, id, hc, t.healthHost(s))
			}
		}
	}
	if h == t.Primary {
		hist, err := django.ReadHistory(ctx, h, t.Layout, id, t.Config.ProjectDir)
		if err != nil {
			st.Err = err
		} else {
			st.Unapplied = hist.Unapplied
			var hp *django.HistoryProblem
			if errors.As(hist.Problem(), &hp) && (hp.Inconsistent != "" || len(hp.Unknown) > 0) {
				st.Problems = append(st.Problems, hp.Error())
			}
		}
	}
	drift, err := t.drift(ctx, h, *st.Live)
	if err != nil {
		st.Err = err
	}
	st.Drift = drift
	return st
}

// tar --compare of the shipped artifact against the release directory tells
// which shipped files were edited, replaced or deleted on the server.
var driftLine = regexp.MustCompile(`^(?:tar: )?(?:\./)?(.+?): (Contents differ|Size differs|File type differs|Symlink differs|Warning: Cannot stat: No such file or directory)$`)

func (t *Target) drift(ctx context.Context, h *remote.Host, rec release.Record) ([]string, error) {
	if t.Layout.Container {
		if !t.isWeb(h) {
			return nil, nil
		}
		return t.containerDrift(ctx, h, rec)
	}
	script := `[ -f "$2" ] || { echo "missing-artifact"; exit 0; }; cd "$1" && tar -dzf "$2" 2>&1; true`
	out, err := remote.Output(ctx, h, remote.Script(script, t.Layout.Release(rec.ID), t.Layout.Artifact(rec.Artifact)))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(out) == "missing-artifact" {
		return nil, nil
	}
	shared := append(append([]string{}, t.Config.SharedFiles...), t.Config.SharedDirs...)
	var files []string
	for _, line := range strings.Split(out, "\n") {
		m := driftLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || isShared(m[1], shared) {
			continue
		}
		what := m[1]
		if strings.HasPrefix(m[2], "Warning") {
			what += " (deleted)"
		}
		files = append(files, what)
	}
	return files, nil
}

func isShared(p string, shared []string) bool {
	for _, s := range shared {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// containerDrift compares the live web container with its release: the
// image it runs, and the files changed in it (docker diff) under its
// project directory, leaving out what is mounted from shared/ and Python's
// byte-code caches.
func (t *Target) containerDrift(ctx context.Context, h *remote.Host, rec release.Record) ([]string, error) {
	name := t.Site(h).ContainerName(rec.ID)
	script := `docker inspect -f '{{.Image}} {{.Config.WorkingDir}}' "$1" || exit 0; docker diff "$1"`
	out, err := remote.Output(ctx, h, h.SudoScript(script, name))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	image, workdir, _ := strings.Cut(lines[0], " ")
	if image == "" {
		return nil, nil // not running: the service state says so
	}
	var files []string
	if image != rec.Artifact {
		files = append(files, fmt.Sprintf("the container runs image %s, not the release's %s", release.ShortImageID(image), release.ShortImageID(rec.Artifact)))
	}
	shared := append(append([]string{}, t.Config.SharedFiles...), t.Config.SharedDirs...)
	changed := lines[1:]
	for _, line := range changed {
		kind, p, ok := strings.Cut(strings.TrimSpace(line), " ")
		rel, in := strings.CutPrefix(p, strings.TrimSuffix(workdir, "/")+"/")
		if !ok || kind == "A" || !in || isShared(rel, shared) || strings.Contains(p, "__pycache__") || isParent(p, changed) {
			continue
		}
		if kind == "D" {
			rel += " (deleted)"
		}
		files = append(files, rel)
	}
	return files, nil
}

// isParent tells whether a path docker diff lists has other entries below
// it: a directory, changed only by what changed inside.
func isParent(p string, lines []string) bool {
	for _, l := range lines {
		if _, q, _ := strings.Cut(strings.TrimSpace(l), " "); strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}
