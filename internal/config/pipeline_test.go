package config

import (
	"strings"
	"testing"
	"time"
)

const twoStages = `app: notes
settings: notes.settings
web:
  domains: [notes.example.com]
stages:
  staging:
    hosts: [deploy@staging.example.com]
    domains: [staging.example.com]
    test: ./functional-tests.sh
  production:
    hosts: [deploy@example.com]
`

func TestPipelineDefaults(t *testing.T) {
	c, err := Parse("hoist.yml", []byte(twoStages+"pipeline: [staging, production]\n"))
	if err != nil {
		t.Fatal(err)
	}
	staging, prod := c.Stages[0], c.Stages[1]
	if staging.Tags.Moving != "" || staging.Tags.Dated != "" {
		t.Errorf("staging got default tags %+v: only the last stage has them", staging.Tags)
	}
	if prod.Tags.Moving != "LIVE" || prod.Tags.Dated != DefaultDatedTag || prod.Tags.Push || prod.Tags.Remote != "origin" {
		t.Errorf("production tags = %+v, want LIVE and %s, not pushed, remote origin", prod.Tags, DefaultDatedTag)
	}
	if c.PipelineIndex("production") != 1 || c.PipelineIndex("other") != -1 {
		t.Errorf("PipelineIndex is wrong")
	}
	for _, tt := range []struct {
		stage *Stage
		want  string
	}{{staging, "http://staging.example.com"}, {prod, "http://notes.example.com"}} {
		if got, err := c.StageURL(tt.stage); got != tt.want || err != nil {
			t.Errorf("StageURL(%s) = %q, %v; want %q", tt.stage.Name, got, err, tt.want)
		}
	}

	// Caddy with TLS: https; nginx on another port: the port; url wins.
	c, err = Parse("hoist.yml", []byte(strings.Replace(twoStages, "web:\n", "web:\n  server: caddy\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.StageURL(c.Stages[0]); got != "https://staging.example.com" {
		t.Errorf("caddy with TLS: StageURL = %q", got)
	}
	c, err = Parse("hoist.yml", []byte(strings.Replace(twoStages, "web:\n", "web:\n  port: 8080\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.StageURL(c.Stages[0]); got != "http://staging.example.com:8080" {
		t.Errorf("nginx on 8080: StageURL = %q", got)
	}
	c, err = Parse("hoist.yml", []byte(twoStages+"    url: http://127.0.0.1:8081/\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.StageURL(c.Stages[1]); got != "http://127.0.0.1:8081" {
		t.Errorf("url: StageURL = %q", got)
	}
	// No pipeline: no tags unless asked for.
	c, err = Parse("hoist.yml", []byte(twoStages+"    tags: {moving: PROD, dated: \"prod-{commit}\", push: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Stages[0].Tags.Moving != "" || c.Stages[1].Tags.Moving != "PROD" || !c.Stages[1].Tags.Push {
		t.Errorf("tags without a pipeline: %+v %+v", c.Stages[0].Tags, c.Stages[1].Tags)
	}
}

func TestPipelineErrors(t *testing.T) {
	wantErrors(t, twoStages+"pipeline: [staging, prod, staging]\n", []string{
		`hoist.yml:12:21: pipeline[1]: unknown stage "prod": stages has staging, production (did you mean "production"?)`,
		`hoist.yml:12:27: pipeline[2]: staging is listed twice`,
	})
	wantErrors(t, twoStages+"pipeline: []\n", []string{`hoist.yml:12:11: pipeline: needs at least one stage`})
	wantErrors(t, strings.Replace(twoStages, "    domains: [staging.example.com]\n", "    domains: []\n", 1), []string{
		`hoist.yml:9:5: stages.staging.test: the tests need the stage's address, and the stage has no domain: set stages.staging.url`,
	})
	wantErrors(t, twoStages+"    test: \" \"\n    url: ftp://example.com\n", []string{
		`hoist.yml:12:11: stages.production.test: an empty command`,
		`hoist.yml:13:10: stages.production.url: "ftp://example.com" is not a URL`,
	})
	wantErrors(t, twoStages+"    url: https://user:pw@example.com\n", []string{
		`hoist.yml:12:10: stages.production.url: must not hold a user or password`,
	})
}

// Tag names end up as git ref names and in git command lines: only what
// git check-ref-format accepts, no placeholders hoist does not fill.
func TestPipelineRefusesHostileTags(t *testing.T) {
	tags := func(s string) string { return twoStages + "    tags:\n" + s }
	wantErrors(t, tags("      moving: \"LIVE\\nX\"\n"), []string{`hoist.yml:13:15: stages.production.tags.moving: must not hold the control character U+000A`})
	wantErrors(t, tags("      moving: \"--delete\"\n"), []string{`hoist.yml:13:15: stages.production.tags.moving: "--delete": not a valid git tag name`})
	wantErrors(t, tags("      moving: \"a..b\"\n      dated: \"x {YYYY}\"\n"), []string{
		`hoist.yml:13:15: stages.production.tags.moving: "a..b": not a valid git tag name`,
		`hoist.yml:14:14: stages.production.tags.dated: "x {YYYY}": not a valid git tag name`,
	})
	wantErrors(t, tags("      moving: \"live.lock\"\n      dated: \"d-{YYYY}^\"\n"), []string{
		`hoist.yml:13:15: stages.production.tags.moving: "live.lock": not a valid git tag name`,
		`hoist.yml:14:14: stages.production.tags.dated: "d-{YYYY}^": not a valid git tag name`,
	})
	wantErrors(t, tags("      moving: \"LIVE-{YYYY}\"\n      dated: \"D-{year}\"\n"), []string{
		`hoist.yml:13:15: stages.production.tags.moving: a moving tag is one name moved from commit to commit: {YYYY}`,
		`hoist.yml:14:14: stages.production.tags.dated: unknown placeholder {year}`,
	})
	wantErrors(t, tags("      dated: DEPLOYED\n      remote: \"-x\"\n"), []string{
		`hoist.yml:13:14: stages.production.tags.dated: "DEPLOYED" would be the same name on every deploy`,
		`hoist.yml:14:15: stages.production.tags.remote: "-x" is not a git remote name`,
	})
}

func TestExpandTag(t *testing.T) {
	when := time.Date(2026, 11, 22, 5, 7, 9, 0, time.FixedZone("CET", 3600))
	got := ExpandTag("{stage}/DEPLOYED-{YYYY}-{MM}-{DD}/{hh}{mm}{ss}-{commit}", "production", "1a2b3c4d5e6f", when)
	if want := "production/DEPLOYED-2026-11-22/040709-1a2b3c4"; got != want {
		t.Errorf("ExpandTag = %q, want %q (UTC)", got, want)
	}
	if CheckTagName(got) != nil || CheckTagName("LIVE") != nil {
		t.Errorf("good tag names refused")
	}
}
