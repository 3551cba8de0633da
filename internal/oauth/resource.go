package oauth

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CodeInvalidTarget is RFC 8707 §2's error: "The requested resource is
// invalid, missing, unknown, or malformed."
const CodeInvalidTarget = "invalid_target"

// ParamResource is the RFC 8707 resource parameter, the one parameter that
// may be repeated (§2: "Multiple "resource" parameters MAY be used to
// indicate that the requested token is intended to be used at multiple
// resources.").
const ParamResource = "resource"

// MaxResources bounds how many resource values one request may name, and
// MaxResourceLen each one: no client needs more.
const (
	MaxResources   = 10
	MaxResourceLen = 512
)

// InvalidTarget is RFC 8707 §2's invalid_target (400).
func InvalidTarget(desc string) *Error {
	return newError(CodeInvalidTarget, http.StatusBadRequest, desc)
}

// ParseResources checks the resource values of a request (empty values
// dropped, as RFC 6749 §3.1 says of every parameter) and returns them with
// duplicates removed, in order; nil when none was sent. RFC 8707 §2: "Its
// value MUST be an absolute URI, as specified by Section 4.3 of [RFC3986],
// which MAY include a query component, but MUST NOT include a fragment
// component." Anything else is invalid_target. Whether the resource is
// registered is for the caller to check against the store.
func ParseResources(values []string) ([]string, *Error) {
	vs := NonEmpty(values)
	if len(vs) > MaxResources {
		return nil, InvalidTarget("demasiados valores de resource")
	}
	var out []string
	for _, v := range vs {
		if !ValidResource(v) {
			return nil, InvalidTarget("resource debe ser un URI absoluto sin fragmento")
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// ValidResource reports whether v is a well-formed resource indicator: an
// absolute URI (scheme and, for this server, a host) of printable ASCII
// without white space, no fragment, at most MaxResourceLen bytes.
func ValidResource(v string) bool {
	if v == "" || len(v) > MaxResourceLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] >= 0x7f {
			return false
		}
	}
	if strings.Contains(v, "#") {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && u.IsAbs() && u.Host != "" && u.Opaque == "" && u.User == nil
}

// NarrowResources applies RFC 8707 §2.2 at the token endpoint for a grant
// already holding granted: requested (already parsed) must be a subset of
// granted, and is then the token's audience; none requested is the whole
// granted set. A resource not granted is invalid_target: a token request
// may narrow the resources, never widen them.
func NarrowResources(requested, granted []string) ([]string, *Error) {
	if len(requested) == 0 {
		return granted, nil
	}
	for _, r := range requested {
		if !slices.Contains(granted, r) {
			return nil, InvalidTarget("resource no fue autorizado en esta concesion")
		}
	}
	return requested, nil
}
