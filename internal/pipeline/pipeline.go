// Package pipeline is what hoist ship adds to a deploy: the order of the
// stages, the functional tests run against a stage, the promotion rule
// (a stage takes only commits the earlier stages passed), and git tags
// for what went live.
package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/deploy"
	"github.com/hoistdeploy/hoist/internal/ui"
)

// Passed tells whether a stage's history shows commit deployed with
// success and, when the stage has functional tests, tested with success.
// It returns what is missing otherwise.
func Passed(events []deploy.Event, commit string, tested bool) (ok bool, missing string) {
	deployed, testedOK := false, false
	for _, e := range events {
		if e.Commit != commit || e.Result != "ok" {
			continue
		}
		switch e.Action {
		case "deploy":
			deployed = true
		case "test":
			testedOK = true
		}
	}
	switch {
	case !deployed:
		return false, "no successful deploy"
	case tested && !testedOK:
		return false, "no passing functional tests"
	}
	return true, ""
}

// Earlier lists the stages before stage in the pipeline; none when stage
// is first or not in it.
func Earlier(c *config.Config, stage string) []string {
	i := c.PipelineIndex(stage)
	if i <= 0 {
		return nil
	}
	return c.Pipeline[:i]
}

// TestError is a stage's functional tests failing.
type TestError struct {
	Stage, Command string
	Err            error
}

func (e *TestError) Error() string {
	return fmt.Sprintf("the functional tests of %s failed: %s: %v", e.Stage, e.Command, e.Err)
}
func (e *TestError) Unwrap() error { return e.Err }

// RunTest runs a stage's test command on this machine, in dir (the
// project), with the stage's address in TEST_SERVER and HOIST_URL. Each
// line it prints is shown as a step, through the UI's redactor.
func RunTest(ctx context.Context, u *ui.UI, dir string, s *config.Stage, url, commit string) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Test)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TEST_SERVER="+url, "HOIST_URL="+url, "HOIST_STAGE="+s.Name, "HOIST_COMMIT="+commit)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			u.Step("", "test", "%s", sc.Text())
		}
		io.Copy(io.Discard, pr) // a line too long for the scanner must not block the tests
	}()
	u.Step("", "test", "%s: %s (TEST_SERVER=%s)", s.Name, s.Test, url)
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		return &TestError{Stage: s.Name, Command: s.Test, Err: err}
	}
	return nil
}

// datedTag creates the dated tag name on commit and returns it. The same
// commit deployed again within the minute keeps its tag; another commit
// deployed within the same minute gets name-2, name-3...: a dated tag is
// a record of each deploy, and none is moved.
func datedTag(ctx context.Context, dir, name, commit string) (string, error) {
	for n := 1; n <= 9; n++ {
		tag := name
		if n > 1 {
			tag = fmt.Sprintf("%s-%d", name, n)
		}
		have, err := deploy.Git(ctx, dir, "rev-parse", "-q", "--verify", "refs/tags/"+tag+"^{commit}")
		switch {
		case err == nil && have == commit:
			return tag, nil
		case err == nil:
			continue // another commit's deploy in the same minute
		}
		if _, err := deploy.Git(ctx, dir, "tag", "--end-of-options", tag, commit); err != nil {
			return "", err
		}
		return tag, nil
	}
	return "", fmt.Errorf("the tags %s to %s-9 are all taken: add {ss} or {commit} to tags.dated", name, name)
}

// Tags puts the stage's tags on commit in the repository at dir: the
// moving one moved there, a new dated one, both pushed when asked. It
// returns the names tagged; the error says what failed, and a caller only
// warns with it: tags never undo a deploy.
func Tags(ctx context.Context, dir string, s *config.Stage, commit string, when time.Time) ([]string, error) {
	t := s.Tags
	var names, refspecs []string
	var problems []string
	if t.Moving != "" {
		name := config.ExpandTag(t.Moving, s.Name, commit, when)
		if _, err := deploy.Git(ctx, dir, "tag", "-f", "--end-of-options", name, commit); err != nil {
			problems = append(problems, err.Error())
		} else {
			names = append(names, name)
			refspecs = append(refspecs, "+refs/tags/"+name+":refs/tags/"+name)
		}
	}
	if t.Dated != "" {
		name, err := datedTag(ctx, dir, config.ExpandTag(t.Dated, s.Name, commit, when), commit)
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			names = append(names, name)
			refspecs = append(refspecs, "refs/tags/"+name+":refs/tags/"+name)
		}
	}
	if t.Push && len(refspecs) > 0 {
		args := append([]string{"push", "--end-of-options", t.Remote}, refspecs...)
		if _, err := deploy.Git(ctx, dir, args...); err != nil {
			problems = append(problems, fmt.Sprintf("%v (push them yourself: git push %s %s)", err, t.Remote, strings.Join(names, " ")))
		}
	}
	if len(problems) > 0 {
		return names, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return names, nil
}
