package remote

import "strings"

// Quote makes s one word for a POSIX shell. It is the only way hoist puts a
// value into a remote command line, so no user value ever reaches a shell raw.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Command joins argv into one command line, quoting every word.
func Command(argv ...string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = Quote(a)
	}
	return strings.Join(words, " ")
}

// Script runs a fixed shell script with values passed as positional
// parameters ($1, $2, ...), so the script text itself never holds a value.
func Script(script string, args ...string) string {
	return Command(append([]string{"sh", "-c", script, "sh"}, args...)...)
}

// Chain runs command lines one after another in one round trip, stopping
// at the first that fails: each command hoist sends is a round trip, and a
// host far away makes every one of them cost. Empty commands are left out.
func Chain(cmds ...string) string {
	var parts []string
	for _, c := range cmds {
		if c != "" {
			parts = append(parts, "{ "+c+"; }")
		}
	}
	if len(parts) == 0 {
		return "true"
	}
	return strings.Join(parts, " && ")
}

// Labeled is cmd that, when it fails, says so on stderr under label: in a
// Chain, the label tells which part failed. An empty cmd stays empty.
func Labeled(label, cmd string) string {
	if cmd == "" {
		return ""
	}
	return "{ " + cmd + "; } || { s=$?; echo " + Quote(Failed(label)) + " >&2; exit $s; }"
}

// Failed is what a Labeled command that failed says on stderr.
func Failed(label string) string { return "hoist: " + label + " failed" }
