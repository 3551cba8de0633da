// Package provider serves the protocol endpoints of the authorization
// server: the token endpoint (one file per grant), revocation (RFC 7009),
// introspection (RFC 7662), userinfo (OIDC Core §5.3), the JWKS and the
// discovery documents (RFC 8414, OIDC Discovery), and the bearer verifier
// (RFC 6750) that every resource handler uses.
//
// What flows through it: a client request is parsed into oauth.Params, the
// client is authenticated, then — for every grant, in this fixed order — the
// grant type must be allowed for the client and the requested scope must be
// within the client's; only then does the grant's handler run. Handlers mint
// every token before the one store operation that records the grant (so a
// failed store write issues nothing) and never answer before it committed.
//
// Grants are the unit of revocation: each access token names its grant (gid),
// each refresh token hangs from one; revoking either kind of token at
// /auth/v1/revoke revokes the grant, and the bearer verifier and
// introspection check the grant on every call.
package provider
