package cimd

import "net/netip"

// nonPublic are the ranges a metadata document is never fetched from, beyond
// what netip.Addr's predicates catch (loopback, private, link-local,
// multicast, unspecified).
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",         // "this network"
		"100.64.0.0/10",     // CGNAT (RFC 6598)
		"169.254.0.0/16",    // link-local, with the cloud metadata service 169.254.169.254
		"192.0.0.0/24",      // IETF protocol assignments
		"192.0.2.0/24",      // TEST-NET-1
		"192.88.99.0/24",    // 6to4 relay anycast
		"198.18.0.0/15",     // benchmarking
		"198.51.100.0/24",   // TEST-NET-2
		"203.0.113.0/24",    // TEST-NET-3
		"240.0.0.0/4",       // reserved, with the broadcast address
		"::/128", "::1/128", // unspecified, loopback
		"64:ff9b::/96",   // NAT64: embeds an IPv4 address
		"64:ff9b:1::/48", // local-use NAT64
		"100::/64",       // discard
		"2001::/32",      // Teredo: embeds an IPv4 address
		"2001:db8::/32",  // documentation
		"2002::/16",      // 6to4: embeds an IPv4 address
		"fc00::/7",       // unique local
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Public reports whether a is an address a metadata document may be
// fetched from: a global unicast address outside every special range.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
