package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sshConfig is ~/.ssh/config then /etc/ssh/ssh_config, read the way ssh
// reads them: the first value found wins.
type sshConfig struct {
	files []*ssh_config.Config
	home  string
}

func loadSSHConfig() (*sshConfig, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	sc := &sshConfig{home: home}
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
	proxyJump             string
	connectTimeout        time.Duration
	home                  string
}

// resolve turns "web1" or "deploy@host:2222" into an endpoint. Values in the
// target win over ~/.ssh/config, as with ssh.
func (sc *sshConfig) resolve(target string) (*endpoint, error) {
	userPart, hostPart := "", target
	if i := strings.LastIndex(target, "@"); i >= 0 {
		userPart, hostPart = target[:i], target[i+1:]
	}
	alias, portPart := hostPart, ""
	if h, p, err := net.SplitHostPort(hostPart); err == nil {
		alias, portPart = h, p
	}
	ep := &endpoint{alias: alias, home: sc.home}
	ep.hostname = sc.get(alias, "HostName")
	if ep.hostname == "" {
		ep.hostname = alias
	}
	ep.hostname = strings.ReplaceAll(ep.hostname, "%h", alias)

	ep.user = userPart
	if ep.user == "" {
		ep.user = sc.get(alias, "User")
	}
	if ep.user == "" {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		ep.user = u.Username
	}

	port := portPart
	if port == "" {
		port = sc.get(alias, "Port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("%s: bad port %q", target, port)
	}
	ep.port = n

	for _, f := range sc.getAll(alias, "IdentityFile") {
		ep.identities = append(ep.identities, sc.expand(f, ep))
	}
	if len(ep.identities) == 0 {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			ep.identities = append(ep.identities, filepath.Join(sc.home, ".ssh", name))
		}
	}
	for _, f := range strings.Fields(sc.get(alias, "UserKnownHostsFile")) {
		ep.knownHosts = append(ep.knownHosts, sc.expand(f, ep))
	}
	for _, f := range strings.Fields(sc.get(alias, "GlobalKnownHostsFile")) {
		ep.knownHosts = append(ep.knownHosts, sc.expand(f, ep))
	}
	if pj := sc.get(alias, "ProxyJump"); pj != "" && !strings.EqualFold(pj, "none") {
		ep.proxyJump = pj
	}
	ep.connectTimeout = 10 * time.Second
	if t, err := strconv.Atoi(sc.get(alias, "ConnectTimeout")); err == nil && t > 0 {
		ep.connectTimeout = time.Duration(t) * time.Second
	}
	return ep, nil
}

// expand handles the ~ and % tokens ssh allows in file names.
func (sc *sshConfig) expand(path string, ep *endpoint) string {
	if strings.HasPrefix(path, "~/") {
		path = filepath.Join(sc.home, path[2:])
	}
	r := strings.NewReplacer("%d", sc.home, "%u", ep.user, "%h", ep.hostname, "%r", ep.user, "%p", strconv.Itoa(ep.port), "%%", "%")
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
