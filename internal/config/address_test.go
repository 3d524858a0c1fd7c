package config

import (
	"strings"
	"testing"
)

func TestParseHostAddress(t *testing.T) {
	tests := []struct {
		in       string
		user     string
		host     string
		port     int
		errorHas string
	}{
		{in: "deploy@203.0.113.5:2222", user: "deploy", host: "203.0.113.5", port: 2222},
		{in: "203.0.113.5", host: "203.0.113.5"},
		{in: "web1", host: "web1"},
		{in: "web_1", host: "web_1"},
		{in: "local", host: "local"},
		{in: "first.last@example.com", user: "first.last", host: "example.com"},
		{in: "example.com.:22", host: "example.com.", port: 22},
		{in: "deploy@[2001:db8::1]:22", user: "deploy", host: "2001:db8::1", port: 22},
		{in: "[::1]", host: "::1"},
		{in: "", errorHas: "empty"},
		{in: "deploy@", errorHas: "missing host"},
		{in: "@host", errorHas: "the user before @"},
		{in: "-oProxyCommand=x@host", errorHas: "the user before @"},
		{in: "a@b@c", errorHas: `"b@c" is not a host name`},
		{in: "host:", errorHas: "port must be a number"},
		{in: "host:0", errorHas: "port must be a number"},
		{in: "host:65536", errorHas: "port must be a number"},
		{in: "host:ssh", errorHas: "port must be a number"},
		{in: "2001:db8::1", errorHas: "put an IPv6 address in brackets"},
		{in: "[2001:db8::1", errorHas: "missing ]"},
		{in: "[203.0.113.5]", errorHas: "only an IPv6 address goes in brackets"},
		{in: "[::1]22", errorHas: "expected :port after ]"},
		{in: "300.1.2.3", errorHas: `"300.1.2.3" is not an IPv4 address`},
		{in: "-host", errorHas: "not a host name"},
		{in: "my host", errorHas: "not a host name"},
		{in: "host/path", errorHas: "not a host name"},
		{in: "ssh://deploy@host", errorHas: "without a scheme"},
	}
	for _, tt := range tests {
		a, err := ParseHostAddress(tt.in)
		if tt.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errorHas) {
				t.Errorf("ParseHostAddress(%q): error %v, want one saying %q", tt.in, err, tt.errorHas)
			}
			continue
		}
		want := Address{User: tt.user, Host: tt.host, Port: tt.port}
		if err != nil || a != want {
			t.Errorf("ParseHostAddress(%q) = %+v, %v; want %+v", tt.in, a, err, want)
			continue
		}
		// String gives back something that parses to the same address.
		again, err := ParseHostAddress(a.String())
		if err != nil || again != a {
			t.Errorf("%+v.String() = %q, which parses to %+v, %v", a, a.String(), again, err)
		}
	}
}

func TestAddressString(t *testing.T) {
	for a, want := range map[Address]string{
		{Host: "web1"}: "web1",
		{User: "deploy", Host: "example.com", Port: 2222}: "deploy@example.com:2222",
		{Host: "2001:db8::1"}:                             "[2001:db8::1]",
		{User: "d", Host: "::1", Port: 22}:                "d@[::1]:22",
	} {
		if got := a.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", a, got, want)
		}
	}
}
