package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// Engine is what a host's Docker engine holds.
type Engine struct {
	Containerd bool   // it keeps images in containerd's store, not the classic one
	Version    string // the engine's (server) version
	Images     map[string][]string
}

// ErrNoDocker and ErrEngineDown are the answers of a host that cannot take
// an image yet: hoist setup installs Docker and starts it.
var (
	ErrNoDocker   = errors.New("docker is not installed")
	ErrEngineDown = errors.New("the docker engine is not running")
)

// engineScript prints, in one round trip, one line a fact: "no-docker";
// or "docker-down" and what docker said; or "engine VERSION", the
// "driver-status" JSON of docker info, then "image ID DIFFID..." for
// every image. An image removed between the listing and its inspection is
// left out (docker image inspect still prints the others): a host said to
// lack a layer only gets sent more.
const engineScript = `command -v docker >/dev/null 2>&1 || { echo no-docker; exit 0; }
v=$(docker version --format '{{.Server.Version}}' 2>/dev/null) || {
	echo docker-down
	docker version --format '{{.Server.Version}}' 2>&1 >/dev/null
	exit 0
}
echo "engine $v"
echo "driver-status $(docker info --format '{{json .DriverStatus}}')"
docker image ls -aq --no-trunc | sort -u |
	xargs -r docker image inspect --format 'image {{.Id}}{{range .RootFS.Layers}} {{.}}{{end}}' 2>/dev/null || true`

// EngineCmd is the command that tells what the host's engine holds, run as
// root (the docker socket is root's); ParseEngine reads its output.
func EngineCmd(h *remote.Host) string {
	return h.SudoScript(engineScript)
}

// ParseEngine reads what EngineCmd printed. When docker is missing or its
// engine is not running the error wraps ErrNoDocker or ErrEngineDown.
func ParseEngine(out string) (Engine, error) {
	e := Engine{Images: map[string][]string{}}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	switch {
	case len(lines) > 0 && lines[0] == "no-docker":
		return e, ErrNoDocker
	case len(lines) > 0 && lines[0] == "docker-down":
		msg := strings.TrimSpace(strings.Join(lines[1:], " "))
		if msg == "" {
			return e, ErrEngineDown
		}
		return e, fmt.Errorf("%w: %s", ErrEngineDown, msg)
	}
	for _, line := range lines {
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "engine":
			e.Version = rest
		case "driver-status":
			var status [][]string
			if err := json.Unmarshal([]byte(rest), &status); err != nil {
				return e, fmt.Errorf("docker info's driver status: %v: %q", err, rest)
			}
			for _, kv := range status {
				for _, v := range kv {
					// "driver-type: io.containerd.snapshotter.v1"
					e.Containerd = e.Containerd || strings.HasPrefix(v, "io.containerd.snapshotter")
				}
			}
		case "image":
			f := strings.Fields(rest)
			if len(f) == 0 {
				return e, fmt.Errorf("an image line with no id: %q", line)
			}
			e.Images[f[0]] = f[1:]
		}
	}
	if e.Version == "" {
		return e, fmt.Errorf("no engine version in what the host said: %q", lastLines(out, 5))
	}
	return e, nil
}

// Has says whether the engine holds the image with this id.
func (e Engine) Has(imageID string) bool {
	_, ok := e.Images[imageID]
	return ok
}

// Lacks lists the diff ids of img's layers the engine lacks. A layer only
// counts as present with the whole chain below it: an engine keys layers by
// chain (a layer's diff id and every one below it), so the same diff id
// over other layers is another layer. What an image on the host shares
// with img from the bottom up is present; everything above the longest
// such prefix is lacking.
func (e Engine) Lacks(img *Image) []string {
	best := 0
	for _, layers := range e.Images {
		n := 0
		for n < len(layers) && n < len(img.Layers) && layers[n] == img.Layers[n] {
			n++
		}
		best = max(best, n)
	}
	return img.Layers[best:]
}
