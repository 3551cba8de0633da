package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func (f *fixture) id() IDClaims {
	now := f.clk.Now()
	return IDClaims{
		Issuer: testIss, Subject: "user-1", Audience: "client-1", Nonce: "n-0S6_WzA2Mj",
		IssuedAt: now, ExpiresAt: now.Add(15 * time.Minute), AuthTime: now.Add(-time.Minute),
		Extra: map[string]any{"email": "ana@example.com", "email_verified": true, "given_name": "Ana"},
	}
}

func TestHalfHash(t *testing.T) {
	// SHA-256("") = 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; its left half:
	if got, _ := HalfHash(RS256, ""); got != "47DEQpj8HBSa-_TImW-5JA" {
		t.Errorf("HalfHash(RS256, \"\") = %s", got)
	}
	const at = "jHkWEdUXMU1BwAsC4vtUsZwnNzTsy2fC"
	s256 := sha256.Sum256([]byte(at))
	s512 := sha512.Sum512([]byte(at))
	s384 := sha512.Sum384([]byte(at))
	for alg, want := range map[string][]byte{
		RS256: s256[:16], ES256: s256[:16], EdDSA: s512[:32], "RS512": s512[:32], "ES384": s384[:24],
	} {
		got, err := HalfHash(alg, at)
		if err != nil || got != base64.RawURLEncoding.EncodeToString(want) {
			t.Errorf("HalfHash(%s) = %s, %v", alg, got, err)
		}
	}
	if _, err := HalfHash("none", at); err == nil {
		t.Error("HalfHash(none) succeeded")
	}
}

func TestIDRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	access := f.mintAccess(t)
	c := f.id()
	c.AccessToken = access
	c.Code = NewOpaque(PrefixCode)
	raw, err := f.m.MintID(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	h := headerOf(t, raw)
	if h["typ"] != "JWT" || h["alg"] != RS256 || h["kid"] != f.m.state.Load().signing[UseID].id {
		t.Errorf("header %v", h)
	}
	p := payloadOf(t, raw)
	atHash := sha256.Sum256([]byte(access))
	cHash := sha256.Sum256([]byte(c.Code))
	for name, v := range map[string]any{
		"iss": testIss, "sub": "user-1", "aud": "client-1", "nonce": c.Nonce,
		"iat": float64(c.IssuedAt.Unix()), "exp": float64(c.ExpiresAt.Unix()), "auth_time": float64(c.AuthTime.Unix()),
		"at_hash": base64.RawURLEncoding.EncodeToString(atHash[:16]),
		"c_hash":  base64.RawURLEncoding.EncodeToString(cHash[:16]),
		"email":   "ana@example.com", "email_verified": true,
	} {
		if p[name] != v {
			t.Errorf("claim %s = %v, want %v", name, p[name], v)
		}
	}

	// id_token_hint may be expired: VerifyID does not check exp.
	f.clk.Advance(24 * time.Hour)
	got, err := f.m.VerifyID(ctx, raw, testIss)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-1" || got.Audience != "client-1" || got.Nonce != c.Nonce ||
		!got.ExpiresAt.Equal(c.ExpiresAt) || !got.IssuedAt.Equal(c.IssuedAt) || !got.AuthTime.Equal(c.AuthTime) ||
		got.Extra["given_name"] != "Ana" || got.Extra["email_verified"] != true {
		t.Errorf("claims %+v", got)
	}
	for _, reg := range []string{"iss", "exp", "at_hash", "c_hash", "nonce"} {
		if _, ok := got.Extra[reg]; ok {
			t.Errorf("Extra has registered claim %s", reg)
		}
	}
}

func TestIDRejects(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	raw, err := f.m.MintID(ctx, f.id())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	accessPriv, accessKid := f.privateKey(t, UseAccess)
	other, _ := generateKey(RS256)
	_, idKid := f.privateKey(t, UseID)

	for name, tc := range map[string]struct{ raw, reason string }{
		"access token":        {f.mintAccess(t), "typ"},
		"access key, JWT typ": {sign(t, jose.ES256, accessPriv.Key, map[jose.HeaderKey]any{"typ": "JWT", "kid": accessKid}, claims), "not a id key"},
		"other key same kid":  {sign(t, jose.RS256, other, map[jose.HeaderKey]any{"typ": "JWT", "kid": idKid}, claims), "bad signature"},
		"tampered":            {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), "user-1", "user-2", 1))) + "." + parts[2], "bad signature"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.m.VerifyID(ctx, tc.raw, testIss)
			wantInvalid(t, err, tc.reason)
		})
	}
	_, err = f.m.VerifyID(ctx, raw, "https://other.example.com")
	wantInvalid(t, err, "iss")

	c := f.id()
	c.Extra = map[string]any{"sub": "admin"}
	if _, err := f.m.MintID(ctx, c); err == nil {
		t.Error("Extra overrode sub")
	}
	c = f.id()
	c.Audience = ""
	if _, err := f.m.MintID(ctx, c); err == nil {
		t.Error("minted without aud")
	}
}
