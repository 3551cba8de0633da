package token

import (
	"crypto/sha256"
	"errors"
	"testing"
)

// TestVerifiedCache: a token's claims are cached after its signature is
// verified, but every call still checks issuer, audience and expiry, a
// modified token never finds the cached entry, and a key that is no longer
// published stops its cached tokens too.
func TestVerifiedCache(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	raw := f.mintAccess(t)
	aud := f.access().Audience
	for i := range 3 {
		if _, err := f.m.VerifyAccess(ctx, raw, testIss, aud); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, ok := f.m.verified.get(sumOf(raw)); !ok {
		t.Fatal("verified token not cached")
	}
	for name, tc := range map[string]struct {
		raw, iss string
		aud      []string
	}{
		"other issuer":    {raw, "https://other.example.com", aud},
		"other audience":  {raw, testIss, []string{"https://elsewhere.example.com"}},
		"signature":       {raw[:len(raw)-10] + flip(raw[len(raw)-10]) + raw[len(raw)-9:], testIss, aud},
		"payload changed": {raw[:40] + flip(raw[40]) + raw[41:], testIss, aud},
	} {
		if _, err := f.m.VerifyAccess(ctx, tc.raw, tc.iss, tc.aud); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := f.m.VerifyAccess(ctx, raw, testIss, aud); err != nil {
		t.Fatalf("the cached token itself: %v", err)
	}
	// Expiry is checked on every call, cached or not.
	c := f.access()
	f.clk.Advance(c.ExpiresAt.Sub(c.IssuedAt) + ClockLeeway)
	if _, err := f.m.VerifyAccess(ctx, raw, testIss, aud); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired cached token: %v", err)
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

func sumOf(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }
