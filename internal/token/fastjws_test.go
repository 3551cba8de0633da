package token

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestFastES256SameAsGoJose: the fast access-token signer writes the same
// header and claims bytes as go-jose and encoding/json, and its tokens verify
// with go-jose and with VerifyAccess; strings needing escaping fall back to
// encoding/json.
func TestFastES256SameAsGoJose(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	st, err := f.m.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := st.signing[UseAccess]
	if k.fast == nil {
		t.Fatal("no fast signer for the ES256 access key")
	}
	now := f.clk.Now()
	base := f.access()
	cases := map[string]func(c *AccessClaims){
		"default":       func(*AccessClaims) {},
		"two audiences": func(c *AccessClaims) { c.Audience = []string{"https://a.example.com", "https://b.example.com"} },
		"no auth_time":  func(c *AccessClaims) { c.AuthTime = time.Time{} },
		"no scope":      func(c *AccessClaims) { c.Scope = "" },
		"unicode scope": func(c *AccessClaims) { c.Scope = "perfil añadir" },
		"quote in sub":  func(c *AccessClaims) { c.Subject = `a"b<c>&` },
		"client grant":  func(c *AccessClaims) { c.GrantType = "client_credentials"; c.Subject = ""; c.GrantID = "" },
		"fractional iat": func(c *AccessClaims) {
			c.IssuedAt = now.Add(1500 * time.Millisecond)
			c.ExpiresAt = c.IssuedAt.Add(time.Minute)
		},
	}
	for name, mut := range cases {
		c := base
		mut(&c)
		raw, err := f.m.MintAccess(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("%s: %q", name, raw)
		}
		// Header: what go-jose's signer writes for this key.
		ref, err := k.signer.Sign([]byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		refRaw, _ := ref.CompactSerialize()
		if h := strings.Split(refRaw, ".")[0]; h != parts[0] {
			t.Errorf("%s: header %s, go-jose writes %s", name, parts[0], h)
		}
		// Verifies with go-jose directly and with VerifyAccess.
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		payload, err := jws.Verify(k.public)
		if err != nil {
			t.Fatalf("%s: go-jose verify: %v", name, err)
		}
		var w accessWire
		if err := json.Unmarshal(payload, &w); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(&w)
		if string(payload) != string(want) {
			t.Errorf("%s: claims\n%s\nencoding/json writes\n%s", name, payload, want)
		}
		got, err := f.m.VerifyAccess(ctx, raw, c.Issuer, c.Audience)
		if err != nil {
			t.Fatalf("%s: VerifyAccess: %v", name, err)
		}
		if got.Scope != c.Scope || got.GrantID != c.GrantID || got.JTI != c.JTI || !got.ExpiresAt.Equal(c.ExpiresAt.Truncate(time.Second)) {
			t.Errorf("%s: claims %+v", name, got)
		}
	}
	// The fast encoder itself matches encoding/json when it accepts.
	w := &accessWire{Issuer: "https://i", Subject: "s", Audience: jwt.Audience{"a"}, Expiry: jwt.NewNumericDate(now),
		IssuedAt: jwt.NewNumericDate(now), JTI: "j", ClientID: "c", GrantID: "g", GrantType: "password", AuthTime: jwt.NewNumericDate(now)}
	b, ok := appendAccessClaims(nil, w)
	want, _ := json.Marshal(w)
	if !ok || string(b) != string(want) {
		t.Errorf("appendAccessClaims %s, %v; encoding/json %s", b, ok, want)
	}
}
