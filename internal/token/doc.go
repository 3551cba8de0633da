// Package token makes and checks every credential Multinexo Auth hands out.
//
// What flows through it:
//
//   - Opaque secrets (NewOpaque): refresh tokens, authorization codes, client
//     secrets, session secrets and device codes. Each is a recognisable prefix
//     (mnx_rt_, mnx_ac_, ...) so secret scanners can find leaks, followed by
//     256 random bits in base64url. The caller stores only
//     store.HashToken(secret) and compares secrets with Equal.
//   - Identifiers (NewID): 128 random bits in hex, for users, clients,
//     grants, key ids and jti.
//   - The server secret (LoadOrCreateSecretFile, KeyConfig.Secret): the one
//     configured secret every instance shares. An AES-256-GCM key derived
//     from it with HKDF-SHA256 encrypts the private signing keys at rest.
//   - Signing keys (KeyManager): kept in the store, so every instance signs
//     with the same keys and rotation is agreed through the database. Access
//     tokens and ID tokens use separate keys (use "access", "id"). Ensure
//     creates missing keys at start-up; Rotate retires the active ones and
//     keeps them published until every token they signed has expired; JWKS
//     publishes the public halves. The manager keeps a parsed snapshot in
//     memory and reloads it from the store every Refresh, or when a token
//     names a kid it has not seen (at most once a second).
//   - Access tokens (MintAccess, VerifyAccess): JWTs per RFC 9068, typ
//     "at+jwt", ES256 by default, naming their grant ("gid") so that revoking
//     the grant ends them at introspection and userinfo. Not stored.
//   - ID tokens (MintID, VerifyID): JWTs per OpenID Connect Core, RS256 by
//     default; a caller may ask for another of IDAlgorithms (RS256, ES256
//     and any configured extra) per token, for a client's
//     id_token_signed_response_alg, and there is an active ID key of each.
//     at_hash and c_hash are computed for the signing algorithm. VerifyID
//     exists for id_token_hint, which may be expired.
//
// Verification trusts nothing in the token to choose how it is checked: the
// parser accepts only ES256, RS256 and EdDSA; the kid must name a published
// key of the right use; the alg must be that key's algorithm. Every
// verification failure wraps ErrInvalidToken.
//
// This package does not know about revocation or clients; callers check the
// grant named by a token against the store.
package token
