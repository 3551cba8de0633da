package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCEMethodS256 is the only code_challenge_method we accept. RFC 7636 §4.2
// allows "plain" only when S256 is impossible, and RFC 9700 §2.1.1 says
// clients SHOULD use S256; no client of ours needs plain.
const PKCEMethodS256 = "S256"

// ValidVerifier reports whether v has the form RFC 7636 §4.1 requires:
//
//	code-verifier = 43*128unreserved
//	unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			return false
		}
	}
	return true
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// ValidateChallenge checks a code_challenge and its method at the
// authorization endpoint: the method must be S256 ("plain" is refused) and the
// challenge the base64url encoding, without padding, of a SHA-256 digest (43
// characters, RFC 7636 §4.2). An empty method means "plain" (RFC 7636 §4.3:
// "Defaults to "plain" if not present in the request"), so it is refused too.
func ValidateChallenge(challenge, method string) *Error {
	if method != PKCEMethodS256 {
		return InvalidRequest("code_challenge_method debe ser S256")
	}
	if len(challenge) != 43 {
		return InvalidRequest("code_challenge invalido")
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(challenge); err != nil {
		return InvalidRequest("code_challenge invalido")
	}
	return nil
}

// VerifyPKCE checks a code_verifier against the challenge stored with the
// authorization code (RFC 7636 §4.6): for S256,
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge, compared
// in constant time. Every failure is invalid_grant (RFC 7636 §4.6: "If the
// values are not equal, an error response indicating "invalid_grant" as
// described in Section 4.1.4 of [RFC6749] MUST be returned"), and so is a
// stored method other than S256.
//
// The caller decides the two cases without a stored challenge: no verifier is
// fine; a verifier sent for a code issued without a challenge is refused
// (invalid_grant), which is what VerifyPKCE does when challenge is "".
func VerifyPKCE(challenge, method, verifier string) *Error {
	if challenge == "" {
		if verifier == "" {
			return nil
		}
		return InvalidGrant("code_verifier enviado para un codigo emitido sin code_challenge")
	}
	if verifier == "" {
		return InvalidGrant("falta code_verifier")
	}
	if method != PKCEMethodS256 {
		return InvalidGrant("metodo PKCE no admitido")
	}
	if !ValidVerifier(verifier) {
		return InvalidGrant("code_verifier con formato invalido")
	}
	sum := sha256.Sum256([]byte(verifier))
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	if subtle.ConstantTimeCompare(enc[:], []byte(challenge)) != 1 {
		return InvalidGrant("code_verifier no coincide con code_challenge")
	}
	return nil
}
