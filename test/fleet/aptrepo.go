package fleet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ServeAptRepo makes a local APT repository holding what installing pkgs on
// h takes, serves it over HTTP from this process and makes it h's only
// package source, until the test ends. Fleet hosts reach no mirror, but
// this machine runs the image's Debian release and can download: apt here
// resolves pkgs against h's own dpkg status (read now, so purge first), with
// recommends on as hoist's apt-get has them, and the repository holds
// exactly the .debs h will ask for. Downloads are cached, so reruns are
// fast. It returns the names of the .debs served.
func (h *Host) ServeAptRepo(t testing.TB, pkgs ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := sameRelease(ctx, h); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	status, err := h.Exec(ctx, "cat", "/var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	debs, err := downloadDebs(ctx, work, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, deb := range debs {
		if err := copyFile(filepath.Join(aptCache(), deb), filepath.Join(repo, deb)); err != nil {
			t.Fatal(err)
		}
	}
	scan := exec.CommandContext(ctx, "dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	scan.Dir = repo
	var index, errs bytes.Buffer
	scan.Stdout, scan.Stderr = &index, &errs
	if err := scan.Run(); err != nil {
		t.Fatalf("dpkg-scanpackages (from dpkg-dev; scripts/deps.sh installs it): %v: %s", err, errs.Bytes())
	}
	if err := os.WriteFile(filepath.Join(repo, "Packages"), index.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The host reaches this machine at its default gateway: the bridge's
	// address here. Listen there only, never on every address.
	gw, err := gateway(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatalf("listen on the bridge address %s: %v", gw, err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(repo)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// trusted=yes: the index is unsigned (this process made it a moment ago).
	source := fmt.Sprintf("deb [trusted=yes] http://%s/ ./\n", ln.Addr())
	if _, err := h.Exec(ctx, "sh", "-c", `rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* && printf %s "$1" >/etc/apt/sources.list.d/hoist-test.list`, "sh", source); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: APT repository %s with %d packages: %s", h.Name, ln.Addr(), len(debs), strings.Join(debs, " "))
	return debs
}

// sameRelease checks that this machine runs the Debian release h does: its
// apt picks versions for h.
func sameRelease(ctx context.Context, h *Host) error {
	const script = `. /etc/os-release && echo "$ID $VERSION_CODENAME"`
	theirs, err := h.Exec(ctx, "sh", "-c", script)
	if err != nil {
		return err
	}
	ours, err := exec.CommandContext(ctx, "sh", "-c", script).Output()
	if err != nil {
		return fmt.Errorf("read this machine's /etc/os-release: %v", err)
	}
	if strings.TrimSpace(string(ours)) != strings.TrimSpace(theirs) {
		return fmt.Errorf("a local APT repository for %s needs this machine to run its release (%s), but it runs %s", h.Name, strings.TrimSpace(theirs), strings.TrimSpace(string(ours)))
	}
	return nil
}

// aptCache holds the downloaded .debs across runs.
func aptCache() string { return filepath.Join(cacheDir(), "apt-debs") }

// downloadDebs has this machine's apt work out what installing pkgs takes
// on a system whose dpkg status is work/status, downloads it into the cache
// and returns the .deb file names. It changes nothing of this machine's
// apt: its status, locks and caches are left alone (the lists are only read).
func downloadDebs(ctx context.Context, work string, pkgs []string) ([]string, error) {
	cache := aptCache()
	if err := os.MkdirAll(filepath.Join(cache, "partial"), 0o755); err != nil {
		return nil, err
	}
	apt := func(args ...string) (string, error) {
		argv := []string{"-q", "-y",
			"-o", "Debug::NoLocking=1",
			"-o", "Dir::State::status=" + filepath.Join(work, "status"),
			"-o", "Dir::State::extended_states=" + filepath.Join(work, "extended_states"),
			"-o", "Dir::Cache::archives=" + cache,
			"-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
			"-o", "APT::Install-Recommends=1"}
		cmd := exec.CommandContext(ctx, "apt-get", append(append(argv, args...), pkgs...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("apt-get %s on this machine: %v\n%s\n(if it cannot locate a package, run apt-get update here)", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	plan, err := apt("--simulate", "install")
	if err != nil {
		return nil, err
	}
	// "Inst NAME [OLD] (VERSION ORIGIN... [ARCH]) [...]": apt saves it as
	// NAME_VERSION_ARCH.deb, with an epoch's colon as %3a.
	var debs []string
	for _, line := range strings.Split(plan, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "Inst" {
			continue
		}
		var version, arch string
		for _, w := range f[2:] {
			if version == "" && strings.HasPrefix(w, "(") {
				version = strings.TrimPrefix(w, "(")
			} else if version != "" && strings.HasSuffix(w, "])") {
				arch = strings.Trim(w, "[])")
				break
			}
		}
		if version == "" || arch == "" {
			return nil, fmt.Errorf("cannot read apt's plan line %q", line)
		}
		debs = append(debs, fmt.Sprintf("%s_%s_%s.deb", f[1], strings.ReplaceAll(version, ":", "%3a"), arch))
	}
	if len(debs) == 0 {
		return nil, fmt.Errorf("apt says the host needs nothing to install %s:\n%s", strings.Join(pkgs, " "), plan)
	}
	// One download into the cache at a time: concurrent test binaries
	// would fight over its partial files.
	lock, err := os.OpenFile(filepath.Join(cache, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return nil, err
	}
	if _, err := apt("--download-only", "install"); err != nil {
		return nil, err
	}
	for _, deb := range debs {
		if _, err := os.Stat(filepath.Join(cache, deb)); err != nil {
			return nil, fmt.Errorf("apt planned %s but did not download it: %v", deb, err)
		}
	}
	return debs, nil
}

// gateway is the address h's default route goes through.
func gateway(ctx context.Context, h *Host) (string, error) {
	out, err := h.Exec(ctx, "ip", "-4", "route", "show", "default")
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" && net.ParseIP(f[i+1]) != nil {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("%s: no default gateway in %q", h.Name, out)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
