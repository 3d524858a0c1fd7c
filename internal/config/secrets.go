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

// ReadSecrets finds the value of each secret a stage needs: in the deploying
// machine's environment first (getenv; an empty value counts as unset), else
// in the secrets file. Values never appear in errors.
func ReadSecrets(c *Config, s *Stage, getenv func(string) string) (map[string]string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	values := map[string]string{}
	var need []string
	for _, name := range c.StageSecrets(s) {
		if v := getenv(name); v != "" {
			values[name] = v
		} else {
			need = append(need, name)
		}
	}
	if len(need) == 0 {
		return values, nil
	}
	file := c.SecretsFileFor(s)
	if file == "" {
		return nil, missingSecrets(need, "not set in the environment, and "+FileName+" names no secrets_file")
	}
	// The file is read only when needed, so CI can pass every secret in the
	// environment without having one.
	fromFile, err := readDotenv(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missingSecrets(need, fmt.Sprintf("not set in the environment, and %s does not exist", file))
	}
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range need {
		if v, ok := fromFile[name]; ok {
			values[name] = v
		} else {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, missingSecrets(missing, "not set in the environment nor in "+file)
	}
	return values, nil
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
