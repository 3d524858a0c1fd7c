// Package fleet runs a fleet of real Debian servers on this machine for
// hoist's end-to-end tests: Docker containers with systemd as PID 1, sshd,
// nginx, python3/Django/gunicorn, and optionally a PostgreSQL host. hoist
// reaches them over real SSH on ports published on 127.0.0.1, with its own
// HOME (Fleet.Home) holding an ssh config, a key and known_hosts.
//
// The host image is built from image/ with debootstrap (no registry can be
// pulled from here) and cached under a tag that hashes the recipe.
package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options says what fleet to start.
type Options struct {
	Hosts int  // web hosts: web1..webN
	DB    bool // also a PostgreSQL host named "db"

	// Keep: the containers outlive this process (the fleet CLI). Otherwise
	// they belong to it, and a later New removes them if it died without
	// cleaning up (a test timeout, a panic). HOIST_FLEET_KEEP=1 implies Keep.
	Keep bool
}

// The database the DB host serves.
const (
	DBName     = "app"
	DBUser     = "app"
	DBPassword = "app-db-password"
)

// Fleet is a running set of hosts and the HOME that reaches them.
type Fleet struct {
	ID    string  `json:"id"`    // random; part of container names and their label
	Hosts []*Host `json:"hosts"` // web1..webN
	DB    *Host   `json:"db,omitempty"`
	Home  string  `json:"home"` // HOME for hoist: .ssh/{config,known_hosts,id_ed25519}

	// Set when Options.DB: the DB host's bridge IP and the app's credentials.
	DBHost     string `json:"db_host,omitempty"`
	DBName     string `json:"db_name,omitempty"`
	DBUser     string `json:"db_user,omitempty"`
	DBPassword string `json:"db_password,omitempty"`

	mu sync.Mutex // guards rewriting the ssh files and host ports
}

// Host is one server of the fleet.
type Host struct {
	Name      string `json:"name"`      // web1, ...; also its Host alias in Home/.ssh/config
	Container string `json:"container"` // docker container name
	IP        string `json:"ip"`        // bridge IP: how fleet hosts reach each other
	SSHPort   int    `json:"ssh_port"`  // 127.0.0.1 ports published for 22, 80, 443
	HTTPPort  int    `json:"http_port"`
	HTTPSPort int    `json:"https_port"`
	HostKey   string `json:"host_key"` // "ssh-ed25519 AAAA..." as known_hosts has it

	fleet *Fleet
}

// Start starts a fleet for a test and removes it when the test ends, unless
// HOIST_FLEET_KEEP=1 (then it logs where it is, for poking at by hand).
func Start(t testing.TB, opts Options) *Fleet {
	t.Helper()
	keep := os.Getenv("HOIST_FLEET_KEEP") == "1"
	home := ""
	if keep {
		// t.TempDir would vanish at the end of the test, with the key.
		var err error
		if home, err = os.MkdirTemp("", "hoist-fleet-home"); err != nil {
			t.Fatal(err)
		}
	} else {
		home = t.TempDir()
	}
	// Generous: the first run may have to build the image.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	f, err := New(ctx, opts, home)
	if err != nil {
		t.Fatalf("start fleet: %v", err)
	}
	t.Logf("fleet %s up in %s: %s", f.ID, time.Since(start).Round(time.Millisecond), f)
	t.Cleanup(func() {
		if keep {
			t.Logf("HOIST_FLEET_KEEP=1: leaving fleet %s; HOME=%s; remove with: docker rm -f $(docker ps -aq --filter label=hoist-fleet=%s)", f.ID, f.Home, f.ID)
			return
		}
		if err := f.Destroy(context.Background()); err != nil {
			t.Errorf("destroy fleet: %v", err)
		}
	})
	return f
}

// New starts a fleet whose HOME is home (created if needed). The caller must
// Destroy it.
func New(ctx context.Context, opts Options, home string) (*Fleet, error) {
	if opts.Hosts < 0 || (opts.Hosts == 0 && !opts.DB) {
		return nil, fmt.Errorf("fleet: need at least one host")
	}
	if err := EnsureEngine(ctx); err != nil {
		return nil, err
	}
	img, err := EnsureImage(ctx)
	if err != nil {
		return nil, err
	}
	sweepOrphans(ctx)
	if os.Getenv("HOIST_FLEET_KEEP") == "1" {
		opts.Keep = true
	}
	home, err = filepath.Abs(home)
	if err != nil {
		return nil, err
	}
	f := &Fleet{ID: randomID(), Home: home}
	pubKey, err := f.writeClientKey()
	if err != nil {
		return nil, err
	}
	var all []*Host
	for i := 1; i <= opts.Hosts; i++ {
		f.Hosts = append(f.Hosts, f.newHost(fmt.Sprintf("web%d", i)))
	}
	all = append(all, f.Hosts...)
	if opts.DB {
		f.DB = f.newHost("db")
		all = append(all, f.DB)
	}

	// Boot all hosts at once: most of the time is systemd coming up.
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, h := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.create(ctx, img, pubKey, opts.Keep)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = f.Destroy(context.Background())
		return nil, err
	}
	if f.DB != nil {
		if err := f.setupDB(ctx); err != nil {
			_ = f.Destroy(context.Background())
			return nil, err
		}
	}
	if err := f.writeSSHFiles(); err != nil {
		_ = f.Destroy(context.Background())
		return nil, err
	}
	return f, nil
}

