package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// containerYML is notesYML for strategy container, built on base.
func containerYML(domain, hosts, stageEnv, base string) string {
	yml := notesYML(domain, hosts, stageEnv)
	yml = strings.Replace(yml, "system_site_packages: true\nrequirements: requirements.txt\n",
		"strategy: container\ncontainer:\n  build_args:\n    BASE: "+base+"\n", 1)
	return yml
}

// rxBytes is what a host's network interface has received so far: every
// byte hoist sent it over SSH is in there.
func rxBytes(t *testing.T, h *fleet.Host) int64 {
	n, err := strconv.ParseInt(sh(t, h, "cat /sys/class/net/eth0/statistics/rx_bytes"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dockerSave streams docker save of ref on this machine to read.
func dockerSave(t *testing.T, ref string, read func(io.Reader) error) {
	t.Helper()
	cmd := exec.Command("docker", "save", ref)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rerr := read(out)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil || rerr != nil {
		t.Fatalf("docker save %s: %v %v", ref, err, rerr)
	}
}

// topLayerSize is the size of the layer tar of the image's last layer, as
// docker save writes it on this machine.
func topLayerSize(t *testing.T, ref string) int64 {
	t.Helper()
	sizes := map[string]int64{}
	var manifest []struct{ Layers []string }
	dockerSave(t, ref, func(r io.Reader) error {
		tr := tar.NewReader(r)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			sizes[hdr.Name] = hdr.Size
			if hdr.Name == "manifest.json" {
				if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
					return err
				}
			}
		}
	})
	if len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		t.Fatalf("docker save %s: odd manifest %+v", ref, manifest)
	}
	return sizes[manifest[0].Layers[len(manifest[0].Layers)-1]]
}

var sentLine = regexp.MustCompile(`sent (\d+) KiB \((\d+) of (\d+) layers\)`)

