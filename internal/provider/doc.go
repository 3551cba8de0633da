// Package provider serves the protocol endpoints of the authorization
// server: the token endpoint (one file per grant), revocation (RFC 7009),
// introspection (RFC 7662), userinfo (OIDC Core §5.3), the JWKS and the
// discovery documents (RFC 8414, OIDC Discovery), and the bearer verifier
// (RFC 6750) that every resource handler uses.
//
// What flows through it: every client-authenticated request (token,
// device authorization, revocation, introspection) goes through one step,
// authenticate (pipeline.go): the body is parsed into oauth.Params, the
// credentials taken, the endpoint's own parameter checks run and the client
// authenticated. At the token endpoint then — for every grant, in this fixed
// order — the grant type must be allowed for the client and the requested
// scope must be within the client's (oauth.ClientScope); only then does the
// grant's handler run. Whether a grant gets a refresh token is one rule
// (firstRefresh). The password, client-credentials and refresh handlers mint
// every token before the one store operation that records the grant (so a
// failed write issues nothing); the code and device handlers redeem first —
// only the store knows the code's scopes and user — and revoke the grant
// they just recorded if a later check or the minting fails, so nothing
// usable is handed out on an error path. No handler answers before its
// store operation committed.
//
// Grants are the unit of revocation: each access token names its grant (gid),
// each refresh token hangs from one; revoking either kind of token at
// /auth/v1/revoke revokes the grant, and the bearer verifier and
// introspection check the grant on every call.
package provider
