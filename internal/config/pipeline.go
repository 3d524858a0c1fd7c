package config

import (
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Default tags of the last stage of the pipeline (seed 003's routine).
const (
	DefaultMovingTag = "LIVE"
	DefaultDatedTag  = "DEPLOYED-{YYYY}-{MM}-{DD}/{hh}{mm}"
)

// tagPlaceholderRe finds the {name} placeholders of a tag format.
var tagPlaceholderRe = regexp.MustCompile(`\{[^}]*\}`)

// timePlaceholders are the placeholders that change from one deploy to the next.
var timePlaceholders = []string{"{YYYY}", "{MM}", "{DD}", "{hh}", "{mm}", "{ss}"}

// ExpandTag fills a tag format for a deploy of commit to stage at when
// (taken in UTC).
func ExpandTag(format, stage, commit string, when time.Time) string {
	when = when.UTC()
	short := commit
	if len(short) > 7 {
		short = short[:7]
	}
	return strings.NewReplacer(
		"{stage}", stage, "{commit}", short,
		"{YYYY}", when.Format("2006"), "{MM}", when.Format("01"), "{DD}", when.Format("02"),
		"{hh}", when.Format("15"), "{mm}", when.Format("04"), "{ss}", when.Format("05"),
	).Replace(format)
}

// PipelineIndex is the place of stage in the pipeline, or -1 when it is
// not in it.
func (c *Config) PipelineIndex(stage string) int {
	return slices.Index(c.Pipeline, stage)
}

// StageURL is the address a stage's functional tests run against: its url,
// else its first domain, over https when Caddy serves it with TLS.
func (c *Config) StageURL(s *Stage) (string, error) {
	if s.URL != "" {
		return strings.TrimSuffix(s.URL, "/"), nil
	}
	domains := c.Domains(s)
	if len(domains) == 0 || strings.HasPrefix(domains[0], "*.") {
		return "", fmt.Errorf("stage %s has no domain to test against: set stages.%s.url in %s, like http://203.0.113.5", s.Name, s.Name, FileName)
	}
	if c.Web.Server == Caddy && c.Web.TLS != TLSOff {
		return "https://" + domains[0], nil
	}
	if c.Web.Server == Nginx && c.Web.Port != 80 {
		return fmt.Sprintf("http://%s:%d", domains[0], c.Web.Port), nil
	}
	return "http://" + domains[0], nil
}

// checkPipeline validates pipeline and each stage's test, url and tags,
// and gives the last stage of the pipeline its default tags.
func (d *decoder) checkPipeline(c *Config) {
	names := make([]string, len(c.Stages))
	for i, s := range c.Stages {
		names[i] = s.Name
	}
	seen := map[string]bool{}
	for i, name := range c.Pipeline {
		k := fmt.Sprintf("pipeline[%d]", i)
		switch {
		case !d.given(k):
		case seen[name]:
			d.errorf(d.at(k), k, "%s is listed twice: each stage runs once per ship", name)
		case !slices.Contains(names, name):
			msg := fmt.Sprintf("unknown stage %q: stages has %s", name, strings.Join(names, ", "))
			if s := suggest(name, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(d.at(k), k, "%s", msg)
		}
		seen[name] = true
	}
	if d.given("pipeline") && len(c.Pipeline) == 0 {
		d.errorf(d.at("pipeline"), "pipeline", "needs at least one stage, like [staging, production]")
	}
	for _, s := range c.Stages {
		key := join("stages", s.Name)
		if f := d.fields[key]; f == nil || f.bad {
			continue
		}
		last := len(c.Pipeline) > 0 && c.Pipeline[len(c.Pipeline)-1] == s.Name
		d.checkStageTest(c, key, s)
		d.checkTags(key+".tags", s, last)
	}
}

func (d *decoder) checkStageTest(c *Config, key string, s *Stage) {
	if k := key + ".url"; d.given(k) {
		u, err := url.Parse(s.URL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			d.errorf(d.at(k), k, "%q is not a URL like https://staging.example.com", s.URL)
		case u.User != nil:
			d.errorf(d.at(k), k, "must not hold a user or password: it is printed and passed to the tests; give credentials to the tests through their own environment")
		case u.RawQuery != "" || u.Fragment != "":
			d.errorf(d.at(k), k, "%q: give the site's address alone, without a query or fragment", s.URL)
		}
	}
	if k := key + ".test"; d.given(k) {
		if strings.TrimSpace(s.Test) == "" {
			d.errorf(d.at(k), k, "an empty command: remove test or give the command that runs the functional tests")
		} else if _, err := c.StageURL(s); err != nil && !d.given(key+".url") {
			d.errorf(d.keyAt(k), k, "the tests need the stage's address, and the stage has no domain: set %s.url, like http://203.0.113.5", key)
		}
	}
}

// checkTags validates a stage's tags and applies the defaults: LIVE and
// a dated tag on the last stage of the pipeline, none elsewhere.
func (d *decoder) checkTags(key string, s *Stage, last bool) {
	t := &s.Tags
	if !d.given(key+".moving") && last {
		t.Moving = DefaultMovingTag
	}
	if !d.given(key+".dated") && last {
		t.Dated = DefaultDatedTag
	}
	if !d.given(key + ".remote") {
		t.Remote = "origin"
	} else if t.Remote == "" || strings.HasPrefix(t.Remote, "-") || strings.ContainsFunc(t.Remote, unicode.IsSpace) {
		d.errorf(d.at(key+".remote"), key+".remote", "%q is not a git remote name like origin", t.Remote)
	}
	d.tagFormat(key+".moving", t.Moving, s.Name, true)
	d.tagFormat(key+".dated", t.Dated, s.Name, false)
	if t.Moving != "" && t.Moving == t.Dated {
		d.errorf(d.at(key+".dated"), key+".dated", "is the same name as moving: the dated tag must hold the time, like %s", DefaultDatedTag)
	}
}

// tagFormat checks a tag format: known placeholders, and a name git
// accepts once they are filled.
func (d *decoder) tagFormat(key, format, stage string, moving bool) {
	if format == "" {
		return
	}
	for _, p := range tagPlaceholderRe.FindAllString(format, -1) {
		switch {
		case p != "{stage}" && p != "{commit}" && !slices.Contains(timePlaceholders, p):
			d.errorf(d.at(key), key, "unknown placeholder %s: use {stage}, {commit}, {YYYY}, {MM}, {DD}, {hh}, {mm} or {ss}", p)
			return
		case moving && p != "{stage}":
			d.errorf(d.at(key), key, "a moving tag is one name moved from commit to commit: %s would make a new one each time (that is what dated is for)", p)
			return
		}
	}
	if !moving && !strings.Contains(format, "{commit}") && !slices.ContainsFunc(timePlaceholders, func(p string) bool { return strings.Contains(format, p) }) {
		d.errorf(d.at(key), key, "%q would be the same name on every deploy: add the time ({YYYY}-{MM}-{DD}/{hh}{mm}) or {commit}", format)
		return
	}
	name := ExpandTag(format, stage, "0123456789abcdef", time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC))
	if err := CheckTagName(name); err != nil {
		d.errorf(d.at(key), key, "%q: %v", format, err)
	}
}

// CheckTagName tells whether git accepts name as a tag, asking git itself
// (git check-ref-format) when it is installed.
func CheckTagName(name string) error {
	const why = "not a valid git tag name (no spaces, ~ ^ : ? * [ \\, .., @{, nor a leading - or a trailing . or /)"
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsFunc(name, func(r rune) bool { return IsControl(r) || unicode.IsSpace(r) }) ||
		strings.ContainsAny(name, "~^:?*[\\") || strings.Contains(name, "..") || strings.Contains(name, "@{") {
		return errors.New(why)
	}
	err := exec.Command("git", "check-ref-format", "refs/tags/"+name).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return errors.New(why)
	}
	return nil // no git here: the checks above are what can be said
}
