package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/go-jose/go-jose/v4/jwt"
)

// fastES256 signs tokens with an ES256 key without going through go-jose's
// generic signer: the protected header is encoded once per key. For access
// tokens the claims are also written without reflection when every string
// in them is plain printable ASCII (otherwise encoding/json writes them); ID
// tokens, whose Extra claims are arbitrary, come encoded by encoding/json.
// The output is the same compact JWS go-jose produces (same header bytes,
// same claims bytes, r||s signature, RFC 7518 §3.4), verified by the same
// code. Minting is the bulk of a client_credentials request.
type fastES256 struct {
	priv   *ecdsa.PrivateKey
	header string // base64url of the protected header, then "."
}

func newFastES256(priv *ecdsa.PrivateKey, kid, typ string) (*fastES256, error) {
	// The header go-jose writes: its keys in sorted order.
	h, err := json.Marshal(map[string]string{"alg": ES256, "kid": kid, "typ": typ})
	if err != nil {
		return nil, err
	}
	return &fastES256{priv: priv, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

// sign returns the compact JWS of payload.
func (f *fastES256) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	n := len(f.header) + enc.EncodedLen(len(payload))
	buf := make([]byte, 0, n+1+enc.EncodedLen(64))
	buf = append(buf, f.header...)
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	r, s, err := ecdsa.Sign(rand.Reader, f.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// plainASCII reports whether s needs no escaping in JSON (printable ASCII,
// no quote, backslash or HTML-sensitive character encoding/json escapes).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendAccessClaims writes w as encoding/json would (same field order and
// omissions), or reports false when a string needs escaping.
func appendAccessClaims(b []byte, w *accessWire) ([]byte, bool) {
	for _, s := range []string{w.Issuer, w.Subject, w.JTI, w.ClientID, w.Scope, w.GrantID, w.GrantType} {
		if !plainASCII(s) {
			return nil, false
		}
	}
	for _, s := range w.Audience {
		if !plainASCII(s) {
			return nil, false
		}
	}
	if w.Expiry == nil || w.IssuedAt == nil || w.NotBefore != nil || len(w.Audience) == 0 {
		return nil, false
	}
	str := func(b []byte, k, v string) []byte {
		b = append(b, `,"`...)
		b = append(b, k...)
		b = append(b, `":"`...)
		b = append(b, v...)
		return append(b, '"')
	}
	num := func(b []byte, k string, d *jwt.NumericDate) []byte {
		b = append(b, `,"`...)
		b = append(b, k...)
		b = append(b, `":`...)
		return strconv.AppendInt(b, int64(*d), 10)
	}
	b = append(b, `{"iss":"`...)
	b = append(b, w.Issuer...)
	b = append(b, '"')
	b = str(b, "sub", w.Subject)
	if len(w.Audience) == 1 {
		b = str(b, "aud", w.Audience[0])
	} else {
		b = append(b, `,"aud":[`...)
		for i, a := range w.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, a...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	b = num(b, "exp", w.Expiry)
	b = num(b, "iat", w.IssuedAt)
	b = str(b, "jti", w.JTI)
	b = str(b, "client_id", w.ClientID)
	if w.Scope != "" {
		b = str(b, "scope", w.Scope)
	}
	if w.AuthTime != nil {
		b = num(b, "auth_time", w.AuthTime)
	}
	if w.GrantID != "" {
		b = str(b, "gid", w.GrantID)
	}
	if w.GrantType != "" {
		b = str(b, "grant_type", w.GrantType)
	}
	return append(b, '}'), true
}
