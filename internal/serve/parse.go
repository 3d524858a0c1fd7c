package serve

import "strings"

// instanceIDs picks release ids out of systemctl list-units output.
func instanceIDs(out, prefix string) []string {
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(f[0], prefix), ".service"))
	}
	return ids
}