// Load reads the fleet.json that the fleet CLI wrote into home.
func Load(home string) (*Fleet, error) {
	b, err := os.ReadFile(filepath.Join(home, "fleet.json"))
	if err != nil {
		return nil, err
	}
	f := &Fleet{}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, err
	}
	for _, h := range f.all() {
		h.fleet = f
	}
	return f, nil
}

// Destroy removes every container of the fleet (also ones half-started).
func (f *Fleet) Destroy(ctx context.Context) error {
	ids, err := docker(ctx, "ps", "-aq", "--filter", "label=hoist-fleet="+f.ID)
	if err != nil {
		return err
	}
	if ids = strings.TrimSpace(ids); ids == "" {
		return nil
	}
	_, err = docker(ctx, append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...)
	return err
}

// sweepOrphans removes fleet containers whose owning process is gone: a
// test binary killed by its timeout cannot run its cleanups.
func sweepOrphans(ctx context.Context) {
	out, err := docker(ctx, "ps", "-a", "--filter", "label=hoist-fleet.pid", "--format", `{{.ID}} {{.Label "hoist-fleet.pid"}}`)
	if err != nil {
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var id string
		var pid int
		if _, err := fmt.Sscan(line, &id, &pid); err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_, _ = docker(ctx, "rm", "-f", "-v", id)
		}
	}
}

// Env is the environment to run the hoist binary in: HOME is the fleet's, and
// no ssh-agent, so only the fleet's key is offered. Beware: the OpenSSH
// client ignores $HOME (it reads ~/.ssh from the passwd entry), so a real
// `ssh` needs `-F f.SSHConfig()`; Go code that reads $HOME/.ssh is fine.
func (f *Fleet) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+f.Home)
}

// SSHConfig is the path of the fleet's ssh config, for `ssh -F`.
func (f *Fleet) SSHConfig() string { return filepath.Join(f.Home, ".ssh", "config") }

// DatabaseURL is how web hosts reach the app database (empty without a DB host).
func (f *Fleet) DatabaseURL() string {
	if f.DB == nil {
		return ""
	}
	return fmt.Sprintf("postgres://%s:%s@%s:5432/%s", DBUser, DBPassword, f.DB.IP, DBName)
}

// String is a one-line summary, for test logs.
func (f *Fleet) String() string {
	var parts []string
	for _, h := range f.all() {
		parts = append(parts, fmt.Sprintf("%s(%s ssh:%d http:%d)", h.Name, h.IP, h.SSHPort, h.HTTPPort))
	}
	return strings.Join(parts, " ") + " HOME=" + f.Home
}

func (f *Fleet) all() []*Host {
	all := append([]*Host(nil), f.Hosts...)
	if f.DB != nil {
		all = append(all, f.DB)
	}
	return all
}

func (f *Fleet) newHost(name string) *Host {
	return &Host{Name: name, Container: "hoist-fleet-" + f.ID + "-" + name, fleet: f}
}

// Exec runs a command in the host as root (docker exec) and returns its
// combined output; the error carries the output too.
func (h *Host) Exec(ctx context.Context, args ...string) (string, error) {
	return docker(ctx, append([]string{"exec", h.Container}, args...)...)
}

// Stop stops the host the way a shutdown does (systemd gets SIGRTMIN+3).
func (h *Host) Stop(ctx context.Context) error {
	_, err := docker(ctx, "stop", h.Container)
	return err
}

