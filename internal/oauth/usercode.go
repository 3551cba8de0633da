package oauth

import (
	"crypto/rand"
	"strings"
)

// User codes of the device authorization grant (RFC 8628 §6.1): short
// enough to type on a phone, drawn from an alphabet without vowels (no
// words) and without look-alike characters.

// UserCodeAlphabet is RFC 8628 §6.1's example character set: "base-20
// alphabet ("BCDFGHJKLMNPQRSTVWXZ")". 8 characters give 20^8 ≈ 2^34.6
// codes, which with the short lifetime and the rate limit on entry (RFC 8628
// §5.1) leaves a brute-force attacker no useful chance.
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLen is the number of characters of a user code.
const UserCodeLen = 8

// NewUserCode returns a uniformly random user code, without separator.
func NewUserCode() string {
	var out [UserCodeLen]byte
	var buf [32]byte
	n := 0
	for n < UserCodeLen {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("oauth: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 240 = 12 × 20: rejecting the bytes above keeps the draw uniform.
			if b >= 240 || n == UserCodeLen {
				continue
			}
			out[n] = UserCodeAlphabet[b%20]
			n++
		}
	}
	return string(out[:])
}

// FormatUserCode shows a user code as the person reads it: XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != UserCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NormalizeUserCode turns what a person typed into the stored form of a
// user code: upper case, dashes and white space dropped (RFC 8628 §6.1:
// "the authorization server should be case insensitive when comparing the
// user code" and should ignore the punctuation it added). ok is false when
// the result cannot be a user code (wrong length or character), so no
// look-up is needed.
func NormalizeUserCode(s string) (code string, ok bool) {
	if len(s) > 4*UserCodeLen {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\u00a0' || r == '\u2010' || r == '\u2011' || r == '\u2013':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if r > 'Z' || !strings.ContainsRune(UserCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != UserCodeLen {
		return "", false
	}
	return b.String(), true
}
