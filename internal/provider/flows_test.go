package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/token"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// newCode stores an authorization code as the authorization endpoint would.
func (e *env) newCode(t *testing.T, c testClient, redirect, challenge string) string {
	t.Helper()
	raw := token.NewOpaque(token.PrefixCode)
	now := e.clk.Now()
	ac := &store.AuthCode{Hash: store.HashToken(raw), ClientID: c.id, UserID: e.user.ID, RedirectURI: redirect,
		Scopes: []string{"openid", "email"}, Nonce: "n-0S6_WzA2Mj", AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: now.Add(60 * time.Second)}
	if challenge != "" {
		ac.CodeChallenge, ac.CodeChallengeMethod = challenge, "S256"
	}
	if err := e.st.CreateAuthCode(e.ctx, ac); err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) redeem(c testClient, code, redirect, verifier string) *resp {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "client_id": {c.id}}
	if c.secret != "" {
		v.Set("client_secret", c.secret)
	}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	return e.form(PathToken, v)
}

func TestAuthorizationCode(t *testing.T) {
	e := newEnv(t)
	const cb = "https://app.example.com/cb"

	t.Run("redeem then replay", func(t *testing.T) {
		e.t = t
		code := e.newCode(t, e.code, cb, challengeOf(verifier))
		r := e.redeem(e.code, code, cb, verifier)
		if r.status != 200 || r.str("refresh_token") == "" || r.str("scope") != "openid email" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		id, err := e.keys.VerifyID(e.ctx, r.str("id_token"), e.issuer)
		if err != nil || id.Nonce != "n-0S6_WzA2Mj" || id.Audience != e.code.id || id.Extra["email"] != e.email {
			t.Fatalf("id token %+v %v", id, err)
		}
		// RFC 6749 §4.1.2: a replay is refused and revokes what the code issued.
		wantOAuthError(t, e.redeem(e.code, code, cb, verifier), 400, "invalid_grant")
		if err := e.bearer(r.str("access_token")); err == nil {
			t.Error("access token survived a code replay")
		}
		wantOAuthError(t, e.refresh(e.code, r.str("refresh_token"), ""), 400, "invalid_grant")
	})

	checks := []struct {
		name      string
		client    func() testClient
		challenge string
		redirect  string
		verifier  string
	}{
		{"wrong redirect_uri", func() testClient { return e.code }, challengeOf(verifier), "https://app.example.com/other", verifier},
		{"missing redirect_uri", func() testClient { return e.code }, challengeOf(verifier), "", verifier},
		{"wrong verifier", func() testClient { return e.code }, challengeOf(verifier), cb, strings.Repeat("a", 43)},
		{"missing verifier", func() testClient { return e.code }, challengeOf(verifier), cb, ""},
		{"verifier without challenge", func() testClient { return e.code }, "", cb, verifier},
		{"malformed verifier", func() testClient { return e.code }, challengeOf(verifier), cb, "short"},
		{"public client without PKCE", func() testClient { return e.pkce }, "", "http://127.0.0.1/cb", ""},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			c := tt.client()
			redirect := tt.redirect
			stored := cb
			if c == e.pkce {
				stored = "http://127.0.0.1/cb"
			}
			code := e.newCode(t, c, stored, tt.challenge)
			live := e.liveGrants(t)
			wantOAuthError(t, e.redeem(c, code, redirect, tt.verifier), 400, "invalid_grant")
			// The redemption may have written a grant row, but it must have
			// been revoked before the answer.
			if n := e.liveGrants(t); n != live {
				t.Errorf("live grants %d → %d on an error", live, n)
			}
			// And the code is spent — except when the request was refused
			// before the store was asked (a malformed verifier).
			if tt.name != "malformed verifier" {
				wantOAuthError(t, e.redeem(c, code, stored, verifier), 400, "invalid_grant")
			}
		})
	}

	t.Run("another client's code", func(t *testing.T) {
		e.t = t
		other := e.newClient(t, "other", store.ClientConfidential, []string{store.GrantAuthorizationCode})
		code := e.newCode(t, e.code, cb, challengeOf(verifier))
		before := e.counts()
		wantOAuthError(t, e.redeem(other, code, cb, verifier), 400, "invalid_grant")
		if e.counts() != before {
			t.Error("rows written")
		}
		// The code was not burnt: its own client still redeems it.
		if r := e.redeem(e.code, code, cb, verifier); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})

	t.Run("expired code", func(t *testing.T) {
		e.t = t
		code := e.newCode(t, e.code, cb, "")
		e.clk.Advance(61 * time.Second)
		before := e.counts()
		wantOAuthError(t, e.redeem(e.code, code, cb, ""), 400, "invalid_grant")
		if e.counts() != before {
			t.Error("rows written")
		}
	})

	t.Run("public client with PKCE", func(t *testing.T) {
		e.t = t
		code := e.newCode(t, e.pkce, "http://127.0.0.1/cb", challengeOf(verifier))
		if r := e.redeem(e.pkce, code, "http://127.0.0.1/cb", verifier); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}

// liveGrants counts grants not revoked.
func (e *env) liveGrants(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.raw.QueryRow("SELECT count(*) FROM grants WHERE revoked_at = 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestVerifyBearer(t *testing.T) {
	e := newEnv(t)
	login := e.passwordLogin(e.pw, "openid profile email")
	at := login.str("access_token")

	mk := func(method, target, body string, hdr ...string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	form := "application/x-www-form-urlencoded"
	ok := []struct {
		name string
		req  *http.Request
	}{
		{"header", mk("GET", "/x", "", "Authorization", "Bearer "+at)},
		{"lower-case scheme", mk("GET", "/x", "", "Authorization", "bearer "+at)},
		{"query", mk("GET", "/x?access_token="+at, "")},
		{"form body", mk("POST", "/x", "access_token="+at, "Content-Type", form)},
	}
	for _, tt := range ok {
		acc, err := e.p.VerifyBearer(tt.req)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if acc.UserID != e.user.ID || acc.ClientID != e.pw.id || acc.GrantID == "" || !acc.HasScope("email") || acc.JTI == "" {
			t.Errorf("%s: %+v", tt.name, acc)
		}
	}

	// Tampered tokens.
	parts := strings.Split(at, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	claims["scope"] = "openid profile email admin"
	changed, _ := json.Marshal(claims)
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + parts[2]
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
	algNone := noneHeader + "." + parts[1] + "."
	hsHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt"}`))
	algHS := hsHeader + "." + parts[1] + "." + parts[2]
	wrongKey := foreignToken(t, e, claims)

	bad := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"missing", mk("GET", "/x", ""), 401, ""},
		{"basic is not bearer", mk("GET", "/x", "", "Authorization", "Basic eDp5"), 401, ""},
		{"empty bearer", mk("GET", "/x", "", "Authorization", "Bearer "), 401, "invalid_token"},
		{"garbage", mk("GET", "/x", "", "Authorization", "Bearer abc.def.ghi"), 401, "invalid_token"},
		{"changed payload", mk("GET", "/x", "", "Authorization", "Bearer "+tamperedPayload), 401, "invalid_token"},
		{"alg none", mk("GET", "/x", "", "Authorization", "Bearer "+algNone), 401, "invalid_token"},
		{"alg HS256", mk("GET", "/x", "", "Authorization", "Bearer "+algHS), 401, "invalid_token"},
		{"wrong key", mk("GET", "/x", "", "Authorization", "Bearer "+wrongKey), 401, "invalid_token"},
		{"id token as access token", mk("GET", "/x", "", "Authorization", "Bearer "+login.str("id_token")), 401, "invalid_token"},
		{"refresh token as access token", mk("GET", "/x", "", "Authorization", "Bearer "+login.str("refresh_token")), 401, "invalid_token"},
		{"header and query", mk("GET", "/x?access_token="+at, "", "Authorization", "Bearer "+at), 400, "invalid_request"},
		{"query twice", mk("GET", "/x?access_token="+at+"&access_token="+at, ""), 400, "invalid_request"},
		{"header and form", mk("POST", "/x", "access_token="+at, "Content-Type", form, "Authorization", "Bearer "+at), 400, "invalid_request"},
	}
	for _, tt := range bad {
		_, err := e.p.VerifyBearer(tt.req)
		be := asBearer(t, err)
		if be == nil {
			t.Errorf("%s: error %v", tt.name, err)
			continue
		}
		if be.Status != tt.status || be.Code != tt.code {
			t.Errorf("%s: %d %q, want %d %q", tt.name, be.Status, be.Code, tt.status, tt.code)
		}
	}

	// Expiry, with the injected clock.
	e.clk.Advance(901*time.Second + token.ClockLeeway)
	if be := asBearer(t, e.bearer(at)); be == nil || be.Code != "invalid_token" {
		t.Errorf("expired token: %v", be)
	}
}

func asBearer(t *testing.T, err error) *oauth.BearerError {
	t.Helper()
	var be *oauth.BearerError
	if err == nil || !errorsAs(err, &be) {
		return nil
	}
	return be
}

// foreignToken mints claims with keys from another store: a well-formed
// token, with our issuer and grant, signed by a key we never published.
func foreignToken(t *testing.T, e *env, claims map[string]any) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(e.ctx); err != nil {
		t.Fatal(err)
	}
	km, err := token.NewKeyManager(st, token.KeyConfig{Secret: testSecret, MaxTokenTTL: time.Hour, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Ensure(e.ctx); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	raw, err := km.MintAccess(e.ctx, token.AccessClaims{Issuer: e.issuer, Subject: e.user.ID, ClientID: e.pw.id,
		Scope: "openid", GrantID: claims["gid"].(string), Audience: []string{e.issuer}, IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRevocationIsImmediate(t *testing.T) {
	e := newEnv(t)
	a := e.passwordLogin(e.pw, "openid")
	b := e.passwordLogin(e.pw, "openid")
	c := e.passwordLogin(e.pw, "openid")
	other := e.newClient(t, "other", store.ClientConfidential, []string{store.GrantPassword})
	auth := []string{"Authorization", basic(e.pw.id, e.pw.secret)}

	for _, tt := range []struct{ name, tok, hint string }{
		{"refresh token", a.str("refresh_token"), "refresh_token"},
		{"access token", b.str("access_token"), "access_token"},
		{"access token, wrong hint", c.str("access_token"), "refresh_token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			r := e.form(PathRevoke, url.Values{"token": {tt.tok}, "token_type_hint": {tt.hint}}, auth...)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if in := e.introspect(tt.tok); in.body["active"] != false {
				t.Errorf("introspect after revoke: %s", in.raw)
			}
		})
	}
	e.t = t
	for _, l := range []*resp{a, b, c} {
		if err := e.bearer(l.str("access_token")); err == nil {
			t.Error("access token of a revoked grant still works")
		}
		if in := e.introspect(l.str("access_token")); in.body["active"] != false {
			t.Errorf("introspect: %s", in.raw)
		}
		wantOAuthError(t, e.refresh(e.pw, l.str("refresh_token"), ""), 400, "invalid_grant")
	}

	// Another client's token: 200, nothing revoked.
	d := e.passwordLogin(e.pw, "openid")
	for _, tok := range []string{d.str("refresh_token"), d.str("access_token")} {
		r := e.form(PathRevoke, url.Values{"token": {tok}}, "Authorization", basic(other.id, other.secret))
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	if err := e.bearer(d.str("access_token")); err != nil {
		t.Errorf("another client revoked our token: %v", err)
	}
	// Unknown and malformed tokens: 200.
	for _, tok := range []string{"mnx_rt_" + strings.Repeat("A", 43), "not a token", "a.b.c"} {
		if r := e.form(PathRevoke, url.Values{"token": {tok}}, auth...); r.status != 200 {
			t.Errorf("unknown token %q: %d", tok, r.status)
		}
	}
	// Errors.
	wantOAuthError(t, e.form(PathRevoke, url.Values{}, auth...), 400, "invalid_request")
	r := e.form(PathRevoke, url.Values{"token": {d.str("refresh_token")}}, "Authorization", basic(e.pw.id, "wrong"))
	wantOAuthError(t, r, 401, "invalid_client")
	if err := e.bearer(d.str("access_token")); err != nil {
		t.Error("revoked with a wrong secret")
	}
	// A public client revokes its own tokens with its client_id.
	p := e.passwordLogin(e.pub, "openid")
	if r := e.form(PathRevoke, url.Values{"token": {p.str("refresh_token")}, "client_id": {e.pub.id}}); r.status != 200 {
		t.Fatal(r.raw)
	}
	if err := e.bearer(p.str("access_token")); err == nil {
		t.Error("public client's revocation did not take")
	}
}

func TestIntrospect(t *testing.T) {
	e := newEnv(t)
	l := e.passwordLogin(e.pw, "openid email")
	in := e.introspect(l.str("access_token"))
	if in.status != 200 || in.body["active"] != true || in.str("scope") != "openid email" || in.str("client_id") != e.pw.id ||
		in.str("sub") != e.user.ID || in.str("username") != e.email || in.str("token_type") != "Bearer" ||
		in.str("iss") != e.issuer || in.str("jti") == "" || in.body["exp"] == nil || in.body["iat"] == nil || in.body["aud"] == nil {
		t.Fatalf("access: %s", in.raw)
	}
	if in.header.Get("Cache-Control") != "no-store" {
		t.Error("no Cache-Control")
	}
	// A changed email is the username at once (the cached liveness entry
	// that carries it is invalidated by the epoch).
	newEmail, newKey := "ana.nueva@example.com", "ana.nueva@example.com"
	if _, err := e.st.UpdateUser(e.ctx, e.user.ID, store.UserUpdate{Email: &newEmail, EmailKey: &newKey}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if in := e.introspect(l.str("access_token")); in.str("username") != newEmail {
		t.Fatalf("username after an email change: %s", in.raw)
	}
	oldEmail, oldKey := e.email, strings.ToLower(e.email)
	if _, err := e.st.UpdateUser(e.ctx, e.user.ID, store.UserUpdate{Email: &oldEmail, EmailKey: &oldKey}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	in = e.introspect(l.str("refresh_token"))
	if in.body["active"] != true || in.str("token_type") != "refresh_token" || in.str("username") != e.email || in.str("scope") != "openid email" {
		t.Fatalf("refresh: %s", in.raw)
	}
	// Another client may introspect the access token (a resource server)
	// but learns nothing of the refresh token.
	other := e.newClient(t, "rs", store.ClientConfidential, []string{store.GrantClientCredentials})
	r := e.form(PathIntrospect, url.Values{"token": {l.str("refresh_token")}}, "Authorization", basic(other.id, other.secret))
	if r.raw != `{"active":false}`+"\n" {
		t.Errorf("other client, refresh token: %s", r.raw)
	}
	// Other issuer: inactive.
	now := e.clk.Now()
	evil, err := e.keys.MintAccess(e.ctx, token.AccessClaims{Issuer: "https://evil.example", Subject: e.user.ID, ClientID: e.pw.id,
		Audience: []string{e.issuer}, GrantID: "x", IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{evil, "garbage", "mnx_rt_" + strings.Repeat("B", 43)} {
		if r := e.introspect(tok); r.raw != `{"active":false}`+"\n" {
			t.Errorf("%q: %s", tok, r.raw)
		}
	}
	// A public client may not introspect; a missing token is invalid_request.
	wantOAuthError(t, e.form(PathIntrospect, url.Values{"token": {l.str("access_token")}, "client_id": {e.pub.id}}), 400, "invalid_client")
	wantOAuthError(t, e.form(PathIntrospect, url.Values{}, "Authorization", basic(e.pw.id, e.pw.secret)), 400, "invalid_request")
	wantOAuthError(t, e.form(PathIntrospect, url.Values{"token": {"x"}}), 400, "invalid_client")
	// Expired: inactive; the refresh token still active (valid until revoked).
	e.clk.Advance(901*time.Second + token.ClockLeeway)
	if r := e.introspect(l.str("access_token")); r.body["active"] != false {
		t.Errorf("expired: %s", r.raw)
	}
	if r := e.introspect(l.str("refresh_token")); r.body["active"] != true {
		t.Errorf("refresh after access expiry: %s", r.raw)
	}
}

func TestUserinfo(t *testing.T) {
	e := newEnv(t)
	get := func(tok string) *resp {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathUserinfo, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return e.do(req)
	}
	full := get(e.passwordLogin(e.pw, "openid profile email").str("access_token"))
	if full.status != 200 || full.str("sub") != e.user.ID || full.str("email") != e.email || full.str("given_name") != "Ana" ||
		full.str("family_name") != "Núñez" || full.str("name") != "Ana Núñez" || full.str("first_name") != "Ana" ||
		full.str("uid") != e.user.ID || full.body["email_verified"] == nil || full.body["updated_at"] == nil {
		t.Fatalf("%d %s", full.status, full.raw)
	}
	minimal := get(e.passwordLogin(e.pw, "openid").str("access_token"))
	if minimal.status != 200 || minimal.str("sub") != e.user.ID || minimal.body["email"] != nil || minimal.body["given_name"] != nil {
		t.Fatalf("openid only: %s", minimal.raw)
	}
	// POST with the token in the form body (RFC 6750 §2.2).
	tok := e.passwordLogin(e.pw, "openid email").str("access_token")
	if r := e.form(PathUserinfo, url.Values{"access_token": {tok}}); r.status != 200 || r.str("email") != e.email {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
	r := get(e.passwordLogin(e.pw, "email").str("access_token"))
	if r.status != 403 || r.str("error") != "insufficient_scope" || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("no openid: %d %s %v", r.status, r.raw, r.header)
	}
	r = get("")
	if r.status != 401 || r.body["error"] != nil || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %s", r.status, r.raw)
	}
	r = get("nope")
	if r.status != 401 || r.str("error") != "invalid_token" || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("bad token: %d %s", r.status, r.raw)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{PathOIDCDiscovery, PathOAuthDiscovery} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "https")
		r := e.do(req)
		if r.status != 200 || strings.Contains(r.raw, "evil") {
			t.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
		want := map[string]string{
			"issuer": e.issuer, "token_endpoint": e.issuer + PathToken, "authorization_endpoint": e.issuer + PathAuthorize,
			"userinfo_endpoint": e.issuer + PathUserinfo, "jwks_uri": e.issuer + PathJWKS, "revocation_endpoint": e.issuer + PathRevoke,
			"introspection_endpoint": e.issuer + PathIntrospect, "end_session_endpoint": e.issuer + PathLogout,
		}
		for k, v := range want {
			if r.str(k) != v {
				t.Errorf("%s %s = %q, want %q", path, k, r.str(k), v)
			}
		}
		for _, k := range []string{"scopes_supported", "grant_types_supported", "code_challenge_methods_supported", "token_endpoint_auth_methods_supported", "id_token_signing_alg_values_supported", "response_types_supported", "subject_types_supported", "claims_supported"} {
			if l, _ := r.body[k].([]any); len(l) == 0 {
				t.Errorf("%s: %s empty", path, k)
			}
		}
		// RS256 first: OIDC Core §15.1 requires it, and it is what a client
		// that registered no id_token_signed_response_alg gets.
		if algs, _ := r.body["id_token_signing_alg_values_supported"].([]any); len(algs) < 2 || algs[0] != "RS256" || !slices.Contains(algs, any("ES256")) {
			t.Errorf("%s id_token_signing_alg_values_supported = %v, want RS256 first, then ES256", path, algs)
		}
		// account is a scope we support (for first-party clients only).
		if sc, _ := r.body["scopes_supported"].([]any); !slices.Contains(sc, any("account")) {
			t.Errorf("%s scopes_supported = %v, want account listed", path, sc)
		}
		if r.body["claims_parameter_supported"] != true {
			t.Errorf("%s claims_parameter_supported = %v", path, r.body["claims_parameter_supported"])
		}
		if r.body["authorization_response_iss_parameter_supported"] != true || r.body["request_parameter_supported"] != false || r.body["request_uri_parameter_supported"] != false {
			t.Errorf("%s: flags %s", path, r.raw)
		}
		if r.str("device_authorization_endpoint") != e.issuer+PathDevice {
			t.Errorf("%s device_authorization_endpoint = %v, want %s", path, r.body["device_authorization_endpoint"], e.issuer+PathDevice)
		}
	}
	res, err := http.Get(e.srv.URL + PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Content-Type") != "application/jwk-set+json" || len(set.Keys) < 2 {
		t.Fatalf("jwks %v %v", res.Header, set)
	}
	for _, k := range set.Keys {
		if k["d"] != nil {
			t.Fatal("private key published")
		}
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{PathToken, PathUserinfo, PathJWKS, PathOIDCDiscovery, PathRevoke, PathIntrospect} {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
		req.Header.Set("Origin", "https://spa.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
			res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s preflight: %d %v", path, res.StatusCode, res.Header)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathJWKS, nil)
	req.Header.Set("Origin", "https://spa.example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("jwks CORS: %v", res.Header)
	}
}

// TestClaimsRequest: claims asked for through the claims parameter (OIDC
// Core §5.5), stored on the code, appear in the ID token (at the code
// exchange and at refresh) and in the UserInfo response even when the
// granted scope (openid alone) would not include them.
func TestClaimsRequest(t *testing.T) {
	e := newEnv(t)
	const cb = "https://app.example.com/cb"
	raw := token.NewOpaque(token.PrefixCode)
	now := e.clk.Now()
	ac := &store.AuthCode{Hash: store.HashToken(raw), ClientID: e.code.id, UserID: e.user.ID, RedirectURI: cb,
		Scopes: []string{"openid"}, Nonce: "n-1", AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: now.Add(time.Minute),
		CodeChallenge: challengeOf(verifier), CodeChallengeMethod: "S256",
		Claims: `{"id_token":{"email":{"essential":true},"sub":null},"userinfo":{"given_name":null,"email_verified":null}}`}
	if err := e.st.CreateAuthCode(e.ctx, ac); err != nil {
		t.Fatal(err)
	}
	r := e.redeem(e.code, raw, cb, verifier)
	if r.status != 200 || r.str("scope") != "openid" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	id, err := e.keys.VerifyID(e.ctx, r.str("id_token"), e.issuer)
	if err != nil || id.Subject != e.user.ID || id.Extra["email"] != e.email || id.Extra["given_name"] != nil {
		t.Fatalf("id token %+v %v", id, err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+r.str("access_token"))
	ui := e.do(req)
	if ui.status != 200 || ui.str("given_name") != "Ana" || ui.body["email_verified"] == nil || ui.body["email"] != nil {
		t.Fatalf("userinfo %d %s", ui.status, ui.raw)
	}
	// Refresh: the grant keeps the request, so the new ID token has it too.
	rr := e.refresh(e.code, r.str("refresh_token"), "")
	if rr.status != 200 {
		t.Fatalf("refresh %d %s", rr.status, rr.raw)
	}
	if id, err := e.keys.VerifyID(e.ctx, rr.str("id_token"), e.issuer); err != nil || id.Extra["email"] != e.email {
		t.Fatalf("refreshed id token %+v %v", id, err)
	}
}
