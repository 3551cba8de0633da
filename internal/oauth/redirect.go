package oauth

import (
	"net/url"
	"strconv"
	"strings"
)

// MaxRedirectURILen bounds a redirect_uri at the authorization endpoint; the
// registration check (clients.ValidateRedirectURI) uses a similar bound.
const MaxRedirectURILen = 2000

// MatchRedirectURI decides whether requested, the redirect_uri of an
// authorization request, is one of the client's registered URIs, and returns
// the URI to redirect to (requested itself).
//
// The comparison is exact, character for character. RFC 9700 §4.1.3: "the
// authorization server MUST ensure that the redirect URI of the authorization
// request exactly matches one of the pre-registered redirect URIs ... using
// simple string comparison as defined in [RFC3986], Section 6.2.1." So no
// case folding, no percent-decoding, no dot-segment removal and no prefix
// matching: "https://app.example/cb/../admin", "https://APP.example/cb",
// "https://app.example/cb/more" and "https://app.example/cbx" never match a
// registered "https://app.example/cb".
//
// One exception, RFC 8252 §7.3: "The authorization server MUST allow any port
// to be specified at the time of the request for loopback IP redirect URIs,
// to accommodate clients that obtain an available ephemeral port from the
// operating system at the time of the request." It applies to http URIs on
// the IP literals 127.0.0.1 and [::1] only (RFC 8252 §8.3: "localhost" is NOT
// RECOMMENDED, and a name can be re-pointed, so it gets exact matching); the
// rest of the URI — path and query — must still be identical.
//
// A requested URI with a fragment or user information is refused even if
// registered that way (RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a
// fragment component"; user information is how
// "https://app.example@evil.example/" fools a careless parser).
func MatchRedirectURI(registered []string, requested string) (string, bool) {
	if requested == "" || len(requested) > MaxRedirectURILen || !plausibleURI(requested) {
		return "", false
	}
	for _, r := range registered {
		if r == requested {
			return requested, true
		}
	}
	reqBase, reqRest, ok := splitLoopback(requested)
	if !ok {
		return "", false
	}
	for _, r := range registered {
		if base, rest, ok := splitLoopback(r); ok && base == reqBase && rest == reqRest {
			return requested, true
		}
	}
	return "", false
}

// plausibleURI refuses what no registered redirect URI may contain, before
// any comparison: fragments, user information, white space and control
// characters, backslashes (which browsers read as slashes), and anything
// net/url cannot parse as an absolute URI.
func plausibleURI(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c == 0x7f || c == '#' || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.User != nil {
		return false
	}
	// "http://a.example:443@evil.example/" has user info; so does any
	// authority holding an '@'. url.Parse catches both, but check the raw
	// authority too so no parser difference can slip through.
	if rest, ok := strings.CutPrefix(s, u.Scheme+"://"); ok {
		auth := rest
		if i := strings.IndexAny(auth, "/?"); i >= 0 {
			auth = auth[:i]
		}
		if strings.Contains(auth, "@") {
			return false
		}
	}
	return true
}

// loopbackPrefixes are the only authorities that get any-port matching:
// lower-case "http", an IP literal loopback address, nothing else.
var loopbackPrefixes = []string{"http://127.0.0.1", "http://[::1]"}

// splitLoopback splits a loopback IP redirect URI into the part before the
// port and the part after it ("/path?query", possibly ""). ok is false for
// any other URI, and for a malformed port (empty, not decimal, 0, above
// 65535, or with leading zeros that would let two spellings name one port).
func splitLoopback(s string) (base, rest string, ok bool) {
	for _, p := range loopbackPrefixes {
		after, found := strings.CutPrefix(s, p)
		if !found {
			continue
		}
		switch {
		case after == "" || after[0] == '/' || after[0] == '?':
			return p, after, true
		case after[0] == ':':
			digits := after[1:]
			end := strings.IndexAny(digits, "/?")
			if end < 0 {
				end = len(digits)
			}
			port := digits[:end]
			if !validPort(port) {
				return "", "", false
			}
			return p, digits[end:], true
		}
		return "", "", false
	}
	return "", "", false
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// IsPrivateScheme reports whether uri uses a private-use scheme (RFC 8252
// §7.1, e.g. "com.example.app:/cb"), as opposed to http or https.
func IsPrivateScheme(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	s := strings.ToLower(u.Scheme)
	return s != "" && s != "http" && s != "https"
}

// AppendParams adds params to the redirect URI base: in the query (RFC 6749
// §4.1.2: "adding the following parameters to the query component of the
// redirection URI") keeping the query the URI already has (§3.1.2: "The
// endpoint URI MAY include an "application/x-www-form-urlencoded" formatted
// query component, which MUST be retained when adding additional query
// parameters"), or in the fragment for the implicit grant (§4.2.2).
// Parameters with empty values are left out.
func AppendParams(base string, params url.Values, fragment bool) string {
	kept := url.Values{}
	for k, vs := range params {
		if len(vs) > 0 && vs[0] != "" {
			kept[k] = vs[:1]
		}
	}
	enc := kept.Encode()
	if enc == "" {
		return base
	}
	if fragment {
		return base + "#" + enc
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	return base + sep + enc
}
