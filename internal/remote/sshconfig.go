package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/hoistdeploy/hoist/internal/config"
)

// sshConfig is ~/.ssh/config then /etc/ssh/ssh_config, read the way ssh
// reads them: the first value found wins.
type sshConfig struct {
	files     []*ssh_config.Config
	home      string
	localUser string // ssh's %u, and the login when neither hoist.yml nor ssh config names one
}

func loadSSHConfig() (*sshConfig, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	sc := &sshConfig{home: home, localUser: u.Username}
	for _, path := range []string{filepath.Join(home, ".ssh", "config"), "/etc/ssh/ssh_config"} {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := ssh_config.Decode(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		sc.files = append(sc.files, c)
	}
	return sc, nil
}

func (sc *sshConfig) get(alias, key string) string {
	for _, c := range sc.files {
		if v, err := c.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ssh_config.Default(key)
}

func (sc *sshConfig) getAll(alias, key string) []string {
	for _, c := range sc.files {
		if v, err := c.GetAll(alias, key); err == nil && len(v) > 0 {
			return v
		}
	}
	return nil
}

// endpoint is where and how to reach one target, after ~/.ssh/config.
type endpoint struct {
	alias, user, hostname string
	port                  int
	identities            []string
	knownHosts            []string
	proxyJump             []config.Address // hops in the order they are connected
	connectTimeout        time.Duration
}

// resolve turns a parsed address ("web1", "deploy@host:2222") into an
// endpoint. Values in the address win over ~/.ssh/config, as with ssh.
func (sc *sshConfig) resolve(addr config.Address) (*endpoint, error) {
	alias := addr.Host
	ep := &endpoint{alias: alias}
	ep.hostname = sc.get(alias, "HostName")
	if ep.hostname == "" {
		ep.hostname = alias
	}
	ep.hostname = strings.ReplaceAll(ep.hostname, "%h", alias)

	ep.user = addr.User
	if ep.user == "" {
		ep.user = sc.get(alias, "User")
	}
	if ep.user == "" {
		ep.user = sc.localUser
	}

	ep.port = addr.Port
	if ep.port == 0 {
		port := sc.get(alias, "Port")
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("ssh config: Port %q for %s is not a port number from 1 to 65535: fix it in ~/.ssh/config", port, alias)
		}
		ep.port = n
	}

	for _, f := range sc.getAll(alias, "IdentityFile") {
		if strings.EqualFold(f, "none") {
			continue
		}
		// A relative IdentityFile is taken from the working directory, as
		// ssh does: at worst it offers a key the server will not accept.
		ep.identities = append(ep.identities, sc.expand(f, ep))
	}
	if len(ep.identities) == 0 {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			ep.identities = append(ep.identities, filepath.Join(sc.home, ".ssh", name))
		}
	}
	for _, key := range []string{"UserKnownHostsFile", "GlobalKnownHostsFile"} {
		files, err := sc.knownHostsFiles(alias, key, ep)
		if err != nil {
			return nil, err
		}
		ep.knownHosts = append(ep.knownHosts, files...)
	}
	if pj := sc.get(alias, "ProxyJump"); pj != "" && !strings.EqualFold(pj, "none") {
		for _, hop := range strings.Split(pj, ",") {
			hop = strings.TrimPrefix(strings.TrimSpace(hop), "ssh://")
			a, err := config.ParseHostAddress(hop)
			if err != nil {
				return nil, fmt.Errorf("ssh config: ProxyJump of %s: %w", alias, err)
			}
			ep.proxyJump = append(ep.proxyJump, a)
		}
	}
	ep.connectTimeout = 10 * time.Second
	if t, err := strconv.Atoi(sc.get(alias, "ConnectTimeout")); err == nil && t > 0 {
		ep.connectTimeout = time.Duration(t) * time.Second
	}
	return ep, nil
}

// knownHostsFiles lists the files of UserKnownHostsFile or
// GlobalKnownHostsFile. "none" means no file at all (not a file named
// "none"). ssh reads a relative path from the current directory, where a
// cloned repository could put its own keys and have them trusted: hoist
// refuses such a path instead of guessing what was meant.
func (sc *sshConfig) knownHostsFiles(alias, key string, ep *endpoint) ([]string, error) {
	var files []string
	for _, f := range strings.Fields(sc.get(alias, key)) {
		if strings.EqualFold(f, "none") {
			continue
		}
		path := sc.expand(f, ep)
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("ssh config: %s %q for %s is a relative path, which ssh reads from the current directory: "+
				"write it as ~/%s or an absolute path in ~/.ssh/config", key, f, alias, f)
		}
		files = append(files, path)
	}
	return files, nil
}

