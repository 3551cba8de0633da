package config

import "testing"

func TestResolveIssuer(t *testing.T) {
	for _, c := range []struct {
		issuer, addr, listened string
		want, from             string
	}{
		// Neither flag: the contract's default, whatever was listened on.
		{"", "", "127.0.0.1:8080", "http://localhost:8080", IssuerFromDefault},
		// --addr alone: the address served, with the port the kernel chose.
		{"", "127.0.0.1:8080", "127.0.0.1:8080", "http://127.0.0.1:8080", IssuerFromAddr},
		{"", "127.0.0.1:0", "127.0.0.1:41234", "http://127.0.0.1:41234", IssuerFromAddr},
		{"", "[::1]:9090", "[::1]:9090", "http://[::1]:9090", IssuerFromAddr},
		{"", ":9090", "[::]:9090", "http://localhost:9090", IssuerFromAddr},
		{"", "0.0.0.0:9090", "0.0.0.0:9090", "http://localhost:9090", IssuerFromAddr},
		// --issuer wins, as before.
		{"https://auth.example.com", "127.0.0.1:9090", "127.0.0.1:9090", "https://auth.example.com", IssuerFromFlag},
		{"https://auth.example.com", "", "127.0.0.1:8080", "https://auth.example.com", IssuerFromFlag},
	} {
		got, from := ResolveIssuer(c.issuer, c.addr, c.listened)
		if got != c.want || from != c.from {
			t.Errorf("ResolveIssuer(%q, %q, %q) = %q, %q; want %q, %q", c.issuer, c.addr, c.listened, got, from, c.want, c.from)
		}
		if err := ValidateIssuer(got); err != nil {
			t.Errorf("derived issuer %q invalid: %v", got, err)
		}
	}
}

func TestIssuerWarning(t *testing.T) {
	for _, c := range []struct {
		issuer, listened string
		warn             bool
	}{
		{"http://localhost:8080", "127.0.0.1:8080", false},
		{"http://localhost:8080", "[::1]:8080", false},
		{"http://127.0.0.1:8080", "127.0.0.1:8080", false},
		{"http://192.0.2.7:8080", "0.0.0.0:8080", false},
		{"http://localhost:8080", "[::]:8080", false},
		// The case: another --addr, the issuer left at localhost:8080.
		{"http://localhost:8080", "127.0.0.1:9090", true},
		{"http://localhost", "127.0.0.1:8080", true},
		{"http://127.0.0.1:8080", "[::1]:8080", true},
		{"http://localhost:8080", "192.0.2.7:8080", true},
		{"http://192.0.2.8:8080", "192.0.2.7:8080", true},
		// A proxy is implied: TLS (this server has none), or a DNS name.
		{"https://localhost:8443", "127.0.0.1:8080", false},
		{"https://auth.example.com", "127.0.0.1:8080", false},
		{"http://auth.example.com", "127.0.0.1:8080", false},
	} {
		got := IssuerWarning(c.issuer, c.listened)
		if (got != "") != c.warn {
			t.Errorf("IssuerWarning(%q, %q) = %q; want warning %v", c.issuer, c.listened, got, c.warn)
		}
	}
}