// Strategy container on three hosts sharing PostgreSQL, each with its own
// Docker engine: setup starts Docker; the first deploy ships the whole
// image once per host, a code-only change ships the changed layer and
// little more, the same image again ships nothing; pages, static files and
// data work; deploy and rollback under load fail no request; a container
// that crashes is never switched to; the secret is in no image.
func TestContainerStrategy(t *testing.T) {
	t.Parallel()
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	base, err := fleet.PythonBase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const domain = "boxed.test"
	// A fleet of its own: bytes received are counted per host, and other
	// tests deploy to the shared hosts meanwhile.
	f := fleet.Start(t, fleet.Options{Hosts: 3, DB: true})
	hosts := f.Hosts
	// A background process, a build and a release command, each leaving a
	// file named after its release in the shared media dir.
	yml := containerYML(domain, hostList(hosts...), "      DATABASE_URL: \""+createDBOn(t, f, "boxed")+"\"", base) + `
processes:
  beat:
    command: sh -c 'while true; do date > media/beat-$HOIST_RELEASE; sleep 1; done'
    stop_timeout: 2s
build: ["touch media/build-$HOIST_RELEASE-$(hostname)"]
release: ["touch media/release-$HOIST_RELEASE"]
`
	a := newApp(t, f, "notes", "boxed", yml)
	live := func() string { return sh(t, hosts[0], "basename $(readlink /srv/boxed/current)") }
	// media holds the files of the release that runs now.
	ran := func(id string) {
		t.Helper()
		media := "/srv/boxed/shared/media/"
		for _, h := range hosts {
			sh(t, h, "test -f "+media+"build-"+id+"-"+h.Name)
		}
		sh(t, hosts[0], "test -f "+media+"release-"+id)
		// The process runs on the primary only, and writes every second.
		sh(t, hosts[0], "sleep 1.5; test $(( $(date +%s) - $(stat -c %Y "+media+"beat-"+id+") )) -le 3")
	}

	out := a.mustHoist("setup", "prod")
	if !strings.Contains(out, "docker.service") {
		t.Errorf("setup said nothing of Docker:\n%s", out)
	}
	if out := a.mustHoist("setup", "prod"); strings.Contains(out, " changed ") {
		t.Errorf("a second setup changed something:\n%s", out)
	}

	// The first deploy sends every host the whole image.
	before := map[*fleet.Host]int64{}
	for _, h := range hosts {
		before[h] = rxBytes(t, h)
	}
	out = a.mustHoist("deploy", "prod")
	expectServing(t, hosts, domain, "version: v1")
	ran(live())
	ref := "hoist-boxed:" + live()
	// hoist gzips what it sends: the whole image, gzipped, is the least a
	// host that had none of it can have received.
	whole := gzippedImage(t, ref)
	for _, h := range hosts {
		got := rxBytes(t, h) - before[h]
		t.Logf("%s: first deploy received %d KiB; the image gzipped is %d KiB", h.Name, got/1024, whole/1024)
		if got < whole {
			t.Errorf("%s: the first deploy received %d bytes, less than the gzipped image (%d)", h.Name, got, whole)
		}
		if code, css := get(t, h, domain, "/static/board/site.css"); code != 200 || !strings.Contains(css, "{") {
			t.Errorf("%s: static css = %d %.80q", h.Name, code, css)
		}
	}
	if code := post(t, hosts[1], domain, "/api/notes", "text=kept+across+containers"); code != 201 {
		t.Fatalf("POST note via web2 = %d", code)
	}

	// A code-only change sends the changed layer and not much more.
	a.write("VERSION", "v2\n")
	a.commit("v2")
	for _, h := range hosts {
		before[h] = rxBytes(t, h)
	}
	out = a.mustHoist("deploy", "prod")
	expectServing(t, hosts, domain, "version: v2")
	ref = "hoist-boxed:" + live()
	layer := topLayerSize(t, ref)
	m := sentLine.FindAllStringSubmatch(out, -1)
	if len(m) != len(hosts) {
		t.Fatalf("want a sent line per host, got %q", m)
	}
	for _, line := range m {
		kib, _ := strconv.ParseInt(line[1], 10, 64)
		t.Logf("hoist says: %s; the changed layer is %d KiB", line[0], layer/1024)
		if line[2] != "1" || kib*1024 > layer*11/10 {
			t.Errorf("%s: want one layer sent, at most 1.1 x its %d bytes", line[0], layer)
		}
	}
	for _, h := range hosts {
		got := rxBytes(t, h) - before[h]
		// The rest of the deploy (commands, health checks, database
		// answers) is a few dozen KiB.
		limit := layer*11/10 + 96*1024
		t.Logf("%s: code-only deploy received %d KiB; the changed layer is %d KiB (limit %d KiB)", h.Name, got/1024, layer/1024, limit/1024)
		if got > limit {
			t.Errorf("%s: received %d bytes for a %d-byte layer", h.Name, got, layer)
		}
		if _, body := get(t, h, domain, "/api/notes"); !strings.Contains(body, "kept across containers") {
			t.Errorf("%s: the note written before the deploy is gone: %s", h.Name, body)
		}
	}

	// The same commit again is the same image: nothing to send.
	out = a.mustHoist("deploy", "prod")
	if n := strings.Count(out, "image already there: sent nothing"); n != len(hosts) {
		t.Errorf("redeploying the same image: %d hosts sent nothing, want %d:\n%s", n, len(hosts), out)
	}

	// Deploy and rollback under load.
	a.write("VERSION", "v3\n")
	a.commit("v3")
	l := startLoad(t, hosts, domain, 2)
	time.Sleep(time.Second)
	a.mustHoist("deploy", "prod")
	time.Sleep(2 * time.Second)
	l.finish(t, "container deploy")
	expectServing(t, hosts, domain, "version: v3")

	l = startLoad(t, hosts, domain, 2)
	time.Sleep(time.Second)
	start := time.Now()
	v3 := live()
	out = a.mustHoist("rollback", "prod")
	t.Logf("rollback took %s", time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	l.finish(t, "container rollback")
	expectServing(t, hosts, domain, "version: v2")
	// The old release's process is back, the newer one's stopped.
	ran(live())
	// They drain, then stop: give them the drain and the stop timeouts.
	if n := sh(t, hosts[0], "for i in $(seq 20); do n=$(docker ps -q --filter name=hoist-boxed-"+v3+" | wc -l); [ $n = 0 ] && break; sleep 0.5; done; echo $n"); n != "0" {
		t.Errorf("%s containers of the rolled back release %s still run", n, v3)
	}
	if strings.Contains(out, "sent ") {
		t.Errorf("a rollback shipped something:\n%s", out)
	}

	// A container that crashes at start, or that answers its health check
	// with 500, is never switched to.
	for _, c := range []struct{ file, content, want string }{
		{"notes/wsgi.py", "raise RuntimeError('this release cannot start')\n", "exited instead of serving"},
		{"board/views.py", "\ndef index(request):\n    raise ValueError('broken view')\n", "answered 500, want 200"},
	} {
		a.write(c.file, readFile(t, a.dir+"/"+c.file)+c.content)
		a.commit("broken")
		out, code := a.hoist("deploy", "prod")
		if code != 1 || !strings.Contains(out, "health") || !strings.Contains(out, c.want) {
			t.Errorf("deploying a broken container (%s): exit %d, want 1 with %q", c.want, code, c.want)
		}
		expectServing(t, hosts, domain, "version: v2")
		a.git("revert", "--no-edit", "HEAD")
	}

	// Secrets: a 0600 file on the host, in no image.
	for _, h := range hosts {
		id := sh(t, h, "basename $(readlink /srv/boxed/current)")
		if mode := sh(t, h, "stat -c %a /srv/boxed/.hoist/env/"+id+".env"); mode != "600" {
			t.Errorf("%s: env file mode %s, want 600", h.Name, mode)
		}
		img := sh(t, h, "docker inspect -f '{{.Image}}' hoist-boxed-"+id)
		if s := sh(t, h, "docker history --no-trunc "+img+"; docker image inspect "+img); strings.Contains(s, testSecret) {
			t.Errorf("%s: the secret is in the image", h.Name)
		}
	}

	out = a.mustHoist("releases", "prod")
	if !strings.Contains(out, "IMAGE") {
		t.Errorf("releases lists no images:\n%s", out)
	}
	if out := a.mustHoist("manage", "prod", "showmigrations", "board"); !strings.Contains(out, "[X]") {
		t.Errorf("manage showmigrations in the container:\n%s", out)
	}
	if out := a.mustHoist("logs", "prod", "-n", "200"); !strings.Contains(out, "web3 | ") || !strings.Contains(out, "Booting worker") {
		t.Errorf("logs should show the containers' gunicorn, prefixed by host:\n%s", out)
	}
	if out := a.mustHoist("logs", "prod", "--host", "web1", "--process", "beat", "-n", "20"); !strings.Contains(out, "web1 | ") {
		t.Errorf("logs of the process:\n%s", out)
	}
	a.mustHoist("status", "prod")

	// keep_releases is 3: the images of pruned releases are gone from the
	// hosts with them, and the live and previous ones stay.
	for _, h := range hosts {
		releases := sh(t, h, "ls /srv/boxed/releases | sort")
		tags := sh(t, h, "docker images hoist-boxed --format '{{.Tag}}' | sort")
		if releases != tags {
			t.Errorf("%s: release dirs\n%s\nbut image tags\n%s", h.Name, releases, tags)
		}
		if n := strings.Count(releases, "\n") + 1; n > 3 {
			t.Errorf("%s: %d releases kept, want at most 3", h.Name, n)
		}
	}
}

// gzippedImage is the size of docker save of ref, gzipped at the fastest
// level as hoist sends it.
func gzippedImage(t *testing.T, ref string) int64 {
	t.Helper()
	var n byteCount
	dockerSave(t, ref, func(r io.Reader) error {
		gz, _ := gzip.NewWriterLevel(&n, gzip.BestSpeed)
		if _, err := io.Copy(gz, r); err != nil {
			return err
		}
		return gz.Close()
	})
	return int64(n)
}

type byteCount int64

func (c *byteCount) Write(p []byte) (int, error) { *c += byteCount(len(p)); return len(p), nil }
