package remote

import (
	"context"
	"strings"
)

// Host is a connected host and who hoist is there.
type Host struct {
	Name string // as written in hoist.yml
	Transport
	User string // the remote user commands run as
	Root bool   // no sudo needed
}

// Identify learns which user hoist is on the host.
func (h *Host) Identify(ctx context.Context) error {
	out, err := Output(ctx, h, Script(`id -un; id -u`))
	if err != nil {
		return err
	}
	f := strings.Fields(out)
	if len(f) == 2 {
		h.User, h.Root = f[0], f[1] == "0"
	}
	return nil
}

// Sudo is Command run as root: through sudo -n unless hoist already is
// root, so a missing sudo rule fails at once instead of waiting for a
// password nobody will type.
func (h *Host) Sudo(argv ...string) string {
	if h.Root {
		return Command(argv...)
	}
	return Command(append([]string{"sudo", "-n"}, argv...)...)
}

// SudoScript is Script run as root.
func (h *Host) SudoScript(script string, args ...string) string {
	return h.Sudo(append([]string{"sh", "-c", script, "sh"}, args...)...)
}
