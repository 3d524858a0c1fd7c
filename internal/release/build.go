package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hoistdeploy/hoist/internal/config"
	"github.com/hoistdeploy/hoist/internal/remote"
)

// HasArtifactCmd prints artifactPresent when the host already holds the
// artifact with this content hash, so it is shipped once and never again.
// It is meant for a Chain; HasArtifact reads its answer.
func HasArtifactCmd(l Layout, sum string) string {
	return remote.Script(`[ ! -s "$1" ] || echo "$2"`, l.Artifact(sum), artifactPresent)
}

const artifactPresent = "hoist: artifact present"

// HasArtifact reads the output of a Chain holding HasArtifactCmd.
func HasArtifact(out string) bool {
	return slices.Contains(strings.Split(out, "\n"), artifactPresent)
}

// UploadArtifact streams the artifact to the host.
func UploadArtifact(ctx context.Context, t remote.Transport, l Layout, sum string, r io.Reader) error {
	_, err := remote.OutputWithInput(ctx, t, UploadCmd(l, sum), r)
	return err
}

// UploadCmd stores what it reads on stdin as the artifact sum.
func UploadCmd(l Layout, sum string) string {
	return remote.Script(`set -e; mkdir -p "$(dirname "$1")"; cat > "$1.part"; mv -f "$1.part" "$1"`, l.Artifact(sum))
}

// BuildSpec is what a release is built from on a host.
type BuildSpec struct {
	Artifact                string // the artifact's content hash
	SharedFiles, SharedDirs []string
	Env                     map[string]string
	Venv                    VenvSpec
}

// Built reads from the output of BuildCmd, and of what ran after it in
// the same round trip, the venv's hash and whether it was reused; built
// is false when the release was not made.
func Built(out string) (venv string, reused, built bool) {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, venvMarker); ok {
			verb, hash, _ := strings.Cut(rest, " ")
			venv, reused, built = hash, verb == "reused", true
		}
	}
	return venv, reused, built
}

// venvMarker starts the line venvScript ends with.
const venvMarker = "hoist-venv: "

// linkSharedScript replaces each shared path in the release with a link into
// shared/, creating the shared side the first time. Arguments after the
// first two are "f:path" or "d:path". Before it creates or removes
// anything for a path, the path's nearest existing parent must resolve
// (cd -P) inside the release: a parent that is a link, such as an earlier
// shared dir, would make the rm -rf delete files in shared/ or elsewhere.
// rm -rf on the path itself removes a link, never what it points to.
const linkSharedScript = `
set -e
shared=$1; rel=$2; shift 2
real_rel=$(cd -P "$rel" && pwd)
for item in "$@"; do
	kind=${item%%:*}; p=${item#*:}
	case "/$p/" in
	*/../*|*/./*|//*) echo "hoist: refusing shared path $p: it must be a plain relative path" >&2; exit 1 ;;
	esac
	parent=$(dirname "$rel/$p")
	while [ ! -e "$parent" ] && [ ! -L "$parent" ]; do parent=$(dirname "$parent"); done
	real=$(cd -P "$parent" 2>/dev/null && pwd) || { echo "hoist: refusing shared path $p: $parent is not a directory" >&2; exit 1; }
	case "$real/" in
	"$real_rel"/*) ;;
	*) echo "hoist: refusing shared path $p: $parent resolves to $real, outside the release $rel" >&2; exit 1 ;;
	esac
	mkdir -p "$(dirname "$shared/$p")" "$(dirname "$rel/$p")"
	if [ "$kind" = d ]; then
		mkdir -p "$shared/$p"
	fi
	rm -rf "$rel/$p"
	ln -s "$shared/$p" "$rel/$p"
done
`

func linkSharedCmd(l Layout, id string, files, dirs []string) string {
	if len(files)+len(dirs) == 0 {
		return ""
	}
	args := []string{l.Shared(), l.Release(id)}
	for _, f := range files {
		args = append(args, "f:"+f)
	}
	for _, d := range dirs {
		args = append(args, "d:"+d)
	}
	return remote.Script(linkSharedScript, args...)
}

// EnvFile renders env in the one syntax both systemd's EnvironmentFile and
// a POSIX shell read the same way: double quotes, with \ " $ ` escaped.
func EnvFile(env map[string]string) ([]byte, error) {
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	return renderEnv(env, "an environment file", func(v string) string { return `"` + quote.Replace(v) + `"` })
}

// renderEnv writes env one NAME=value line per variable, in name order,
// with each value as value says. A line break or another control character
// fits no environment file syntax, so it is refused, naming the variable.
func renderEnv(env map[string]string, what string, value func(string) string) ([]byte, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# written by hoist for one release; edit hoist.yml instead\n")
	for _, k := range keys {
		v := env[k]
		if strings.ContainsFunc(v, config.IsControl) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("the value of %s has a line break, another control character or invalid UTF-8, which %s cannot hold: encode it (base64) or keep it in a file under shared/", k, what)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, value(v))
	}
	return []byte(b.String()), nil
}

// VenvSpec says what a release's virtualenv must hold.
type VenvSpec struct {
	Python             string // interpreter on the host
	SystemSitePackages bool
	Requirements       string // path inside the release; "" for none
	RequirementsData   []byte // its content, which keys the venv
}

