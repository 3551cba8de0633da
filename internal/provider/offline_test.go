package provider

import (
	"testing"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// TestOfflineAccess: offline_access means what the consent page says. A
// client registered with offline_access_required gets a refresh token from
// the authorization-code and device flows only when offline_access was
// granted (OpenID Connect Core §11); a client registered without it keeps
// the Multinexo behaviour (a refresh token with every authorization, which
// the consent page says); client credentials never get one.
func TestOfflineAccess(t *testing.T) {
	e := newEnv(t)
	const cb = "https://app.example.com/cb"
	mk := func(name string, grants []string, strict bool) testClient {
		c, secret, err := clients.Create(e.ctx, e.st, clients.CreateInput{Name: name, Grants: grants, RedirectURIs: []string{cb},
			OfflineAccessRequired: strict}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return testClient{c.ID, secret}
	}
	code := func(c testClient, scopes ...string) *resp {
		t.Helper()
		raw := token.NewOpaque(token.PrefixCode)
		now := e.clk.Now()
		if err := e.st.CreateAuthCode(e.ctx, &store.AuthCode{Hash: store.HashToken(raw), ClientID: c.id, UserID: e.user.ID, RedirectURI: cb,
			Scopes: scopes, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		r := e.redeem(c, raw, cb, "")
		if r.status != 200 || r.str("access_token") == "" {
			t.Fatalf("code exchange: %d %s", r.status, r.raw)
		}
		return r
	}
	before := e.counts()

	strict := mk("estricta", []string{store.GrantAuthorizationCode, store.GrantRefreshToken}, true)
	if r := code(strict, "openid", "profile"); r.str("refresh_token") != "" {
		t.Errorf("strict client without offline_access got a refresh token: %s", r.raw)
	}
	if got := e.counts(); got[1] != before[1] {
		t.Errorf("a refresh token row was stored although none was sent: %v -> %v", before, got)
	}
	r := code(strict, "openid", "offline_access")
	if r.str("refresh_token") == "" {
		t.Fatalf("strict client with offline_access: no refresh token: %s", r.raw)
	}
	if rr := e.refresh(strict, r.str("refresh_token"), ""); rr.status != 200 {
		t.Errorf("its refresh token: %d %s", rr.status, rr.raw)
	}

	// Seed 003's clients: a refresh token with every code.
	if r := code(e.code, "openid"); r.str("refresh_token") == "" {
		t.Errorf("default client: no refresh token: %s", r.raw)
	}

	// The device flow follows the same rule for a client given refresh_token.
	tv := mk("tv", []string{store.GrantDeviceCode, store.GrantRefreshToken}, true)
	for _, tc := range []struct {
		scope string
		want  bool
	}{{"openid", false}, {"openid offline_access", true}} {
		d := e.authorizeDevice(t, tv, tc.scope)
		e.decide(t, d.str("user_code"), true)
		p := e.pollDevice(tv, d.str("device_code"))
		if p.status != 200 || (p.str("refresh_token") != "") != tc.want {
			t.Errorf("device %q: %d %s, want refresh token %v", tc.scope, p.status, p.raw, tc.want)
		}
	}

	// Client credentials: never (RFC 6749 §4.4.3).
	cc := e.form(PathToken, map[string][]string{"grant_type": {"client_credentials"}}, "Authorization", basic(e.cc.id, e.cc.secret))
	if cc.status != 200 || cc.str("refresh_token") != "" {
		t.Errorf("client credentials: %d %s", cc.status, cc.raw)
	}
}
