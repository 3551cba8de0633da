// Package resourceserver protects an HTTP API (a "resource server", such as
// an MCP server) with access tokens issued by a Multinexo Auth server — or
// any OAuth 2.0 authorization server that publishes RFC 8414 metadata and
// issues RFC 9068 JWT access tokens.
//
// New discovers the issuer's metadata and signing keys (JWKS), then:
//
//   - Require returns middleware that lets a request through only with a
//     valid access token for this resource carrying the scopes given: the
//     signature checks against the issuer's JWKS (cached; fetched again,
//     at most once per MinRefetchInterval, when a token names an unknown
//     kid), the header's typ is at+jwt (RFC 9068 §4, so an ID token is
//     never taken for an access token), iss is the issuer, aud contains
//     Config.Resource (RFC 8707: tokens minted for another API are
//     refused), and exp and nbf hold with Config.Leeway of clock skew.
//     The verified claims are in the request's context (FromContext).
//   - With Config.Introspection set, every token is also checked with the
//     issuer's introspection endpoint (RFC 7662) using the resource's own
//     client credentials, so a revoked token stops working at once instead
//     of at its expiry.
//   - MetadataHandler serves the RFC 9728 protected-resource metadata at
//     MetadataPath (/.well-known/oauth-protected-resource followed by the
//     resource's path), which names the issuer so that clients (MCP
//     clients in particular) find where to get a token.
//   - Refusals follow RFC 6750 §3 and RFC 9728 §5.1: 401 with
//     WWW-Authenticate: Bearer resource_metadata="…" when no token was
//     sent, plus error="invalid_token" when a bad one was; 403 with
//     error="insufficient_scope" and the scope needed.
//
// The resource must be registered with the authorization server (on
// Multinexo: multinexo resources create --uri URI --name NAME), and clients
// must ask for tokens with resource=URI.
//
// This package depends on nothing of the server's internals: it talks to
// the authorization server over HTTP only, as any other resource server
// would.
package resourceserver
