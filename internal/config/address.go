package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseAddress splits a host address: [user@]host[:port], where host is a
// host name, an ~/.ssh/config alias, an IPv4 address or a bracketed IPv6
// address. user is "" and port 0 when not given, so ~/.ssh/config can fill
// them in. The IPv6 host comes back without brackets.
func ParseAddress(s string) (user, host string, port int, err error) {
	fail := func(why string) (string, string, int, error) {
		return "", "", 0, fmt.Errorf("invalid host address %q: %s", s, why)
	}
	if s == "" {
		return fail("empty")
	}
	if strings.Contains(s, "://") {
		return fail("write user@host:port, without a scheme")
	}
	rest := s
	if u, r, ok := strings.Cut(s, "@"); ok {
		if !validUser(u) {
			return fail("the user before @ must be letters, digits, '.', '_' or '-'")
		}
		user, rest = u, r
	}
	var portText string
	hasPort := false
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return fail("missing ] after the IPv6 address")
		}
		host = rest[1:end]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
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
		host, portText, hasPort = strings.Cut(rest, ":")
		if host == "" {
			return fail("missing host")
		}
		if looksIPv4(host) {
			if a, err := netip.ParseAddr(host); err != nil || !a.Is4() {
				return fail(fmt.Sprintf("%q is not an IPv4 address", host))
			}
		} else if !validHostname(host, true) {
			return fail(fmt.Sprintf("%q is not a host name", host))
		}
	}
	if hasPort {
		p, err := strconv.Atoi(portText)
		if err != nil || p < 1 || p > 65535 {
			return fail("the port must be a number from 1 to 65535")
		}
		port = p
	}
	return user, host, port, nil
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
