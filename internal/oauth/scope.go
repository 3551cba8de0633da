package oauth

import (
	"slices"
	"strings"
)

// Well-known scopes.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
	// ScopeAccount lets a token change or delete the person's account and
	// manage their applications and connections. Only first-party clients
	// may be granted it (see ClientScope).
	ScopeAccount = "account"
	// ScopeVoucher is the seeds' own scope.
	ScopeVoucher = "voucher"
)

// builtinScopes are the scopes this server defines (clients.BuiltinScopes
// lists the same, in the order offered to operators).
var builtinScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeVoucher, ScopeOfflineAccess, ScopeAccount}

// IsBuiltinScope reports whether s is a scope this server defines.
func IsBuiltinScope(s string) bool { return slices.Contains(builtinScopes, s) }

// MaxScopeLen bounds the scope parameter; no client needs more.
const MaxScopeLen = 2048

// ParseScope splits a scope parameter. RFC 6749 §3.3: "The value of the
// scope parameter is expressed as a list of space-delimited, case-sensitive
// strings." and
//
//	scope       = scope-token *( SP scope-token )
//	scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
//
// Runs of spaces are tolerated (clients build the string by concatenation);
// any other character outside the scope-token set is an error. "If the value
// contains multiple space-delimited strings, their order does not matter":
// duplicates are dropped, the first occurrence keeps its place, so the answer
// is deterministic. An empty or all-space value yields nil (no scope asked).
func ParseScope(s string) ([]string, *Error) {
	if len(s) > MaxScopeLen {
		return nil, InvalidScope("el parametro scope es demasiado largo")
	}
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		for i := 0; i < len(tok); i++ {
			if !scopeChar(tok[i]) {
				return nil, InvalidScope("el parametro scope contiene caracteres no permitidos")
			}
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

func scopeChar(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)
}

// FormatScope joins scopes with single spaces (RFC 6749 §3.3).
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }

// GrantScope applies the scope policy: every requested scope must be in
// allowed (the client's registered scopes, or the scopes of the grant a
// refresh token belongs to), else invalid_scope naming the first offender.
// RFC 6749 §3.3: "If the client omits the scope parameter when requesting
// authorization, the authorization server MUST either process the request
// using a pre-defined default value or fail the request indicating an invalid
// scope" — an empty request gets allowed, the client's default set. The
// result keeps the requested order and is a fresh slice.
func GrantScope(requested, allowed []string) ([]string, *Error) {
	if len(requested) == 0 {
		return slices.Clone(allowed), nil
	}
	for _, s := range requested {
		if !slices.Contains(allowed, s) {
			return nil, InvalidScope("el alcance " + strings.Map(safeRune, s) + " no esta permitido para este cliente")
		}
	}
	return slices.Clone(requested), nil
}

// AllowedScopes are the scopes a client may be granted: those registered
// for it, with ScopeAccount only for a first-party client (which may have
// it whether or not it is registered: being first party is the operator's
// decision that it may manage accounts).
func AllowedScopes(registered []string, firstParty bool) []string {
	out := slices.DeleteFunc(slices.Clone(registered), func(s string) bool { return s == ScopeAccount })
	if firstParty {
		out = append(out, ScopeAccount)
	}
	return out
}

// ClientScope applies the scope policy for a client at the authorization,
// token (password, client credentials) and device authorization endpoints:
// GrantScope against AllowedScopes, except that an empty request gets the
// registered scopes without ScopeAccount — a token may manage the account
// only when its client asked for that by name. A third-party client asking
// for ScopeAccount gets invalid_scope, so no consent page can ever offer it.
//
// RFC 6749 §5.2 invalid_scope: "The requested scope is invalid, unknown,
// malformed, or exceeds the scope granted by the resource owner." Both are
// invalid_scope; the description tells a scope that does not exist here (a
// typo, another server's scope) from one this client may not use (the
// operator or the developer must register it for the client).
func ClientScope(requested, registered []string, firstParty bool) ([]string, *Error) {
	if len(requested) == 0 {
		return AllowedScopes(registered, false), nil
	}
	if !firstParty && slices.Contains(requested, ScopeAccount) {
		return nil, InvalidScope("el alcance account solo se concede a aplicaciones de primera parte (marcadas por el operador)")
	}
	for _, s := range requested {
		if !IsBuiltinScope(s) && !slices.Contains(registered, s) {
			return nil, InvalidScope("el alcance " + strings.Map(safeRune, s) + " no existe en este servidor")
		}
	}
	return GrantScope(requested, AllowedScopes(registered, firstParty))
}

// Intersect returns the scopes of a that are also in b, in a's order.
func Intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func safeRune(r rune) rune {
	if r < 0x80 && descChar(byte(r)) {
		return r
	}
	return -1
}
