package config

import (
	"path"
	"path/filepath"
	"strings"
)

// checkContainer checks the container section, which only stages of
// strategy container read, and the keys only strategy release reads.
func (d *decoder) checkContainer(c *Config) {
	uses := map[Strategy]bool{c.Strategy: len(c.Stages) == 0}
	for _, s := range c.Stages {
		uses[s.Strategy] = true
	}
	if !uses[ContainerStrategy] {
		if d.given("container") {
			d.errorf(d.keyAt("container"), "container", "is read only with strategy: container")
		}
		return
	}
	if !uses[ReleaseStrategy] {
		for _, k := range []string{"requirements", "system_site_packages"} {
			if d.given(k) {
				d.errorf(d.keyAt(k), k, "is for strategy release: with strategy container the Dockerfile installs the app's packages")
			}
		}
	}
	k := &c.Container
	if !d.given("container.dockerfile") {
		k.Dockerfile = "Dockerfile"
		if c.Dir != "" && !isFile(filepath.Join(c.Dir, k.Dockerfile)) {
			d.errorf(d.keyAt("strategy"), "container.dockerfile", "no Dockerfile in %s: write one, or name it with container.dockerfile", c.Dir)
		}
	} else if d.relPath("container.dockerfile", &k.Dockerfile) && c.Dir != "" && !isFile(filepath.Join(c.Dir, filepath.FromSlash(k.Dockerfile))) {
		d.errorf(d.at("container.dockerfile"), "container.dockerfile", "no file %s in %s", k.Dockerfile, c.Dir)
	}
	if !d.given("container.context") {
		k.Context = "."
	} else {
		d.relPath("container.context", &k.Context)
	}
	for name, value := range k.BuildArgs {
		key := join("container.build_args", name)
		switch {
		case !envNameRe.MatchString(name):
			d.errorf(d.keyAt(key), key, "%q is not a build argument name: use letters, digits and _, not starting with a digit", name)
		case looksSecret(name):
			d.errorf(d.keyAt(key), key, "looks like a secret: build arguments stay in the image's history; list it under secrets, which the container gets at run time")
		case strings.ContainsFunc(value, IsControl):
			d.errorf(d.at(key), key, "must not hold a line break or another control character")
		}
	}
	if d.given("container.workdir") {
		switch p := k.Workdir; {
		case !strings.HasPrefix(p, "/") || path.Clean(p) != p:
			d.errorf(d.at("container.workdir"), "container.workdir", "%q must be a clean absolute path inside the image, like /app", p)
		default:
			d.plainPath("container.workdir", p)
		}
	}
}
