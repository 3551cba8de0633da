package token

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ErrInvalidToken is wrapped by every verification failure. The wrapped
// message says why (for logs); it never contains the token.
var ErrInvalidToken = errors.New("invalid token")

// ErrExpired is wrapped by the failure of a token that is ours and
// otherwise valid but past its exp, so callers can say "expired" instead of
// "invalid". It wraps ErrInvalidToken.
var ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// maxTokenLen bounds the input before any parsing or base64 decoding.
const maxTokenLen = 16 << 10

// verifySignature checks everything about a compact JWS up to and including
// its signature, and returns the verified payload:
//   - the alg is one of ES256, RS256, EdDSA (the parser refuses any other,
//     "none" and HS256 included, before a key is chosen);
//   - typ is accepted by typOK;
//   - kid names a published key of this use, and alg is that key's algorithm,
//     so the key decides the algorithm, never the token;
//   - the signature verifies with that key.
func (m *KeyManager) verifySignature(ctx context.Context, raw, use string, typOK func(string) bool) ([]byte, *key, error) {
	if len(raw) > maxTokenLen {
		return nil, nil, invalid("token longer than %d bytes", maxTokenLen)
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		return nil, nil, invalid("malformed JWS: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, nil, invalid("want one signature")
	}
	h := jws.Signatures[0].Protected
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !typOK(typ) {
		return nil, nil, invalid("typ header %q not accepted", typ)
	}
	if h.KeyID == "" {
		return nil, nil, invalid("no kid header")
	}
	st, err := m.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	k := m.lookup(ctx, st, h.KeyID)
	if k == nil {
		return nil, nil, invalid("unknown kid")
	}
	if k.use != use {
		return nil, nil, invalid("kid is a %s key, not a %s key", k.use, use)
	}
	if h.Algorithm != k.alg {
		return nil, nil, invalid("alg %s does not match the key's %s", h.Algorithm, k.alg)
	}
	if !k.published(m.cfg.Now()) {
		return nil, nil, invalid("signing key no longer published")
	}
	payload, err := jws.Verify(k.public)
	if err != nil {
		return nil, nil, invalid("bad signature")
	}
	return payload, k, nil
}

// accessTyp implements RFC 9068 §4: "Resource servers MUST verify that the typ
// header value is "at+jwt" or "application/at+jwt" and reject tokens carrying
// any other value." Media type names are case-insensitive (RFC 7515 §4.1.9).
func accessTyp(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// idTyp accepts the "JWT" typ this server puts on ID tokens (RFC 7519 §5.1),
// and so refuses an access token ("at+jwt") offered as an ID token.
func idTyp(typ string) bool {
	return strings.EqualFold(typ, "JWT") || strings.EqualFold(typ, "application/jwt")
}
