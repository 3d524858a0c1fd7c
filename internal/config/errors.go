package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in hoist.yml, placed so an editor can jump to it.
type Error struct {
	File      string
	Line, Col int
	Key       string // dotted path like stages.production.hosts[1].roles; "" for the top level
	Msg       string
}

// Error reads like a compiler message: "hoist.yml:12:5: key: what is wrong".
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order, so that one run
// shows everything there is to fix.
type Errors []Error

// Error prints one problem per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

func (e Errors) sort() {
	sort.SliceStable(e, func(i, j int) bool {
		if e[i].Line != e[j].Line {
			return e[i].Line < e[j].Line
		}
		return e[i].Col < e[j].Col
	})
}

// suggest returns the allowed word closest to a mistyped one: within two
// edits, or one being a prefix of the other. "" when nothing is close.
func suggest(word string, allowed []string) string {
	w := strings.ToLower(word)
	best, bestDist := "", 3
	for _, a := range allowed {
		d := editDistance(w, a)
		if d < bestDist {
			best, bestDist = a, d
		}
	}
	if best != "" {
		return best
	}
	if len(w) >= 3 {
		for _, a := range allowed {
			if strings.HasPrefix(a, w) || strings.HasPrefix(w, a) {
				return a
			}
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