var envRef = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// expand handles the ~, %-tokens and ${VAR} that ssh allows in file names.
func (sc *sshConfig) expand(path string, ep *endpoint) string {
	if path == "~" {
		path = sc.home
	} else if strings.HasPrefix(path, "~/") {
		path = filepath.Join(sc.home, path[2:])
	}
	path = envRef.ReplaceAllStringFunc(path, func(ref string) string { return os.Getenv(ref[2 : len(ref)-1]) })
	r := strings.NewReplacer("%d", sc.home, "%u", sc.localUser, "%h", ep.hostname, "%n", ep.alias,
		"%r", ep.user, "%p", strconv.Itoa(ep.port), "%%", "%")
	return r.Replace(path)
}

func clientConfig(ep *endpoint, identity string) (*ssh.ClientConfig, error) {
	var existing []string
	for _, f := range ep.knownHosts {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) == 0 {
		return nil, &HostKeyError{Host: ep.alias, Addr: hostPort(ep), Unknown: true, Files: ep.knownHosts}
	}
	db, err := knownhosts.NewDB(existing...)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	verify := db.HostKeyCallback()
	callback := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := verify(hostname, remote, key)
		if err == nil {
			return nil
		}
		hk := &HostKeyError{Host: ep.alias, Addr: hostPort(ep), Files: existing, Fingerprint: ssh.FingerprintSHA256(key)}
		switch {
		case knownhosts.IsHostKeyChanged(err):
			hk.Changed = true
		case knownhosts.IsHostUnknown(err):
			hk.Unknown = true
		default:
			return err
		}
		return hk
	}

	var signers []ssh.Signer
	var problems []string
	files := ep.identities
	if identity != "" {
		files = append([]string{identity}, files...)
	}
	for _, f := range files {
		s, err := loadKey(f)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) || f == identity {
				problems = append(problems, err.Error())
			}
			continue
		}
		signers = append(signers, s)
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			if agentSigners, err := agent.NewClient(conn).Signers(); err == nil {
				signers = append(signers, agentSigners...)
			}
		}
	}
	if len(signers) == 0 {
		msg := "no usable SSH key: start ssh-agent and ssh-add your key, set IdentityFile in ~/.ssh/config, or pass --identity"
		if len(problems) > 0 {
			msg += " (" + strings.Join(problems, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	return &ssh.ClientConfig{
		User:              ep.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   callback,
		HostKeyAlgorithms: db.HostKeyAlgorithms(hostPort(ep)),
	}, nil
}

func loadKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%s is protected by a passphrase: add it to ssh-agent (ssh-add %s)", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func hostPort(ep *endpoint) string {
	return net.JoinHostPort(ep.hostname, strconv.Itoa(ep.port))
}

// HostKeyError is a host whose key known_hosts does not vouch for. hoist
// never connects to such a host.
type HostKeyError struct {
	Host, Addr  string
	Fingerprint string
	Files       []string
	Changed     bool // known_hosts has another key: maybe an attack, maybe a rebuilt server
	Unknown     bool
}

func (e *HostKeyError) Error() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	entry := host
	if port != "22" {
		entry = "[" + host + "]:" + port
	}
	if e.Changed {
		return fmt.Sprintf("the host key of %s (%s) has CHANGED: it is %s, which known_hosts (%s) does not hold.\n"+
			"Someone may be intercepting the connection, or the server was reinstalled. Nothing was changed on any host.\n"+
			"If you know why the key changed, remove the old one with: ssh-keygen -R %s",
			e.Host, e.Addr, e.Fingerprint, strings.Join(e.Files, ", "), Quote(entry))
	}
	fp := ""
	if e.Fingerprint != "" {
		fp = " (it offers " + e.Fingerprint + ")"
	}
	return fmt.Sprintf("the host key of %s (%s) is not in known_hosts%s. Nothing was changed on any host.\n"+
		"Check the fingerprint with the server's owner, then add it with: ssh-keyscan -p %s %s >> ~/.ssh/known_hosts",
		e.Host, e.Addr, fp, port, Quote(host))
}
