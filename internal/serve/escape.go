package serve

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/hoistdeploy/hoist/internal/config"
)

// One helper per file format writes every value the templates interpolate.
// config refuses what these cannot write, so an error here means a value
// came from somewhere config did not check (such as the SSH user).

// unitPlain writes s where a unit file takes one word with no quoting:
// a path in WorkingDirectory= or ListenStream=, a user name, or a path
// inside an ExecStart= or Environment= word. Whitespace, quotes, \ and $
// would split the word, be unquoted or expanded there, so they are
// refused; % starts a specifier and is doubled.
func unitPlain(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("an empty value cannot go into a unit file")
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || isControl(r) || strings.ContainsRune(`"'\$;`, r)
	}); i >= 0 {
		return "", fmt.Errorf("%q cannot go into a unit file unquoted: it holds %q", s, s[i:i+1])
	}
	return strings.ReplaceAll(s, "%", "%%"), nil
}

// unitInstancePath writes a Layout path built for the release id "%i"
// (systemd's instance specifier): the rest of the path is escaped, the
// specifier kept.
func unitInstancePath(p string) (string, error) {
	parts := strings.Split(p, "%i")
	for i, part := range parts {
		if part == "" {
			continue
		}
		esc, err := unitPlain(part)
		if err != nil {
			return "", err
		}
		parts[i] = esc
	}
	return strings.Join(parts, "%i"), nil
}

// unitArg writes s as one argument of an ExecStart= command line: in
// double quotes, with \ and " escaped, % doubled (a specifier) and $
// doubled (systemd expands $NAME in command lines).
func unitArg(s string) (string, error) {
	if err := noControl(s, "a unit file"); err != nil {
		return "", err
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`).Replace(s) + `"`, nil
}

// nginxString writes s as one nginx token: in double quotes, with \ and "
// escaped, so ; { } # and spaces are plain text. nginx has no escape for $
// (a variable in alias, proxy_pass and others), so $ is refused.
func nginxString(s string) (string, error) {
	if err := noControl(s, "an nginx site"); err != nil {
		return "", err
	}
	if strings.Contains(s, "$") {
		return "", fmt.Errorf("%q cannot go into an nginx site: nginx reads $ as a variable", s)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
}

// caddyString writes s as one Caddyfile token, in double quotes with "
// escaped. Caddy replaces {placeholders} and {$ENV} even inside quotes,
// and keeps a \ before anything but a quote, so { } and \ are refused.
func caddyString(s string) (string, error) {
	return caddyQuote(s, "")
}

// caddyQuote is caddyString with a placeholder of ours, such as {uri},
// added inside the quotes.
func caddyQuote(s, placeholder string) (string, error) {
	if err := noControl(s, "a Caddyfile"); err != nil {
		return "", err
	}
	if strings.ContainsAny(s, `{}\`) {
		return "", fmt.Errorf("%q cannot go into a Caddyfile: Caddy reads { } as a placeholder and keeps \\", s)
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + placeholder + `"`, nil
}

// noControl refuses a character that would end a line (or be lost) in a
// line-based file: no escape in these formats makes it safe everywhere.
func noControl(s, where string) error {
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return fmt.Errorf("%q cannot go into %s: it holds a control character or line separator", s, where)
	}
	return nil
}

// isControl is config's rule, and invalid UTF-8 (which reads as U+FFFD).
func isControl(r rune) bool {
	return config.IsControl(r) || r == unicode.ReplacementChar
}