// Start starts a stopped host and waits for sshd. Docker may publish other
// ports and give another IP this time: they are re-read and the fleet's ssh
// config and known_hosts rewritten. The recorded host key is kept, so a key
// changed by RegenerateHostKey stays "changed". If h is the DB host, a new IP
// also changes DatabaseURL.
func (h *Host) Start(ctx context.Context) error {
	if _, err := docker(ctx, "start", h.Container); err != nil {
		return err
	}
	if err := h.waitReady(ctx); err != nil {
		return err
	}
	f := h.fleet
	if f.DB == h {
		f.mu.Lock()
		f.DBHost = h.IP
		f.mu.Unlock()
	}
	return f.writeSSHFiles()
}

// Pause freezes every process of the host (docker pause): TCP still connects
// through the published port, but sshd never answers, so SSH connects hang.
func (h *Host) Pause(ctx context.Context) error {
	_, err := docker(ctx, "pause", h.Container)
	return err
}

// Unpause thaws a paused host.
func (h *Host) Unpause(ctx context.Context) error {
	_, err := docker(ctx, "unpause", h.Container)
	return err
}

// RegenerateHostKey gives the host new SSH host keys and restarts sshd,
// leaving known_hosts alone: the next connection sees a changed host key.
func (h *Host) RegenerateHostKey(ctx context.Context) error {
	if _, err := h.Exec(ctx, "sh", "-c", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && systemctl restart ssh"); err != nil {
		return err
	}
	return h.waitSSH(ctx)
}

// URL is the address of path on the host's nginx (port 80), from this machine.
func (h *Host) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", h.HTTPPort, path)
}

// create runs the container, waits for it to boot, authorises the client key
// for deploy and nosudo, and records the host key.
func (h *Host) create(ctx context.Context, img, pubKey string, keep bool) error {
	owner := strconv.Itoa(os.Getpid())
	if keep {
		owner = "0" // nobody's: stays until Destroy
	}
	_, err := docker(ctx, "run", "-d",
		"--name", h.Container, "--hostname", h.Name,
		"--label", "hoist-fleet="+h.fleet.ID, "--label", "hoist-fleet.pid="+owner,
		// What runs systemd as PID 1 here, where --privileged is refused.
		"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
		"--security-opt", "seccomp=unconfined",
		"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
		"--tmpfs", "/run", "--tmpfs", "/run/lock",
		// The host's own Docker engine keeps its images here: a volume, not
		// the container's overlay filesystem, on which the inner engine
		// could not use overlay2. Destroy removes it (rm -v).
		"-v", "/var/lib/docker",
		// systemd shuts down cleanly on SIGRTMIN+3; SIGTERM would only make
		// it re-execute, and docker stop would wait 10s to kill it.
		"--stop-signal", "SIGRTMIN+3",
		// Loopback only: tests never expose anything beyond this machine.
		"-p", "127.0.0.1::22", "-p", "127.0.0.1::80", "-p", "127.0.0.1::443",
		img, "/lib/systemd/systemd")
	if err != nil {
		return err
	}
	// The key goes in before sshd can be reached, so the first login works.
	keys := exec.CommandContext(ctx, "docker", "exec", "-i", h.Container, "sh", "-c",
		"tee /home/deploy/.ssh/authorized_keys /home/nosudo/.ssh/authorized_keys >/dev/null")
	keys.Stdin = strings.NewReader(pubKey)
	if out, err := keys.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: authorized_keys: %v: %s", h.Name, err, out)
	}
	if err := h.waitReady(ctx); err != nil {
		return err
	}
	out, err := h.Exec(ctx, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		return err
	}
	fields := strings.Fields(out)
	if len(fields) < 2 {
		return fmt.Errorf("%s: odd host key %q", h.Name, out)
	}
	h.HostKey = fields[0] + " " + fields[1]
	return nil
}

// waitReady reads the host's IP and ports, then waits for systemd to finish
// booting and for sshd to greet.
func (h *Host) waitReady(ctx context.Context) error {
	if err := h.inspect(ctx); err != nil {
		return err
	}
	if err := h.waitBoot(ctx); err != nil {
		return err
	}
	return h.waitSSH(ctx)
}

func (h *Host) inspect(ctx context.Context) error {
	out, err := docker(ctx, "inspect", "--format", "{{json .NetworkSettings}}", h.Container)
	if err != nil {
		return err
	}
	var ns struct {
		IPAddress string
		Ports     map[string][]struct{ HostIP, HostPort string }
	}
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		return fmt.Errorf("%s: inspect: %v", h.Name, err)
	}
	port := func(p string) int {
		for _, b := range ns.Ports[p] {
			if n, err := strconv.Atoi(b.HostPort); err == nil {
				return n
			}
		}
		return 0
	}
	h.fleet.mu.Lock()
	defer h.fleet.mu.Unlock()
	h.IP = ns.IPAddress
	h.SSHPort, h.HTTPPort, h.HTTPSPort = port("22/tcp"), port("80/tcp"), port("443/tcp")
	if h.IP == "" || h.SSHPort == 0 || h.HTTPPort == 0 || h.HTTPSPort == 0 {
		return fmt.Errorf("%s: container has no IP or ports: %s", h.Name, out)
	}
	return nil
}

