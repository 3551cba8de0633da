package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Prefixes of the opaque secrets. A recognisable prefix lets secret scanners
// (GitHub, GitLab, trufflehog) find leaked tokens; the rest is 256 random bits.
const (
	PrefixRefresh      = "mnx_rt_"
	PrefixCode         = "mnx_ac_"
	PrefixClientSecret = "mnx_cs_"
	PrefixSession      = "mnx_ss_"
	PrefixDevice       = "mnx_dc_"
	// RFC 7591/7592: the initial access token an operator hands out, and
	// a dynamically registered client's registration access token.
	PrefixInitialAccess = "mnx_iat_"
	PrefixRegistration  = "mnx_rat_"
)

// opaqueBytes is the entropy of every opaque secret: 256 bits, so a plain
// SHA-256 (store.HashToken) is enough to store it.
const opaqueBytes = 32

// OpaqueLen is the length of the random part of an opaque secret (base64url of
// 32 bytes, no padding).
const OpaqueLen = 43

// NewOpaque returns prefix followed by the base64url (no padding) encoding of
// 32 bytes from crypto/rand. Since Go 1.24 crypto/rand never returns an
// error: on failure the program crashes, which is the only safe outcome.
func NewOpaque(prefix string) string {
	var b [opaqueBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("token: crypto/rand failed: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HasOpaqueForm reports whether s looks like an opaque secret minted by
// NewOpaque with this prefix: the prefix and exactly 43 base64url characters.
// It is a cheap syntactic filter before a store lookup, not a check of
// validity.
func HasOpaqueForm(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != OpaqueLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil
}

// NewID returns a random 128-bit identifier as 32 lowercase hex characters,
// used for users, clients, grants, key ids and jti.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("token: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Equal compares two secrets in constant time. Both sides are hashed first so
// that not even their lengths leak through timing.
func Equal(a, b string) bool {
	ha := sha256.Sum256([]byte(a))
	hb := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
