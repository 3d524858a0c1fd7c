package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// MinSecretLength is the shortest secret value hoist accepts. Output is
// redacted by searching for each value: a shorter one would blank out
// ordinary words and is too weak to be a secret anyway.
const MinSecretLength = 8

// ReadSecrets finds the value of each secret a stage needs: in the deploying
// machine's environment first (getenv; an empty value counts as unset), else
// in the secrets file. Every secret must be found and be at least
// MinSecretLength characters long. Values never appear in errors.
func ReadSecrets(c *Config, s *Stage, getenv func(string) string) (map[string]string, error) {
	values, missing, err := readSecrets(c, s, getenv)
	if err != nil {
		return nil, err
	}
	if missing != nil {
		return nil, missing
	}
	var short []string
	for _, name := range c.StageSecrets(s) {
		if len(values[name]) < MinSecretLength {
			short = append(short, name)
		}
	}
	if len(short) > 0 {
		noun, verb := "secret", "is"
		if len(short) > 1 {
			noun, verb = "secrets", "are"
		}
		return nil, fmt.Errorf("%s %s %s shorter than %d characters: use a longer, random value (python3 -c 'import secrets; print(secrets.token_urlsafe(50))')",
			noun, strings.Join(short, ", "), verb, MinSecretLength)
	}
	return values, nil
}

// AvailableSecrets is ReadSecrets for commands that only look at a stage
// (status, logs, rollback...): it returns whatever values it can find, so
// they can still be hidden in output, and never fails: a secret missing on
// this machine must not stop someone from reading logs.
func AvailableSecrets(c *Config, s *Stage, getenv func(string) string) map[string]string {
	values, _, err := readSecrets(c, s, getenv)
	if err != nil {
		// The file could not be read; the environment's values still count.
		values = map[string]string{}
		if getenv == nil {
			getenv = os.Getenv
		}
		for _, name := range c.StageSecrets(s) {
			if v := getenv(name); v != "" {
				values[name] = v
			}
		}
	}
	return values
}

// readSecrets returns the values found, an error naming the missing ones,
// and an error when the secrets file cannot be read.
func readSecrets(c *Config, s *Stage, getenv func(string) string) (values map[string]string, missing, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	values = map[string]string{}
	var need []string
	for _, name := range c.StageSecrets(s) {
		if v := getenv(name); v != "" {
			values[name] = v
		} else {
			need = append(need, name)
		}
	}
	if len(need) == 0 {
		return values, nil, nil
	}
	file := c.SecretsFileFor(s)
	if file == "" {
		return values, missingSecrets(need, "not set in the environment, and "+FileName+" names no secrets_file"), nil
	}
	// The file is read only when needed, so CI can pass every secret in the
	// environment without having one.
	fromFile, err := readDotenv(file)
	if errors.Is(err, fs.ErrNotExist) {
		return values, missingSecrets(need, fmt.Sprintf("not set in the environment, and %s does not exist", file)), nil
	}
	if err != nil {
		return nil, nil, err
	}
	var absent []string
	for _, name := range need {
		if v, ok := fromFile[name]; ok {
			values[name] = v
		} else {
			absent = append(absent, name)
		}
	}
	if len(absent) > 0 {
		return values, missingSecrets(absent, "not set in the environment nor in "+file), nil
	}
	return values, nil, nil
}

func missingSecrets(names []string, where string) error {
	noun := "secret"
	if len(names) > 1 {
		noun = "secrets"
	}
	return fmt.Errorf("missing %s %s: %s", noun, strings.Join(names, ", "), where)
}

// readDotenv reads KEY=VALUE lines: blank lines and # comments are skipped,
// "export " may lead, and a value may be in single quotes (taken as is) or
// double quotes (\n, \" and \\ are escapes). An unquoted value ends at " #".
// The file must be private to its owner.
func readDotenv(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Windows has no such mode bits to check.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s holds secrets but other users may read it (mode %04o): run chmod 600 %s", name, fi.Mode().Perm(), name)
	}
	values := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !envNameRe.MatchString(key) {
			// Never quote the line: it may hold a value.
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", name, n)
		}
		value, err := dotenvValue(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", name, n, key, err)
		}
		values[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return values, nil
}

func dotenvValue(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch q := v[0]; q {
	case '\'', '"':
		end := strings.LastIndexByte(v, q)
		if end == 0 {
			return "", errors.New("missing closing quote")
		}
		if rest := strings.TrimSpace(v[end+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", errors.New("unexpected text after the closing quote")
		}
		inner := v[1:end]
		if q == '"' {
			inner = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(inner)
		}
		return inner, nil
	}
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i]), nil
		}
	}
	return v, nil
}
