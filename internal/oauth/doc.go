// Package oauth holds the pure protocol rules of OAuth 2.0 and OpenID
// Connect that do not need a store or a key: the RFC 6749 §5.2 error type and
// the one function that writes it at the token endpoint, scope parsing and
// policy (RFC 6749 §3.3), PKCE verification (RFC 7636), the tolerant JSON
// body reader that seed 004's clients need, and the bearer contract (RFC
// 6750) between the token verifier and resource handlers.
//
// Nothing here does I/O beyond writing a response; every rule is table-tested.
package oauth
