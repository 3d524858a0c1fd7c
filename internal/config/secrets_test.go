package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func secretsConfig(t *testing.T, secretsFile string) (*Config, *Stage) {
	t.Helper()
	yml := head + "secrets: [DJANGO_SECRET_KEY, DATABASE_URL]\n"
	if secretsFile != "" {
		yml += "secrets_file: " + secretsFile + "\n"
	}
	c, err := Parse("hoist.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	c.Dir = t.TempDir()
	return c, c.Stages[0]
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestReadSecretsFromEnvironment(t *testing.T) {
	c, s := secretsConfig(t, "missing.env") // never opened: the environment has everything
	got, err := ReadSecrets(c, s, env(map[string]string{"DJANGO_SECRET_KEY": "key-of-the-app", "DATABASE_URL": "postgres://", "OTHER": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"DJANGO_SECRET_KEY": "key-of-the-app", "DATABASE_URL": "postgres://"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

func TestReadSecretsFromFile(t *testing.T) {
	c, s := secretsConfig(t, ".env.production")
	write(t, filepath.Join(c.Dir, ".env.production"), `# production secrets
export DJANGO_SECRET_KEY='s3cr#t "quoted"'
DATABASE_URL = "postgres://u:p@db/notes"  # the database
UNUSED=plain value # comment
`, 0o600)
	// The environment wins over the file.
	got, err := ReadSecrets(c, s, env(map[string]string{"DATABASE_URL": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"DJANGO_SECRET_KEY": `s3cr#t "quoted"`, "DATABASE_URL": "from-env"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	got, err = ReadSecrets(c, s, env(nil))
	if err != nil || got["DATABASE_URL"] != "postgres://u:p@db/notes" {
		t.Errorf("from the file: %v %v", got, err)
	}
}

func TestReadSecretsMissing(t *testing.T) {
	c, s := secretsConfig(t, "")
	_, err := ReadSecrets(c, s, env(map[string]string{"DATABASE_URL": "x"}))
	if err == nil || err.Error() != "missing secret DJANGO_SECRET_KEY: not set in the environment, and hoist.yml names no secrets_file" {
		t.Errorf("no file: %v", err)
	}

	c, s = secretsConfig(t, "prod.env")
	file := filepath.Join(c.Dir, "prod.env")
	_, err = ReadSecrets(c, s, env(nil))
	if err == nil || err.Error() != "missing secrets DATABASE_URL, DJANGO_SECRET_KEY: not set in the environment, and "+file+" does not exist" {
		t.Errorf("file does not exist: %v", err)
	}

	write(t, file, "DJANGO_SECRET_KEY=value-of-the-key\n", 0o600)
	_, err = ReadSecrets(c, s, env(nil))
	if err == nil || err.Error() != "missing secret DATABASE_URL: not set in the environment nor in "+file {
		t.Errorf("not in the file: %v", err)
	}
}

func TestReadSecretsRefusesShortValues(t *testing.T) {
	c, s := secretsConfig(t, "prod.env")
	write(t, filepath.Join(c.Dir, "prod.env"), "DATABASE_URL=\n", 0o600)
	_, err := ReadSecrets(c, s, env(map[string]string{"DJANGO_SECRET_KEY": "1234567"}))
	if err == nil || !strings.Contains(err.Error(), "secrets DATABASE_URL, DJANGO_SECRET_KEY are shorter than 8 characters") || strings.Contains(err.Error(), "1234567") {
		t.Errorf("7 characters and an empty value: %v", err)
	}
	if _, err := ReadSecrets(c, s, env(map[string]string{"DJANGO_SECRET_KEY": "12345678", "DATABASE_URL": "sqlite://"})); err != nil {
		t.Errorf("8 characters: %v", err)
	}
}

// Commands that only look at a stage get what can be found, and no error.
func TestAvailableSecrets(t *testing.T) {
	c, s := secretsConfig(t, "prod.env")
	file := filepath.Join(c.Dir, "prod.env")
	got := AvailableSecrets(c, s, env(map[string]string{"DATABASE_URL": "from-the-env"}))
	if want := map[string]string{"DATABASE_URL": "from-the-env"}; !reflect.DeepEqual(got, want) {
		t.Errorf("no file: got %v", got)
	}
	write(t, file, "DJANGO_SECRET_KEY=short\n", 0o600)
	got = AvailableSecrets(c, s, env(nil))
	if want := map[string]string{"DJANGO_SECRET_KEY": "short"}; !reflect.DeepEqual(got, want) {
		t.Errorf("one in the file: got %v", got)
	}
	if runtime.GOOS != "windows" {
		os.Chmod(file, 0o644)
		got = AvailableSecrets(c, s, env(map[string]string{"DATABASE_URL": "from-the-env"}))
		if want := map[string]string{"DATABASE_URL": "from-the-env"}; !reflect.DeepEqual(got, want) {
			t.Errorf("unreadable file: got %v", got)
		}
	}
}

func TestReadSecretsFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	c, s := secretsConfig(t, "prod.env")
	file := filepath.Join(c.Dir, "prod.env")
	write(t, file, "DJANGO_SECRET_KEY=value-of-the-key\nDATABASE_URL=value-of-the-url\n", 0o644)
	_, err := ReadSecrets(c, s, env(nil))
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+file) || strings.Contains(err.Error(), "value-of") {
		t.Errorf("0644: %v", err)
	}
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecrets(c, s, env(nil)); err == nil {
		t.Error("0640 accepted")
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecrets(c, s, env(nil)); err != nil {
		t.Errorf("0600: %v", err)
	}
}

func TestReadDotenv(t *testing.T) {
	tests := []struct {
		name, text string
		want       map[string]string
		err        string
	}{
		{"forms", "A=1\nexport B=two words\nC='single # kept'\nD=\"a\\\"b\\nc\"\nE=\nF=x#y\n  G = spaced  \n\n# comment\n",
			map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": "a\"b\nc", "E": "", "F": "x#y", "G": "spaced"}, ""},
		{"last wins", "A=1\nA=2\n", map[string]string{"A": "2"}, ""},
		{"no equals", "A=1\nvalue-of-secret\n", nil, ":2: expected KEY=VALUE"},
		{"bad name", "MY-KEY=value-of-secret\n", nil, ":1: expected KEY=VALUE"},
		{"open quote", "A=\"value-of-secret\n", nil, ":1: A: missing closing quote"},
		{"after quote", "A='value-of' secret\n", nil, ":1: A: unexpected text after the closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "s.env")
			write(t, file, tt.text, 0o600)
			got, err := readDotenv(file)
			if tt.err != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.err) || strings.Contains(err.Error(), "value-of") {
					t.Errorf("error %v, want one ending %q and holding no value", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
}
