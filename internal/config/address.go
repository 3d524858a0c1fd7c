package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Address is a parsed host address: [user@]host[:port]. User is "" and Port
// 0 when not given, so ~/.ssh/config can fill them in. Host is a host name,
// an ~/.ssh/config alias or an IP address (IPv6 without brackets). hoist.yml
// and ~/.ssh/config's ProxyJump both go through ParseHostAddress, so the
// config check and the SSH dialer always agree on what an address means.
type Address struct {
	User string
	Host string
	Port int
}

// String writes the address back in the form ParseHostAddress reads.
func (a Address) String() string {
	s := a.Host
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if a.Port != 0 {
		s = net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
	}
	if a.User != "" {
		s = a.User + "@" + s
	}
	return s
}

// ParseHostAddress parses a host address: [user@]host[:port], where host is
// a host name, an ~/.ssh/config alias, an IPv4 address or a bracketed IPv6
// address. There is at most one @: user names with @ in them are refused
// rather than guessed at.
func ParseHostAddress(s string) (Address, error) {
	fail := func(why string) (Address, error) {
		return Address{}, fmt.Errorf("invalid host address %q: %s", s, why)
	}
	if s == "" {
		return fail("empty")
	}
	if strings.Contains(s, "://") {
		return fail("write user@host:port, without a scheme")
	}
	var a Address
	rest := s
	if u, r, ok := strings.Cut(s, "@"); ok {
		if !validUser(u) {
			return fail("the user before @ must be letters, digits, '.', '_' or '-'")
		}
		a.User, rest = u, r
	}
	var portText string
	hasPort := false
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return fail("missing ] after the IPv6 address")
		}
		a.Host = rest[1:end]
		if ip, err := netip.ParseAddr(a.Host); err != nil || !ip.Is6() {
			return fail("only an IPv6 address goes in brackets")
		}
		after := rest[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return fail("expected :port after ]")
			}
			portText, hasPort = after[1:], true
		}
	} else {
		if strings.Count(rest, ":") > 1 {
			return fail("put an IPv6 address in brackets, like deploy@[2001:db8::1]:22")
		}
		a.Host, portText, hasPort = strings.Cut(rest, ":")
		if a.Host == "" {
			return fail("missing host")
		}
		if looksIPv4(a.Host) {
			if ip, err := netip.ParseAddr(a.Host); err != nil || !ip.Is4() {
				return fail(fmt.Sprintf("%q is not an IPv4 address", a.Host))
			}
		} else if !validHostname(a.Host, true) {
			return fail(fmt.Sprintf("%q is not a host name", a.Host))
		}
	}
	if hasPort {
		p, err := strconv.Atoi(portText)
		if err != nil || p < 1 || p > 65535 {
			return fail("the port must be a number from 1 to 65535")
		}
		a.Port = p
	}
	return a, nil
}

func validUser(u string) bool {
	if u == "" || u[0] == '-' {
		return false
	}
	for _, r := range u {
		if !isAlnum(r) && !strings.ContainsRune("._-", r) {
			return false
		}
	}
	return true
}

func looksIPv4(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

// validHostname checks a DNS name. underscore allows ~/.ssh/config aliases
// such as web_1, which need not be DNS names.
func validHostname(s string, underscore bool) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !isAlnum(r) && r != '-' && !(underscore && r == '_') {
				return false
			}
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