// waitBoot waits for systemd to reach "running" (or "degraded": some unit
// failed, which a real server survives too).
func (h *Host) waitBoot(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// --wait blocks until boot ends, but errors if systemd is not up
		// enough to answer yet: hence the loop.
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		out, _ := h.Exec(cctx, "systemctl", "is-system-running", "--wait")
		cancel()
		state := strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			return nil
		}
		if time.Now().After(deadline) {
			logs, _ := docker(ctx, "logs", "--tail", "30", h.Container)
			return fmt.Errorf("%s: systemd did not boot (state %q); container log:\n%s", h.Name, state, logs)
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitSSH waits until sshd sends its banner on the published port. A plain
// TCP connect is not enough: docker's userland proxy accepts connections even
// when nothing listens in the container.
func (h *Host) waitSSH(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.SSHPort))
	for {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4)
			_, err = io.ReadFull(conn, buf)
			conn.Close()
			if err == nil && string(buf) == "SSH-" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: sshd not answering on %s: %v", h.Name, addr, err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// setupDB starts PostgreSQL and Redis on the DB host (installed but
// disabled in the image) and creates the app's role and database.
func (f *Fleet) setupDB(ctx context.Context) error {
	db := f.DB
	if _, err := db.Exec(ctx, "systemctl", "enable", "--now", "postgresql", "redis-server"); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if _, err := docker(ctx, "exec", "-u", "postgres", db.Container, "pg_isready", "-q"); err == nil {
			break
		} else if i > 100 {
			return fmt.Errorf("db: postgresql not ready: %v", err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	// The tests and DatabaseURL rely on 5432; the image pins it, and a
	// cluster on another port (picked at install time) says so here
	// instead of failing tests with "connection refused".
	port, err := docker(ctx, "exec", "-u", "postgres", db.Container, "psql", "-Atc", "show port")
	if err != nil {
		return fmt.Errorf("db: ask postgresql its port: %v", err)
	}
	if p := strings.TrimSpace(port); p != "5432" {
		return fmt.Errorf("db: the image's postgresql listens on port %s, not 5432: its recipe (test/fleet/image/build-image.sh) must pin the port; remove the image (docker rmi %s) to rebuild it", p, Image())
	}
	_, err = docker(ctx, "exec", "-u", "postgres", db.Container, "psql", "-q", "-v", "ON_ERROR_STOP=1",
		"-c", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", DBUser, DBPassword),
		"-c", fmt.Sprintf("CREATE DATABASE %s OWNER %s", DBName, DBUser))
	if err != nil {
		return err
	}
	f.DBHost, f.DBName, f.DBUser, f.DBPassword = db.IP, DBName, DBUser, DBPassword
	return nil
}

// writeClientKey makes the fleet's ed25519 key pair in Home/.ssh and returns
// the public key as an authorized_keys line.
func (f *Fleet) writeClientKey() (string, error) {
	dir := filepath.Join(f.Home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "hoist-fleet-"+f.ID)
	if err != nil {
		return "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := string(ssh.MarshalAuthorizedKey(sshPub))
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	return line, os.WriteFile(filepath.Join(dir, "id_ed25519.pub"), []byte(line), 0o644)
}

// writeSSHFiles (re)writes Home/.ssh/config and known_hosts from the hosts'
// current ports and recorded host keys.
func (f *Fleet) writeSSHFiles() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Join(f.Home, ".ssh")
	var cfg, known bytes.Buffer
	for _, h := range f.all() {
		fmt.Fprintf(&cfg, "Host %s\n", h.Name)
		fmt.Fprintf(&cfg, "  HostName 127.0.0.1\n  Port %d\n  User deploy\n", h.SSHPort)
		fmt.Fprintf(&cfg, "  IdentityFile %s\n  IdentitiesOnly yes\n", filepath.Join(dir, "id_ed25519"))
		fmt.Fprintf(&cfg, "  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n\n", filepath.Join(dir, "known_hosts"))
		// OpenSSH writes non-22 ports as [host]:port.
		fmt.Fprintf(&known, "[127.0.0.1]:%d %s\n", h.SSHPort, h.HostKey)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), cfg.Bytes(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "known_hosts"), known.Bytes(), 0o600)
}

// docker runs the docker CLI; the error includes the command and its output.
func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
