package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/multinexo/auth/internal/store"
)

func TestAccessRoundTrip(t *testing.T) {
	f := newFixture(t)
	want := f.access()
	raw := f.mintAccess(t)

	h := headerOf(t, raw)
	if h["typ"] != "at+jwt" || h["alg"] != ES256 || h["kid"] != f.m.state.Load().signing[UseAccess].id {
		t.Errorf("header %v", h)
	}
	p := payloadOf(t, raw)
	for name, v := range map[string]any{
		"iss": testIss, "sub": "user-1", "aud": "https://api.example.com", "client_id": "client-1",
		"scope": "openid profile", "jti": "jti-1", "gid": "grant-1", "grant_type": "authorization_code",
		"iat": float64(want.IssuedAt.Unix()), "exp": float64(want.ExpiresAt.Unix()),
		"auth_time": float64(want.AuthTime.Unix()),
	} {
		if p[name] != v {
			t.Errorf("claim %s = %v, want %v", name, p[name], v)
		}
	}
	if _, ok := p["nbf"]; ok {
		t.Error("nbf minted")
	}

	got, err := f.m.VerifyAccess(t.Context(), raw, testIss, []string{"other", "https://api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.ClientID != want.ClientID ||
		got.Scope != want.Scope || got.GrantID != want.GrantID || got.GrantType != want.GrantType ||
		got.JTI != want.JTI || len(got.Audience) != 1 || got.Audience[0] != want.Audience[0] ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.AuthTime.Equal(want.AuthTime) {
		t.Errorf("claims\n got %+v\nwant %+v", *got, want)
	}
}

func TestAccessDefaults(t *testing.T) {
	f := newFixture(t)
	c := AccessClaims{
		Issuer: testIss, ClientID: "svc", GrantType: store.GrantClientCredentials,
		Audience: []string{"a", "b"}, ExpiresAt: f.clk.Now().Add(time.Minute),
	}
	raw, err := f.m.MintAccess(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	p := payloadOf(t, raw)
	if p["sub"] != "svc" || len(p["jti"].(string)) != 32 || p["iat"] != float64(f.clk.Now().Unix()) {
		t.Errorf("defaults: %v", p)
	}
	if _, ok := p["auth_time"]; ok {
		t.Error("zero auth_time minted")
	}
	if _, ok := p["scope"]; ok {
		t.Error("empty scope minted")
	}
	got, err := f.m.VerifyAccess(t.Context(), raw, testIss, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.AuthTime.IsZero() || len(got.Audience) != 2 {
		t.Errorf("claims %+v", got)
	}

	for name, mut := range map[string]func(*AccessClaims){
		"no issuer":   func(c *AccessClaims) { c.Issuer = "" },
		"no subject":  func(c *AccessClaims) { c.Subject = "" },
		"no client":   func(c *AccessClaims) { c.ClientID = "" },
		"no audience": func(c *AccessClaims) { c.Audience = nil },
		"no expiry":   func(c *AccessClaims) { c.ExpiresAt = time.Time{} },
	} {
		c := f.access()
		mut(&c)
		if _, err := f.m.MintAccess(t.Context(), c); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
}

func TestAccessRejects(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	raw := f.mintAccess(t)
	parts := strings.Split(raw, ".")
	priv, kid := f.privateKey(t, UseAccess)
	pubJSON := f.record(t, UseAccess).Public
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])

	// A validly signed token from another key carrying the real kid.
	otherKey, _ := generateKey(ES256)
	// An HS256 token keyed with the public key, the classic algorithm
	// confusion attack.
	hsInput := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"`+kid+`"}`)) + "." + parts[1]
	mac := hmac.New(sha256.New, pubJSON)
	mac.Write([]byte(hsInput))
	hs := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	tampered := func() string {
		var p map[string]any
		_ = json.Unmarshal(claims, &p)
		p["sub"] = "admin"
		b, _ := json.Marshal(p)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+kid+`"}`)) + "." + parts[1] + "."
	idToken, err := f.m.MintID(ctx, f.id())
	if err != nil {
		t.Fatal(err)
	}
	idPriv, idKid := f.privateKey(t, UseID)

	for name, tc := range map[string]struct {
		raw, reason string
	}{
		"tampered payload":     {tampered, "bad signature"},
		"tampered signature":   {raw[:len(raw)-4] + "AAAA", "bad signature"},
		"alg none":             {none, "malformed"},
		"HS256 with pub key":   {hs, "malformed"},
		"other key same kid":   {sign(t, jose.ES256, otherKey, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": kid}, claims), "bad signature"},
		"typ JWT":              {sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": "JWT", "kid": kid}, claims), "typ"},
		"no typ":               {sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"kid": kid}, claims), "typ"},
		"no kid":               {sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": "at+jwt"}, claims), "kid"},
		"ID token":             {idToken, "typ"},
		"id key, at+jwt typ":   {sign(t, jose.RS256, idPriv.Key, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": idKid}, claims), "not a access key"},
		"RS256 on an ES key":   {sign(t, jose.RS256, idPriv.Key, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": kid}, claims), "does not match"},
		"garbage":              {"not.a.token", "malformed"},
		"empty":                {"", "malformed"},
		"too long":             {raw + strings.Repeat("A", maxTokenLen), "longer"},
		"JSON serialization":   {`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, "malformed"},
		"claims not an object": {sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": kid}, []byte(`[1]`)), "claims"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.m.VerifyAccess(ctx, tc.raw, testIss, nil)
			wantInvalid(t, err, tc.reason)
		})
	}

	// Accepted typ spellings (RFC 9068 §4; media types are case-insensitive).
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"} {
		tok := sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": typ, "kid": kid}, claims)
		if _, err := f.m.VerifyAccess(ctx, tok, testIss, nil); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

func TestAccessClaimChecks(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	priv, kid := f.privateKey(t, UseAccess)
	now := f.clk.Now()
	signClaims := func(mut func(map[string]any)) string {
		p := map[string]any{
			"iss": testIss, "sub": "u", "aud": "api", "client_id": "c", "jti": "j",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}
		mut(p)
		b, _ := json.Marshal(p)
		return sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": kid}, b)
	}
	if _, err := f.m.VerifyAccess(ctx, signClaims(func(map[string]any) {}), testIss, []string{"api"}); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	for name, tc := range map[string]struct {
		mut    func(map[string]any)
		reason string
	}{
		"wrong iss":        {func(p map[string]any) { p["iss"] = "https://evil.example.com" }, "iss"},
		"iss with slash":   {func(p map[string]any) { p["iss"] = testIss + "/" }, "iss"},
		"no iss":           {func(p map[string]any) { delete(p, "iss") }, "iss"},
		"wrong aud":        {func(p map[string]any) { p["aud"] = "other" }, "aud"},
		"aud array":        {func(p map[string]any) { p["aud"] = []string{"x", "y"} }, "aud"},
		"no aud":           {func(p map[string]any) { delete(p, "aud") }, "aud"},
		"no exp":           {func(p map[string]any) { delete(p, "exp") }, "exp"},
		"exp now-leeway":   {func(p map[string]any) { p["exp"] = now.Add(-ClockLeeway).Unix() }, "expired"},
		"exp past":         {func(p map[string]any) { p["exp"] = now.Add(-ClockLeeway - time.Second).Unix() }, "expired"},
		"exp string":       {func(p map[string]any) { p["exp"] = "never" }, "claims"},
		"no iat":           {func(p map[string]any) { delete(p, "iat") }, "iat"},
		"iat future":       {func(p map[string]any) { p["iat"] = now.Add(ClockLeeway + time.Second).Unix() }, "future"},
		"nbf future":       {func(p map[string]any) { p["nbf"] = now.Add(ClockLeeway + time.Second).Unix() }, "not valid yet"},
		"no sub":           {func(p map[string]any) { delete(p, "sub") }, "sub"},
		"no client_id":     {func(p map[string]any) { delete(p, "client_id") }, "client_id"},
		"no jti":           {func(p map[string]any) { delete(p, "jti") }, "jti"},
		"sub not a string": {func(p map[string]any) { p["sub"] = 7 }, "claims"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.m.VerifyAccess(ctx, signClaims(tc.mut), testIss, []string{"api"})
			wantInvalid(t, err, tc.reason)
		})
	}
	// Skew up to ClockLeeway is tolerated on exp, nbf and iat alike (a
	// token minted by an instance whose clock is ahead or behind ours); an
	// empty aud list skips the check.
	for name, mut := range map[string]func(map[string]any){
		"iat ahead": func(p map[string]any) { p["iat"] = now.Add(ClockLeeway).Unix() },
		"nbf ahead": func(p map[string]any) { p["nbf"] = now.Add(ClockLeeway).Unix() },
		"exp just past": func(p map[string]any) {
			p["iat"] = now.Add(-time.Minute).Unix()
			p["exp"] = now.Add(-ClockLeeway + time.Second).Unix()
		},
	} {
		if _, err := f.m.VerifyAccess(ctx, signClaims(mut), testIss, nil); err != nil {
			t.Errorf("%s within ClockLeeway: %v", name, err)
		}
	}
}

func TestAccessExpiry(t *testing.T) {
	f := newFixture(t)
	raw := f.mintAccess(t) // expires in 15 minutes
	f.clk.Advance(15*time.Minute + ClockLeeway - time.Second)
	if _, err := f.m.VerifyAccess(t.Context(), raw, testIss, nil); err != nil {
		t.Fatalf("a second before exp + ClockLeeway: %v", err)
	}
	f.clk.Advance(time.Second)
	_, err := f.m.VerifyAccess(t.Context(), raw, testIss, nil)
	wantInvalid(t, err, "expired")
}
