package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultAddr is where `multinexo serve` listens without --addr.
const DefaultAddr = "127.0.0.1:8080"

// DefaultIssuer is the issuer when neither --addr nor --issuer is given: the
// contract's default, which names the default address by the name a browser
// on the same machine uses.
const DefaultIssuer = "http://localhost:8080"

// Where an issuer came from, for the start-up log line.
const (
	IssuerFromFlag    = "--issuer"
	IssuerFromAddr    = "--addr"
	IssuerFromDefault = "default"
)

// ResolveIssuer returns the issuer `serve` uses and where it came from:
// --issuer when given; the contract's default when neither --issuer nor
// --addr is given; otherwise http:// and the address actually listened on
// (listened, so --addr 127.0.0.1:0 yields the chosen port). An address on
// every interface (0.0.0.0, ::, or no host) is named localhost: it is
// reachable there, and IssuerWarning asks for --issuer.
func ResolveIssuer(issuerFlag, addrFlag, listened string) (issuer, from string) {
	switch {
	case issuerFlag != "":
		return issuerFlag, IssuerFromFlag
	case addrFlag == "":
		return DefaultIssuer, IssuerFromDefault
	}
	host, port, err := net.SplitHostPort(listened)
	if err != nil {
		return DefaultIssuer, IssuerFromDefault
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), IssuerFromAddr
}

// IssuerWarning says why the issuer cannot be this server at the address
// it listens on, or returns "" when it can or when that cannot be known.
//
// The rule: this server speaks plain HTTP only, so an https issuer implies a
// TLS-terminating proxy, and an http issuer naming a host other than
// localhost or an IP literal may be a proxy or a DNS name we cannot check:
// neither is warned about. An http issuer naming localhost or an IP address
// is reached directly, so its port (80 when absent) must be the port served,
// and its host must be one the listener accepts: any host when listening on
// every interface, a loopback name or address when listening on loopback,
// the same address otherwise.
func IssuerWarning(issuer, listened string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "http" {
		return ""
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	ip := net.ParseIP(host)
	localhost := strings.EqualFold(host, "localhost")
	if ip == nil && !localhost {
		return ""
	}
	lhost, lport, err := net.SplitHostPort(listened)
	if err != nil {
		return ""
	}
	if port != lport {
		return fmt.Sprintf("the issuer %s names port %s but the server listens on %s; with no proxy in front, "+
			"discovery and token checks by clients (go-oidc compares the issuer exactly) fail: set --issuer to the URL clients use", issuer, port, listened)
	}
	lip := net.ParseIP(lhost)
	switch {
	case lhost == "" || lip != nil && lip.IsUnspecified():
		return ""
	case localhost && (lip != nil && lip.IsLoopback() || strings.EqualFold(lhost, "localhost")):
		return ""
	case ip != nil && lip != nil && ip.Equal(lip):
		return ""
	}
	return fmt.Sprintf("the issuer %s names host %s but the server listens on %s only; clients cannot reach the issuer: "+
		"set --issuer to the URL clients use, or --addr to the address it names", issuer, host, listened)
}
