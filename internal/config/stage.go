package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Stage finds a stage by name. With one stage, "" names it, so a single-stage
// app needs no stage argument.
func (c *Config) Stage(name string) (*Stage, error) {
	for _, s := range c.Stages {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(c.Stages))
	for i, s := range c.Stages {
		names[i] = s.Name
	}
	if name == "" {
		if len(c.Stages) == 1 {
			return c.Stages[0], nil
		}
		return nil, fmt.Errorf("name a stage: %s", strings.Join(names, ", "))
	}
	msg := fmt.Sprintf("unknown stage %q: %s has %s", name, FileName, strings.Join(names, ", "))
	if s := suggest(name, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s", msg)
}

// Primary is the host that runs once-per-deploy steps such as migrations:
// the one marked primary, else the first web host, else the first host.
func (s *Stage) Primary() *Host {
	for _, h := range s.Hosts {
		if h.Primary {
			return h
		}
	}
	for _, h := range s.Hosts {
		if slices.Contains(h.Roles, WebRole) {
			return h
		}
	}
	if len(s.Hosts) > 0 {
		return s.Hosts[0]
	}
	return nil
}

// DeployPath is the stage's deploy_to, else the app's.
func (c *Config) DeployPath(s *Stage) string {
	if s.DeployTo != "" {
		return s.DeployTo
	}
	return c.DeployTo
}

// StageEnv is the plain (non-secret) environment of the app on a stage: the
// app's env, DJANGO_SETTINGS_MODULE from settings, then the stage's env,
// which wins (a stage may run other settings).
func (c *Config) StageEnv(s *Stage) map[string]string {
	env := make(map[string]string, len(c.Env)+len(s.Env)+1)
	for k, v := range c.Env {
		env[k] = v
	}
	env["DJANGO_SETTINGS_MODULE"] = c.Settings
	for k, v := range s.Env {
		env[k] = v
	}
	return env
}

// StageSecrets names the secrets a stage needs, sorted, each once.
func (c *Config) StageSecrets(s *Stage) []string {
	names := slices.Concat(c.Secrets, s.Secrets)
	slices.Sort(names)
	return slices.Compact(names)
}

// SecretsFileFor is the stage's secrets_file, else the app's, relative to
// c.Dir (a leading ~/ is the home directory); "" when there is none.
func (c *Config) SecretsFileFor(s *Stage) string {
	p := s.SecretsFile
	if p == "" {
		p = c.SecretsFile
	}
	if p == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, filepath.FromSlash(rest))
		}
	}
	p = filepath.FromSlash(p)
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Domains are the host names a stage serves: its own domains when it sets
// them (even to an empty list), else web.domains.
func (c *Config) Domains(s *Stage) []string {
	if s.Domains != nil {
		return s.Domains
	}
	return c.Web.Domains
}
