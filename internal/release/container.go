package release

import (
	"fmt"
	"path"
	"strings"

	"github.com/hoistdeploy/hoist/internal/remote"
)

// ContainerSpec is what a release of strategy container is made from on a
// host: the image is already there (shipped), the rest is written here.
type ContainerSpec struct {
	Env                     map[string]string
	SharedFiles, SharedDirs []string // relative to shared/, mounted into the containers
	Script                  string   // the release's container script (serve.ContainerScript)
}

// ContainerBuildCmd makes release id of strategy container in one round
// trip: its environment file in docker's syntax (mode 0600, sent over
// stdin), its directory with an empty static dir, the shared dirs and files
// its containers mount, its container script, and the image's tag.
func ContainerBuildCmd(l Layout, id string, spec ContainerSpec) (cmd string, stdin []byte, err error) {
	env, err := DockerEnvFile(spec.Env)
	if err != nil {
		return "", nil, err
	}
	args := []string{l.Release(id), l.Static(id), l.Shared()}
	for _, f := range spec.SharedFiles {
		args = append(args, "f:"+f)
	}
	for _, d := range spec.SharedDirs {
		args = append(args, "d:"+d)
	}
	const mkdirs = `
set -e
rel=$1 static=$2 shared=$3; shift 3
rm -rf "$rel"
mkdir -p "$static"
for item in "$@"; do
	p=${item#*:}
	case $item in
	d:*) mkdir -p "$shared/$p" ;;
	f:*) mkdir -p "$(dirname "$shared/$p")"; [ -e "$shared/$p" ] || : > "$shared/$p" ;;
	esac
done`
	return remote.Chain(
		remote.Labeled("write environment", writeFileCmd(l.EnvFile(id), "0600")),
		remote.Labeled("make the release", remote.Script(mkdirs, args...)),
		WriteContainerScriptCmd(l, id, spec.Script),
		remote.Labeled("tag the image", remote.Command("sh", l.ContainerScript(id), "tag")),
	), env, nil
}

// WriteContainerScriptCmd writes release id's container script, through a
// temporary name so a unit never runs half a script.
func WriteContainerScriptCmd(l Layout, id, script string) string {
	return remote.Labeled("write the container script", remote.Script(`set -e; printf '%s' "$2" > "$1.tmp"; mv -f "$1.tmp" "$1"`, l.ContainerScript(id), script))
}

// DockerEnvFile renders env in the syntax of docker's --env-file: NAME=value,
// the value taken as it is to the end of the line, no quotes, no escapes.
func DockerEnvFile(env map[string]string) ([]byte, error) {
	return renderEnv(env, "docker's environment file", func(v string) string { return v })
}

// MountPath checks a path inside the image that a host directory is mounted
// at (STATIC_ROOT, from the app's settings): docker's -v cannot hold a : or
// a ,, and hoist mounts only plain absolute paths.
func MountPath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" || strings.ContainsFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._/-", r))
	}) {
		return fmt.Errorf("%q: hoist mounts a host directory there, so it must be a plain absolute path (letters, digits, . _ - /)", p)
	}
	return nil
}

// ShortImageID is an image id as docker shows it: 12 hex digits.
func ShortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(12, len(id))]
}
