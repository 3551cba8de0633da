// Package passkey is sign-in with passkeys (WebAuthn Level 3 discoverable
// credentials), on github.com/go-webauthn/webauthn: the library parses and
// verifies every CBOR, COSE and attestation structure; this package decides
// what is stored, for whom, and when a ceremony may finish.
//
// The relying party is the issuer: RP ID its host, origin its scheme, host
// and port (RelyingParty says why an issuer cannot be one). Registration
// asks for a resident key and user verification, both required; sign-in
// asks for user verification, required, so a passkey sign-in is complete
// by itself (amr hwk or swk, user, mfa).
//
// Every ceremony's challenge and state is a row of the store
// (store.PasskeyStore): single use (consumed by one conditional UPDATE),
// short-lived (CeremonyTTL), bound to the browser that began it (the caller
// passes a binding only that browser can produce), so any instance
// finishes what another began and a handle alone is worth nothing.
//
// Each sign-in records the signature counter and the backup flags. A
// counter that does not move forward (on an authenticator that keeps one)
// is the WebAuthn signal of a cloned authenticator: the sign-in is refused
// and a passkey.clone_warning event recorded. Events: passkey.added,
// passkey.used, passkey.renamed, passkey.deleted, passkey.failed,
// passkey.clone_warning.
package passkey