// Key hashes what the venv depends on apart from the host's Python, which
// the host adds.
func (v VenvSpec) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "site=%v\nreq=%s\n", v.SystemSitePackages, v.Requirements)
	h.Write(v.RequirementsData)
	return hex.EncodeToString(h.Sum(nil))
}

// venvScript reuses venvs/<hash> when it is complete, else builds it. The
// hash adds the host's exact Python version to the key, so two hosts with
// different Pythons never share a venv by mistake. The venv is built in
// place because its scripts hold its absolute path; the .hoist-complete
// marker is written last, so a half-built venv is never reused.
const venvScript = `
set -e
venvs=$1 rel=$2 key=$3 py=$4 site=$5 req=$6 link=$7
pyver=$("$py" -c 'import sys; print(sys.version)')
hash=$(printf '%s\n%s\n' "$key" "$pyver" | sha256sum | cut -c1-16)
v="$venvs/$hash"
if [ -f "$v/.hoist-complete" ]; then
	echo "hoist-venv: reused $hash"
else
	rm -rf "$v"
	mkdir -p "$venvs"
	if [ "$site" = yes ]; then "$py" -m venv --system-site-packages "$v"; else "$py" -m venv "$v"; fi
	if [ -n "$req" ]; then
		cd "$rel"
		"$v/bin/python" -m pip install --disable-pip-version-check --no-input -r "$req"
	fi
	date -u +%Y-%m-%dT%H:%M:%SZ > "$v/.hoist-complete"
	echo "hoist-venv: created $hash"
fi
ln -sfn "$v" "$link"
`

// BuildCmd makes release id on the host in one command: its environment
// file (mode 0600, read on stdin, which it returns: it holds secrets, so it
// never goes on a command line), its files from the artifact, the links to
// shared files and dirs, and its virtualenv, built only when no venv for
// the same Python and requirements exists. Read its output with Built.
func BuildCmd(l Layout, id string, spec BuildSpec) (cmd string, stdin []byte, err error) {
	env, err := EnvFile(spec.Env)
	if err != nil {
		return "", nil, err
	}
	return Tracked(l, remote.Chain(
		remote.Labeled("write environment", writeFileCmd(l.EnvFile(id), "0600")),
		remote.Labeled("unpack", remote.Script(`set -e; rm -rf "$2"; mkdir -p "$2"; tar -xzf "$1" -C "$2"`, l.Artifact(spec.Artifact), l.Release(id))),
		remote.Labeled("link shared files", linkSharedCmd(l, id, spec.SharedFiles, spec.SharedDirs)),
		remote.Labeled("pip install", venvCmd(l, id, spec.Venv)),
	)), env, nil
}

func venvCmd(l Layout, id string, spec VenvSpec) string {
	site := "no"
	if spec.SystemSitePackages {
		site = "yes"
	}
	return remote.Script(venvScript, l.Venvs(), l.Release(id), spec.Key(), spec.Python, site, spec.Requirements, l.Venv(id))
}

// envLoader runs a program with the environment of a release, read from
// env files the way systemd reads them, so manage.py sees exactly what the
// gunicorn service sees. A file named with a leading "-" may be missing.
const envLoader = `
import os, re, sys
args = sys.argv[1:]
cut = args.index("--")
env = dict(os.environ)
for name in args[:cut]:
    optional = name.startswith("-")
    name = name.lstrip("-")
    try:
        f = open(name)
    except FileNotFoundError:
        if optional:
            continue
        raise
    with f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("export "):
                line = line[7:].lstrip()
            key, sep, value = line.partition("=")
            if not sep:
                continue
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = re.sub(r'\\(.)', r'\1', value[1:-1])
            elif len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            env[key] = value
os.execvpe(args[cut + 1], args[cut + 1:], env)
`

// Tracked is cmd, run so that the run holding the lock owns it: its
// process group (sshd makes one per command) is written in the lock with
// its leader's start time, so that a run taking the lock over from a dead
// one can stop what that one left running, a pip install or a
// collectstatic still writing into the release it is about to remove
// (see deploy's takeLockScript).
func Tracked(l Layout, cmd string) string {
	script := `{ g=$(cut -d' ' -f5 /proc/$$/stat) && echo "$g $(cut -d' ' -f22 /proc/$g/stat)" >> "$1"; } 2>/dev/null || true`
	return remote.Chain(remote.Script(script, l.LockGroups()), cmd)
}

// Command is a command line that runs argv inside a release: in its project
// directory, with its venv first on PATH and its environment loaded. With
// strategy container it runs in a one-off container of the release's
// image, in the image's project directory, with the same environment.
func Command(l Layout, id, projectDir string, argv ...string) string {
	if l.Container {
		return remote.Command(append([]string{"sh", l.ContainerScript(id), "exec"}, argv...)...)
	}
	rel := l.Release(id)
	dir := path.Join(rel, projectDir)
	venvBin := path.Join(l.Venv(id), "bin")
	loader := []string{"env", "PATH=" + venvBin + ":/usr/local/bin:/usr/bin:/bin", "HOIST_RELEASE=" + id,
		path.Join(venvBin, "python"), "-c", envLoader, "-" + l.SharedEnv(), l.EnvFile(id), "--"}
	return remote.Script(`cd "$1" && shift && exec "$@"`, append(append([]string{dir}, loader...), argv...)...)
}

// Manage is Command for python manage.py.
func Manage(l Layout, id, projectDir string, args ...string) string {
	return Command(l, id, projectDir, append([]string{"python", "manage.py"}, args...)...)
}
