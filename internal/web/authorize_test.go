package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
	"github.com/multinexo/auth/internal/web"
)

// wantNothingIssued fails if any code or grant was written.
func (e *env) wantNothingIssued() {
	e.t.Helper()
	if c, g := e.st.issued(); c != 0 || g != 0 {
		e.t.Fatalf("issued %d codes and %d grants, want none", c, g)
	}
}

// wantErrorPage checks r is an error page, not a redirect.
func wantErrorPage(t *testing.T, r *resp, status int, text string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if r.loc != nil {
		t.Fatalf("redirected to %s; an error page must never redirect", r.loc)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(r.body, text) {
		t.Errorf("page does not say %q: %s", text, r.body)
	}
	wantPageHeaders(t, r)
}

func wantPageHeaders(t *testing.T, r *resp) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"frame-ancestors 'none'", "default-src 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if got := r.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
}

// wantRedirectError checks r redirects to base with error code, the
// request's state, iss, and base's own query kept.
func (e *env) wantRedirectError(r *resp, base, code string) {
	e.t.Helper()
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		e.t.Fatalf("status %d, want a redirect with error=%s; body %s", r.status, code, r.body)
	}
	b, _ := url.Parse(base)
	if r.loc.Scheme != b.Scheme || r.loc.Host != b.Host || r.loc.Path != b.Path || r.loc.Opaque != b.Opaque {
		e.t.Fatalf("redirected to %s, want %s", r.loc, base)
	}
	q := r.loc.Query()
	if q.Get("error") != code {
		e.t.Fatalf("error=%q (%s), want %q", q.Get("error"), q.Get("error_description"), code)
	}
	if q.Get("state") != "st-123" {
		e.t.Errorf("state=%q, want st-123", q.Get("state"))
	}
	if q.Get("iss") != e.issuer {
		e.t.Errorf("iss=%q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
	}
	for k, vs := range b.Query() {
		if q.Get(k) != vs[0] {
			e.t.Errorf("the redirect URI's own query %s=%s was lost: %s", k, vs[0], r.loc)
		}
	}
	if q.Has("code") {
		e.t.Error("an error response carries a code")
	}
}

func TestNeverRedirectToUnvalidatedTargets(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	tests := []struct {
		name string
		q    url.Values
		text string
	}{
		{"missing client_id", authzQuery("client_id", ""), "client_id"},
		{"unknown client", authzQuery("client_id", "nobody"), "no está registrada"},
		{"disabled client", authzQuery("client_id", "off", "redirect_uri", "https://off.example/cb"), "deshabilitada"},
		{"repeated client_id", func() url.Values { q := authzQuery(); q.Add("client_id", "spa"); return q }(), "repite"},
		{"repeated redirect_uri", func() url.Values { q := authzQuery(); q.Add("redirect_uri", "https://app.example.com/other"); return q }(), "repite"},
		{"redirect omitted with two registered", authzQuery("redirect_uri", ""), "redirect_uri"},
		{"unregistered host", authzQuery("redirect_uri", "https://evil.example/cb"), "redirect_uri"},
		{"prefix", authzQuery("redirect_uri", "https://app.example.com/c"), "redirect_uri"},
		{"suffix", authzQuery("redirect_uri", "https://app.example.com/cb/evil?tenant=1"), "redirect_uri"},
		{"query suffix", authzQuery("redirect_uri", webRedirect+"&x=1"), "redirect_uri"},
		{"host case", authzQuery("redirect_uri", "https://APP.example.com/cb?tenant=1"), "redirect_uri"},
		{"path traversal", authzQuery("redirect_uri", "https://app.example.com/other/../cb?tenant=1"), "redirect_uri"},
		{"encoded traversal", authzQuery("redirect_uri", "https://app.example.com/cb/%2e%2e/x?tenant=1"), "redirect_uri"},
		{"userinfo", authzQuery("redirect_uri", "https://app.example.com@evil.example/cb?tenant=1"), "redirect_uri"},
		{"fragment", authzQuery("redirect_uri", webRedirect+"#x"), "redirect_uri"},
		{"subdomain", authzQuery("redirect_uri", "https://evil.app.example.com/cb?tenant=1"), "redirect_uri"},
		{"another client's URI", authzQuery("redirect_uri", "https://single.example/cb"), "redirect_uri"},
		{"loopback for https client", authzQuery("redirect_uri", "http://127.0.0.1:9000/cb"), "redirect_uri"},
		{"spa loopback other path", authzQuery("client_id", "spa", "redirect_uri", "http://127.0.0.1:9000/cb2"), "redirect_uri"},
		{"spa localhost instead of IP", authzQuery("client_id", "spa", "redirect_uri", "http://localhost:9000/cb"), "redirect_uri"},
		// Even a request that is otherwise wrong must not reach the bad URI.
		{"bad redirect and bad response_type", authzQuery("redirect_uri", "https://evil.example/cb", "response_type", "token"), "redirect_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.authorize(tc.q)
			wantErrorPage(t, r, http.StatusBadRequest, tc.text)
		})
	}
	// The same through POST and the seed-002 alias.
	r := b.post(web.PathAuthorization, authzQuery("redirect_uri", "https://evil.example/cb"))
	wantErrorPage(t, r, http.StatusBadRequest, "redirect_uri")
	e.wantNothingIssued()
}

func TestErrorsRedirectWithCode(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	tests := []struct {
		name, code string
		q          url.Values
	}{
		{"missing response_type", "invalid_request", authzQuery("response_type", "")},
		{"implicit for a non-legacy client", "unsupported_response_type", authzQuery("response_type", "token")},
		{"id_token response type", "unsupported_response_type", authzQuery("response_type", "id_token")},
		{"hybrid", "unsupported_response_type", authzQuery("response_type", "code id_token")},
		{"scope not allowed", "invalid_scope", authzQuery("scope", "openid admin")},
		// A third party may never be offered account (README "What a
		// token can do"): refused before any consent page.
		{"account for a third party", "invalid_scope", authzQuery("scope", "openid account")},
		{"scope with bad characters", "invalid_scope", authzQuery("scope", "openid \"x\"")},
		{"plain PKCE", "invalid_request", authzQuery("code_challenge", verifier, "code_challenge_method", "plain")},
		{"challenge without method means plain", "invalid_request", authzQuery("code_challenge_method", "")},
		{"method without challenge", "invalid_request", authzQuery("code_challenge", "")},
		{"malformed challenge", "invalid_request", authzQuery("code_challenge", "short")},
		{"request object", "request_not_supported", authzQuery("request", "eyJhbGciOiJub25lIn0.e30.")},
		{"request_uri", "request_uri_not_supported", authzQuery("request_uri", "https://app.example.com/req.jwt")},
		{"unknown prompt", "invalid_request", authzQuery("prompt", "sometimes")},
		{"prompt none with login", "invalid_request", authzQuery("prompt", "none login")},
		{"negative max_age", "invalid_request", authzQuery("max_age", "-1")},
		{"non-numeric max_age", "invalid_request", authzQuery("max_age", "soon")},
		{"form_post response mode", "invalid_request", authzQuery("response_mode", "form_post")},
		{"claims not JSON", "invalid_request", authzQuery("claims", "{not json")},
		{"claims not an object", "invalid_request", authzQuery("claims", `["email"]`)},
		{"claims id_token not an object", "invalid_request", authzQuery("claims", `{"id_token":"email"}`)},
		{"claims request not an object", "invalid_request", authzQuery("claims", `{"userinfo":{"email":true}}`)},
		{"claims essential not boolean", "invalid_request", authzQuery("claims", `{"id_token":{"email":{"essential":"yes"}}}`)},
		{"claims values not an array", "invalid_request", authzQuery("claims", `{"id_token":{"email":{"values":"a"}}}`)},
		{"bad id_token_hint", "invalid_request", authzQuery("id_token_hint", "not.a.jwt")},
		{"nonce too long", "invalid_request", authzQuery("nonce", strings.Repeat("n", 513))},
		{"repeated scope", "invalid_request", func() url.Values { q := authzQuery(); q.Add("scope", "email"); return q }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.wantRedirectError(b.authorize(tc.q), webRedirect, tc.code)
		})
	}
	t.Run("unauthorized_client", func(t *testing.T) {
		r := b.authorize(authzQuery("client_id", "m2m", "redirect_uri", "https://m2m.example/cb"))
		e.wantRedirectError(r, "https://m2m.example/cb", "unauthorized_client")
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		r := b.authorize(authzQuery("client_id", "spa", "redirect_uri", "http://127.0.0.1:4321/cb", "code_challenge", "", "code_challenge_method", ""))
		e.wantRedirectError(r, "http://127.0.0.1:4321/cb", "invalid_request")
		if !strings.Contains(r.loc.Query().Get("error_description"), "PKCE") {
			t.Errorf("description %q does not name PKCE", r.loc.Query().Get("error_description"))
		}
	})
	t.Run("POST authorization request", func(t *testing.T) {
		r := b.post(web.PathAuthorize, authzQuery("request", "x"))
		e.wantRedirectError(r, webRedirect, "request_not_supported")
	})
	e.wantNothingIssued()
}

func TestPromptNone(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	// No session: login_required, never the login page.
	e.wantRedirectError(b.authorize(authzQuery("prompt", "none")), webRedirect, "login_required")
	b.login()
	// A session but no consent yet: consent_required.
	e.wantRedirectError(b.authorize(authzQuery("prompt", "none")), webRedirect, "consent_required")
	e.wantNothingIssued()
	// After consent, prompt=none answers silently.
	if r := b.authorized(authzQuery()); r.loc == nil || r.loc.Query().Get("code") == "" {
		t.Fatalf("no code after consent: %d %v", r.status, r.loc)
	}
	r := b.authorize(authzQuery("prompt", "none"))
	if r.status != http.StatusFound || r.loc.Query().Get("code") == "" {
		t.Fatalf("prompt=none with consent: status %d, location %v", r.status, r.loc)
	}
	// max_age exceeded with prompt=none: login_required.
	e.clock.Add(10 * time.Minute)
	e.wantRedirectError(b.authorize(authzQuery("prompt", "none", "max_age", "60")), webRedirect, "login_required")
}

func TestLoginThenConsentIssuesBoundCode(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	q := authzQuery("scope", "openid profile email voucher offline_access")
	r := b.authorize(q)
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("without a session: status %d, location %v, want the login page", r.status, r.loc)
	}
	cont := r.loc.Query().Get("continue")
	if !strings.HasPrefix(cont, web.PathAuthorize+"?") {
		t.Fatalf("continue %q", cont)
	}
	login := b.get(r.loc.RequestURI())
	if login.status != http.StatusOK || !strings.Contains(login.body, "Tienda Ejemplo") || !strings.Contains(login.body, "Iniciar sesión") {
		t.Fatalf("login page: %d %s", login.status, login.body)
	}
	wantPageHeaders(t, login)
	// The login form's answer redirects (via the authorization endpoint) to
	// the client, so form-action must allow the client's origin.
	if csp := login.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
		t.Errorf("login CSP %q", csp)
	}
	r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}, "continue": {cont}})
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathAuthorize {
		t.Fatalf("after login: %d %v", r.status, r.loc)
	}
	c := b.sessionCookie()
	if c == nil {
		t.Fatal("no session cookie")
	}
	page := b.get(r.loc.RequestURI())
	for _, s := range []string{"Tienda Ejemplo", "Confirmar tu identidad", "Ver tu nombre", "Ver tu dirección de correo",
		"Gestionar tus comprobantes", "Mantener el acceso cuando no estés conectado", "Permitir", "Denegar", testEmail, "app.example.com"} {
		if !strings.Contains(page.body, s) {
			t.Errorf("consent page lacks %q", s)
		}
	}
	wantPageHeaders(t, page)
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
		t.Errorf("consent CSP %q", csp)
	}
	e.wantNothingIssued()

	r = b.consent(page, "allow")
	if r.status != http.StatusSeeOther {
		t.Fatalf("allow: status %d %s", r.status, r.body)
	}
	got := r.loc.Query()
	if r.loc.Host != "app.example.com" || r.loc.Path != "/cb" || got.Get("tenant") != "1" ||
		got.Get("state") != "st-123" || got.Get("iss") != e.issuer || !token.HasOpaqueForm(got.Get("code"), token.PrefixCode) {
		t.Fatalf("success redirect %s", r.loc)
	}
	ac := e.st.lastCode()
	now := e.clock.Now()
	switch {
	case string(ac.Hash) != string(store.HashToken(got.Get("code"))):
		t.Error("the code is not stored by its hash")
	case ac.ClientID != webApp, ac.UserID != e.user.ID, ac.RedirectURI != webRedirect:
		t.Errorf("code bound to %s/%s/%s", ac.ClientID, ac.UserID, ac.RedirectURI)
	case ac.CodeChallenge != challenge(verifier) || ac.CodeChallengeMethod != "S256":
		t.Errorf("PKCE %s %s", ac.CodeChallenge, ac.CodeChallengeMethod)
	case ac.Nonce != "n-0S6_WzA2Mj":
		t.Errorf("nonce %q", ac.Nonce)
	case !slices.Equal(ac.Scopes, []string{"openid", "profile", "email", "voucher", "offline_access"}):
		t.Errorf("scopes %v", ac.Scopes)
	case !ac.ExpiresAt.Equal(now.Add(60 * time.Second)):
		t.Errorf("expires %v, want now+60s", ac.ExpiresAt)
	case ac.SessionID == "" || !strings.HasPrefix(c.Value, ac.SessionID+"."):
		t.Errorf("session %q, cookie %q", ac.SessionID, c.Value)
	case ac.AuthTime.IsZero():
		t.Error("no auth_time")
	}
	// The store has the code: redeem it once.
	g := &store.Grant{ID: token.NewID(), ClientID: webApp, GrantType: store.GrantAuthorizationCode, CreatedAt: now, LastUsedAt: now}
	if _, err := e.st.RedeemAuthCode(t.Context(), store.HashToken(got.Get("code")), now, g, nil); err != nil {
		t.Fatalf("redeeming the code: %v", err)
	}
	ev, _, err := e.st.ListEvents(t.Context(), store.ListOptions{Filters: []store.Filter{{Field: "type", Op: "eq", Value: "consent.given"}}})
	if err != nil || len(ev) != 1 || ev[0].ClientID != webApp || ev[0].UserID != e.user.ID {
		t.Errorf("consent.given events %v %v", ev, err)
	}
}

// TestConsentOffersAccountOnlyToFirstParty: a first-party application that
// asks for account gets a consent page that says plainly what it may do;
// the scope is never granted without being asked for.
func TestConsentOffersAccountOnlyToFirstParty(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	page := b.authorize(authzQuery("client_id", "portal", "redirect_uri", "https://portal.example/cb", "scope", "openid account"))
	wantPage(t, page, http.StatusOK, "Portal propio", "Administrar tu cuenta: cambiar tus datos y tu correo, eliminarla")
	r := b.consent(page, "allow")
	if r.status != http.StatusSeeOther || r.loc.Host != "portal.example" || r.loc.Query().Get("code") == "" {
		t.Fatalf("allow: %d %v", r.status, r.loc)
	}
	if ac := e.st.lastCode(); !slices.Equal(ac.Scopes, []string{"openid", "account"}) {
		t.Errorf("scopes %v", ac.Scopes)
	}
	// Without a scope parameter the default set never holds account.
	page = b.authorize(authzQuery("client_id", "portal", "redirect_uri", "https://portal.example/cb", "scope", ""))
	if strings.Contains(page.body, "Administrar tu cuenta") {
		t.Errorf("account offered without being asked for")
	}
	// The third party's consent page for everything it may ask.
	page = b.authorize(authzQuery("scope", "openid profile email voucher offline_access"))
	if page.status != http.StatusOK || strings.Contains(page.body, "Administrar tu cuenta") {
		t.Errorf("third-party consent: %d, offers account: %v", page.status, strings.Contains(page.body, "Administrar tu cuenta"))
	}
}

// TestConsentSaysWhenAccessOutlivesTheSession: a code for a client without
// offline_access_required brings a refresh token, so its consent page says
// the application keeps access even when offline_access was not asked for;
// a client registered with it says so only when it asks.
func TestConsentSaysWhenAccessOutlivesTheSession(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	const keeps = "Mantener el acceso cuando no estés conectado"
	wantPage(t, b.authorize(authzQuery("scope", "openid")), http.StatusOK, keeps)
	strict := func(scope string) *resp {
		return b.authorize(authzQuery("client_id", "strict", "redirect_uri", "https://strict.example/cb", "scope", scope))
	}
	if p := strict("openid"); p.status != http.StatusOK || strings.Contains(p.body, keeps) {
		t.Errorf("strict client without offline_access: %d, says it keeps access: %v", p.status, strings.Contains(p.body, keeps))
	}
	wantPage(t, strict("openid offline_access"), http.StatusOK, keeps)
}

func TestRememberedConsent(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	if r := b.authorized(authzQuery()); r.loc.Query().Get("code") == "" {
		t.Fatalf("first authorization: %v", r.loc)
	}
	// Same scopes: no page, straight back with a code.
	r := b.authorize(authzQuery())
	if r.status != http.StatusFound || r.loc.Query().Get("code") == "" {
		t.Fatalf("remembered consent was asked again: %d", r.status)
	}
	// A subset: no page either.
	if r := b.authorize(authzQuery("scope", "openid")); r.status != http.StatusFound {
		t.Fatalf("subset: %d", r.status)
	}
	// A new scope: asked again, naming it.
	r = b.authorize(authzQuery("scope", "openid profile voucher"))
	if r.status != http.StatusOK || !strings.Contains(r.body, "Gestionar tus comprobantes") {
		t.Fatalf("new scope: %d", r.status)
	}
	// prompt=consent asks even when remembered.
	r = b.authorize(authzQuery("prompt", "consent"))
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="/consent"`) {
		t.Fatalf("prompt=consent: %d", r.status)
	}
	// Allowing under prompt=consent answers (no loop).
	if r := b.consent(r, "allow"); r.status != http.StatusSeeOther || r.loc.Query().Get("code") == "" {
		t.Fatalf("allow under prompt=consent: %d %v", r.status, r.loc)
	}
}

func TestDeny(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	r := b.consent(b.authorize(authzQuery()), "deny")
	e.wantRedirectError(r, webRedirect, "access_denied")
	e.wantNothingIssued()
	// Denial is not remembered as consent.
	if r := b.authorize(authzQuery()); r.status != http.StatusOK {
		t.Fatalf("after denial: %d", r.status)
	}
}

func TestConsentFormIsNotTrusted(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	page := b.authorize(authzQuery())
	f := hidden(page.body)
	f.Set("decision", "allow")

	t.Run("tampered redirect_uri", func(t *testing.T) {
		g := url.Values{"binding": {f.Get("binding")}, "decision": {"allow"}, "authz": {authzQuery("redirect_uri", "https://evil.example/cb").Encode()}}
		wantErrorPage(t, b.post(web.PathConsent, g), http.StatusBadRequest, "redirect_uri")
	})
	t.Run("tampered scope", func(t *testing.T) {
		g := url.Values{"binding": {f.Get("binding")}, "decision": {"allow"}, "authz": {authzQuery("scope", "openid admin").Encode()}}
		e.wantRedirectError(b.post(web.PathConsent, g), webRedirect, "invalid_scope")
	})
	t.Run("PKCE removed from a public client's request", func(t *testing.T) {
		q := authzQuery("client_id", "spa", "redirect_uri", "http://127.0.0.1:5000/cb", "code_challenge", "", "code_challenge_method", "")
		g := url.Values{"binding": {f.Get("binding")}, "decision": {"allow"}, "authz": {q.Encode()}}
		e.wantRedirectError(b.post(web.PathConsent, g), "http://127.0.0.1:5000/cb", "invalid_request")
	})
	t.Run("wrong binding", func(t *testing.T) {
		g := url.Values{"binding": {"x"}, "decision": {"allow"}, "authz": {f.Get("authz")}}
		wantErrorPage(t, b.post(web.PathConsent, g), http.StatusBadRequest, "La sesión cambió")
	})
	t.Run("binding of another session", func(t *testing.T) {
		other := e.browser()
		other.login()
		wantErrorPage(t, other.post(web.PathConsent, f), http.StatusBadRequest, "La sesión cambió")
	})
	t.Run("no session", func(t *testing.T) {
		r := e.browser().post(web.PathConsent, f)
		if r.status != http.StatusSeeOther || r.loc.Path != web.PathLogin {
			t.Fatalf("status %d location %v, want the login page", r.status, r.loc)
		}
	})
	t.Run("unknown decision", func(t *testing.T) {
		g := url.Values{"binding": {f.Get("binding")}, "decision": {"maybe"}, "authz": {f.Get("authz")}}
		wantErrorPage(t, b.post(web.PathConsent, g), http.StatusBadRequest, "no es válida")
	})
	e.wantNothingIssued()
	if r := b.post(web.PathConsent, f); r.status != http.StatusSeeOther || r.loc.Query().Get("code") == "" {
		t.Fatalf("the untouched form: %d %v", r.status, r.loc)
	}
}

func TestCrossOriginFormsRefused(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	for _, path := range []string{web.PathLogin, web.PathConsent, web.PathRegister, web.PathLogout, web.PathAccount + "/password"} {
		r := b.post(path, url.Values{"email": {testEmail}, "password": {testPassword}},
			"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if r.status != http.StatusForbidden {
			t.Errorf("%s cross-site: status %d, want 403", path, r.status)
		}
	}
	if b.sessionCookie() != nil {
		t.Fatal("a cross-site login set a session")
	}
	// Same-origin browsers pass.
	r := b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}}, "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin")
	if r.status != http.StatusSeeOther {
		t.Fatalf("same-origin login: %d", r.status)
	}
	// The authorization endpoint is a protocol endpoint: a client's site may
	// POST to it.
	r = b.post(web.PathAuthorize, authzQuery(), "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusOK {
		t.Fatalf("cross-site POST authorization request: %d", r.status)
	}
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	t.Run("wrong password and unknown account say the same", func(t *testing.T) {
		r1 := b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {"wrong password!"}})
		r2 := b.post(web.PathLogin, url.Values{"email": {"nobody@example.com"}, "password": {"wrong password!"}})
		for _, r := range []*resp{r1, r2} {
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Correo o contraseña incorrectos") {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
		}
	})
	t.Run("throttled", func(t *testing.T) {
		var r *resp
		for range 5 {
			r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {"wrong password!"}})
		}
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Demasiados intentos") {
			t.Fatalf("status %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
		// Even the right password waits for the window to end.
		r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}})
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("right password while throttled: %d", r.status)
		}
		if b.sessionCookie() != nil {
			t.Fatal("session set while throttled")
		}
		e.clock.Add(16 * time.Minute)
	})
	t.Run("login_hint and ui_locales", func(t *testing.T) {
		q := authzQuery("login_hint", "maria@example.com", "ui_locales", "en-US es")
		r := b.get(web.PathLogin + "?" + url.Values{"continue": {web.PathAuthorize + "?" + q.Encode()}}.Encode())
		if !strings.Contains(r.body, `value="maria@example.com"`) || !strings.Contains(r.body, "Sign in") || !strings.Contains(r.body, `lang="en"`) {
			t.Fatalf("login page: %s", r.body)
		}
	})
	t.Run("Accept-Language", func(t *testing.T) {
		r := b.get(web.PathLogin, "Accept-Language", "en-GB,en;q=0.9")
		if !strings.Contains(r.body, "Enter your Multinexo email and password") || r.header.Get("Content-Language") != "en" {
			t.Fatalf("English page: %s", r.body)
		}
		r = b.get(web.PathLogin, "Accept-Language", "fr-FR")
		if !strings.Contains(r.body, "Escribe tu correo") {
			t.Fatal("an unsupported language did not fall back to Spanish")
		}
	})
	t.Run("continue never leaves the site", func(t *testing.T) {
		for _, c := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "/auth/v1/token"} {
			r := b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}, "continue": {c}})
			if r.status != http.StatusSeeOther || r.loc.Host != strings.TrimPrefix(e.srv.URL, "http://") || r.loc.Path != web.PathAccount {
				t.Errorf("continue %q: %d %v", c, r.status, r.loc)
			}
		}
	})
}

func TestSessions(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	r := b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}})
	sc := r.header.Get("Set-Cookie")
	for _, attr := range []string{web.CookieName + "=", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("Set-Cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("Secure cookie on an http issuer: %q", sc)
	}
	first := b.sessionCookie()
	id, secret, _ := strings.Cut(first.Value, ".")
	s, err := e.st.GetSession(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if string(s.SecretHash) != string(store.HashToken(secret)) || s.UserID != e.user.ID {
		t.Fatal("the session row does not hold the secret's hash")
	}

	// A wrong secret with a right id is no session.
	forged := e.browser()
	u, _ := url.Parse(e.srv.URL)
	forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.CookieName, Value: id + "." + token.NewOpaque(token.PrefixSession)}})
	if r := forged.get(web.PathAccount); r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("forged secret: %d", r.status)
	}

	// Logging in again gives a new id and ends the old session (no fixation).
	b.login()
	second := b.sessionCookie()
	if second.Value == first.Value || strings.HasPrefix(second.Value, id+".") {
		t.Fatal("the session id did not change at login")
	}
	if _, err := e.st.GetSession(t.Context(), id); err == nil {
		t.Fatal("the old session row survived a new login")
	}
	if r := b.get(web.PathAccount); r.status != http.StatusOK || !strings.Contains(r.body, testEmail) {
		t.Fatalf("account page: %d", r.status)
	}

	// Idle expiry.
	e.clock.Add(13 * time.Hour)
	if r := b.get(web.PathAccount); r.status != http.StatusFound {
		t.Fatalf("expired session still works: %d", r.status)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	id, _, _ := strings.Cut(b.sessionCookie().Value, ".")
	// GET shows a confirmation and changes nothing.
	r := b.get(web.PathLogout)
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="/logout"`) {
		t.Fatalf("GET /logout: %d", r.status)
	}
	if _, err := e.st.GetSession(t.Context(), id); err != nil {
		t.Fatal("GET /logout ended the session")
	}
	r = b.post(web.PathLogout, url.Values{})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Sesión cerrada") {
		t.Fatalf("POST /logout: %d %s", r.status, r.body)
	}
	if _, err := e.st.GetSession(t.Context(), id); err == nil {
		t.Fatal("the session row survived logout")
	}
	e.wantRedirectError(b.authorize(authzQuery("prompt", "none")), webRedirect, "login_required")
}

func TestRPInitiatedLogout(t *testing.T) {
	e := newEnv(t, nil)
	hint := func(sub, aud string) string {
		now := e.clock.Now()
		s, err := e.keys.MintID(t.Context(), token.IDClaims{Issuer: e.issuer, Subject: sub, Audience: aud, IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("hint and registered redirect", func(t *testing.T) {
		b := e.browser()
		b.login()
		id, _, _ := strings.Cut(b.sessionCookie().Value, ".")
		r := b.get(web.PathLogoutEndpoint + "?" + url.Values{"id_token_hint": {hint(e.user.ID, webApp)},
			"post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"s1"}}.Encode())
		if r.status != http.StatusFound || r.loc.String() != "https://app.example.com/bye?state=s1" {
			t.Fatalf("status %d location %v", r.status, r.loc)
		}
		if _, err := e.st.GetSession(t.Context(), id); err == nil {
			t.Fatal("session not ended")
		}
	})
	t.Run("unregistered redirect is an error page", func(t *testing.T) {
		b := e.browser()
		b.login()
		r := b.get(web.PathLogoutEndpoint + "?" + url.Values{"id_token_hint": {hint(e.user.ID, webApp)},
			"post_logout_redirect_uri": {"https://evil.example/bye"}}.Encode())
		wantErrorPage(t, r, http.StatusBadRequest, "post_logout_redirect_uri")
	})
	t.Run("redirect without client", func(t *testing.T) {
		r := e.browser().get(web.PathLogoutEndpoint + "?post_logout_redirect_uri=https://app.example.com/bye")
		wantErrorPage(t, r, http.StatusBadRequest, "post_logout_redirect_uri")
	})
	t.Run("forged hint", func(t *testing.T) {
		r := e.browser().get(web.PathLogoutEndpoint + "?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
		wantErrorPage(t, r, http.StatusBadRequest, "id_token_hint")
	})
	t.Run("no hint asks to confirm", func(t *testing.T) {
		b := e.browser()
		b.login()
		id, _, _ := strings.Cut(b.sessionCookie().Value, ".")
		r := b.get(web.PathLogoutEndpoint + "?" + url.Values{"client_id": {webApp}, "post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"s2"}}.Encode())
		if r.status != http.StatusOK || !strings.Contains(r.body, `action="/logout"`) {
			t.Fatalf("status %d", r.status)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "https://app.example.com") {
			t.Errorf("CSP %q does not allow the logout redirect", csp)
		}
		if _, err := e.st.GetSession(t.Context(), id); err != nil {
			t.Fatal("a GET without hint ended the session")
		}
		r = b.post(web.PathLogout, hidden(r.body))
		if r.status != http.StatusSeeOther || r.loc.String() != "https://app.example.com/bye?state=s2" {
			t.Fatalf("confirmed: %d %v", r.status, r.loc)
		}
	})
	t.Run("hint for someone else asks to confirm", func(t *testing.T) {
		b := e.browser()
		b.login()
		r := b.get(web.PathLogoutEndpoint + "?id_token_hint=" + hint("someone-else", webApp))
		if r.status != http.StatusOK || !strings.Contains(r.body, `action="/logout"`) {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("no session shows signed out", func(t *testing.T) {
		r := e.browser().get(web.PathLogoutEndpoint)
		if r.status != http.StatusOK || !strings.Contains(r.body, "No tienes una sesión abierta") {
			t.Fatalf("status %d %s", r.status, r.body)
		}
	})
}

func TestPromptLoginAndMaxAge(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	b.authorized(authzQuery())
	// prompt=login: back to the login page even with a session and consent.
	r := b.authorize(authzQuery("prompt", "login"))
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("prompt=login: %d %v", r.status, r.loc)
	}
	cont := r.loc.Query().Get("continue")
	before := e.clock.Now()
	e.clock.Add(time.Second)
	r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}, "continue": {cont}})
	if strings.Contains(r.loc.RawQuery, "prompt") {
		t.Fatalf("the login page returns to a request that still forces login: %v", r.loc)
	}
	r = b.get(r.loc.RequestURI())
	if r.status != http.StatusFound || r.loc.Query().Get("code") == "" {
		t.Fatalf("after the forced login: %d", r.status)
	}
	if ac := e.st.lastCode(); !ac.AuthTime.After(before) {
		t.Errorf("auth_time %v is not the new login", ac.AuthTime)
	}
	// max_age: a login older than max_age needs a new one.
	e.clock.Add(5 * time.Minute)
	r = b.authorize(authzQuery("max_age", "60"))
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("max_age exceeded: %d %v", r.status, r.loc)
	}
	if r := b.authorize(authzQuery("max_age", "3600")); r.loc.Query().Get("code") == "" {
		t.Fatalf("max_age not exceeded: %v", r.loc)
	}
}

func TestRedirectKinds(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	spa := func(redirect string) url.Values {
		return authzQuery("client_id", "spa", "redirect_uri", redirect)
	}
	t.Run("loopback any port", func(t *testing.T) {
		page := b.authorize(spa("http://127.0.0.1:53127/cb"))
		if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "http://127.0.0.1:53127") {
			t.Errorf("CSP %q", csp)
		}
		r := b.consent(page, "allow")
		if r.loc.Host != "127.0.0.1:53127" || r.loc.Query().Get("code") == "" {
			t.Fatalf("%v", r.loc)
		}
		if ac := e.st.lastCode(); ac.RedirectURI != "http://127.0.0.1:53127/cb" {
			t.Errorf("code bound to %q", ac.RedirectURI)
		}
		r = b.authorize(spa("http://[::1]:8123/cb"))
		if r.loc.Host != "[::1]:8123" || r.loc.Query().Get("code") == "" {
			t.Fatalf("%v", r.loc)
		}
	})
	t.Run("custom scheme", func(t *testing.T) {
		r := b.authorize(spa("com.example.app:/oauth2redirect"))
		if r.status != http.StatusFound || r.loc.Scheme != "com.example.app" || r.loc.Query().Get("code") == "" {
			t.Fatalf("%d %v", r.status, r.loc)
		}
	})
	t.Run("redirect_uri optional with one registered", func(t *testing.T) {
		r := b.authorized(authzQuery("client_id", "single", "redirect_uri", "", "scope", "openid"))
		if r.loc.Host != "single.example" || r.loc.Query().Get("code") == "" {
			t.Fatalf("%v", r.loc)
		}
		if ac := e.st.lastCode(); ac.RedirectURI != "" {
			t.Errorf("a code for a request without redirect_uri is bound to %q", ac.RedirectURI)
		}
	})
}

func TestImplicitForLegacyClients(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	q := authzQuery("client_id", "legacy", "redirect_uri", "https://legacy.example/cb", "response_type", "token",
		"code_challenge", "", "code_challenge_method", "")
	r := b.authorized(q)
	if r.loc == nil || r.loc.Host != "legacy.example" || r.loc.RawQuery != "" {
		t.Fatalf("%d %v", r.status, r.loc)
	}
	frag, err := url.ParseQuery(r.loc.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	if frag.Get("token_type") != "Bearer" || frag.Get("state") != "st-123" || frag.Get("iss") != e.issuer || frag.Get("expires_in") != "900" {
		t.Fatalf("fragment %v", frag)
	}
	claims, err := e.keys.VerifyAccess(t.Context(), frag.Get("access_token"), e.issuer, []string{e.issuer})
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != e.user.ID || claims.ClientID != "legacy" || claims.GrantID == "" {
		t.Fatalf("claims %+v", claims)
	}
	if g, err := e.st.GetGrant(t.Context(), claims.GrantID); err != nil || g.GrantType != store.GrantImplicit {
		t.Fatalf("grant %v %v", g, err)
	}
	// Errors of a legacy implicit request go in the fragment.
	r = b.authorize(authzQuery("client_id", "legacy", "redirect_uri", "https://legacy.example/cb", "response_type", "token", "scope", "admin"))
	if f, _ := url.ParseQuery(r.loc.Fragment); f.Get("error") != "invalid_scope" {
		t.Fatalf("implicit error: %v", r.loc)
	}
}

func TestRegisterThenContinue(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	cont := web.PathAuthorize + "?" + authzQuery().Encode()
	page := b.get(web.PathRegister + "?" + url.Values{"continue": {cont}}.Encode())
	if page.status != http.StatusOK || !strings.Contains(page.body, "Crear una cuenta") {
		t.Fatalf("register page %d", page.status)
	}
	f := url.Values{"continue": {cont}, "first_name": {"Luis"}, "last_name": {"Gómez"}, "email": {"luis@example.com"}, "password": {"123456"}}
	r := b.post(web.PathRegister, f)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "demasiado corta") || !strings.Contains(r.body, `value="luis@example.com"`) {
		t.Fatalf("short password: %d %s", r.status, r.body)
	}
	f.Set("email", testEmail)
	f.Set("password", "una frase larga y segura")
	if r := b.post(web.PathRegister, f); r.status != http.StatusConflict {
		t.Fatalf("taken email: %d", r.status)
	}
	f.Set("email", "luis@example.com")
	r = b.post(web.PathRegister, f)
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathAuthorize {
		t.Fatalf("register: %d %v %s", r.status, r.loc, r.body)
	}
	if page := b.get(r.loc.RequestURI()); page.status != http.StatusOK || !strings.Contains(page.body, "luis@example.com") {
		t.Fatalf("back to consent as the new user: %d", page.status)
	}
}

func TestAccountPage(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if r := b.get(web.PathAccount); r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("account without session: %d", r.status)
	}
	b.login()
	r := b.post(web.PathAccount+"/profile", url.Values{"first_name": {"Ana María"}, "last_name": {"Pérez"}, "email": {testEmail}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("profile: %d %s", r.status, r.body)
	}
	if r := b.get(r.loc.RequestURI()); !strings.Contains(r.body, "Ana María") || !strings.Contains(r.body, "Tus datos se guardaron") {
		t.Fatalf("after saving: %s", r.body)
	}
	// A new address needs the current password, as on the API: an
	// unattended browser is not enough to take the account's login.
	r = b.post(web.PathAccount+"/profile", url.Values{"first_name": {"Ana María"}, "last_name": {"Pérez"}, "email": {"otra@example.com"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "contraseña actual") {
		t.Fatalf("new email without the password: %d", r.status)
	}
	r = b.post(web.PathAccount+"/profile", url.Values{"first_name": {"Ana María"}, "last_name": {"Pérez"}, "email": {"otra@example.com"}, "current_password": {"no es"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("new email with a wrong password: %d", r.status)
	}
	if u, _ := e.st.GetUser(t.Context(), e.user.ID); u.Email != testEmail {
		t.Fatalf("email changed to %q without the password", u.Email)
	}
	r = b.post(web.PathAccount+"/profile", url.Values{"first_name": {"Ana María"}, "last_name": {"Pérez"}, "email": {"otra@example.com"}, "current_password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("new email with the password: %d %s", r.status, r.body)
	}
	if u, _ := e.st.GetUser(t.Context(), e.user.ID); u.Email != "otra@example.com" || u.EmailVerified {
		t.Fatalf("after the change: %+v", u)
	}
	r = b.post(web.PathAccount+"/profile", url.Values{"first_name": {"Ana María"}, "last_name": {"Pérez"}, "email": {testEmail}, "current_password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("back to the first email: %d", r.status)
	}
	r = b.post(web.PathAccount+"/password", url.Values{"current_password": {"not it at all"}, "new_password": {"otra frase muy segura"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "La contraseña actual no es correcta") {
		t.Fatalf("wrong current password: %d", r.status)
	}
	old := b.sessionCookie().Value
	r = b.post(web.PathAccount+"/password", url.Values{"current_password": {testPassword}, "new_password": {"otra frase muy segura"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("password change: %d %s", r.status, r.body)
	}
	if b.sessionCookie().Value == old {
		t.Error("the session was not renewed after a password change")
	}
	if _, err := e.accts.Authenticate(t.Context(), testEmail, "otra frase muy segura", ""); err != nil {
		t.Fatal(err)
	}
}

func TestStaticAndHeaders(t *testing.T) {
	e := newEnv(t, nil)
	r := e.browser().get("/static/style.css")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("style.css: %d %v", r.status, r.header)
	}
	r = e.browser().get(web.PathLogin)
	if r.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over http")
	}
	if !strings.Contains(r.body, `<link rel="stylesheet" href="/static/style.css">`) || strings.Contains(r.body, "<script") {
		t.Error("pages must use the stylesheet and no script")
	}
}

func TestHTTPSIssuer(t *testing.T) {
	e := newEnv(t, nil)
	w, err := web.New(web.Config{Issuer: "https://auth.example.com", Store: e.st, Keys: e.keys, Tokens: e.tokens("https://auth.example.com"),
		Accounts: e.accts, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRoutes(httpx.RoutesConfig{Issuer: "https://auth.example.com"})
	mountPages(t, mux, w, e.st, e.accts)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(srv.URL+web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS on a redirect from an https issuer: %v", res.Header)
	}
	page, err := c.Get(srv.URL + web.PathLogin)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if hsts := page.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS on an https issuer: %v", page.Header)
	}
	sc := res.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "Secure") {
		t.Errorf("session cookie without Secure on an https issuer: %q", sc)
	}
}

// TestClaimsParameter: the claims request (OIDC Core §5.5) is normalised
// (unknown members and claim names dropped) and stored on the code; claims
// beyond the requested scopes are consented to like their scopes.
func TestClaimsParameter(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	claims := `{"id_token":{"email":{"essential":true},"shoe_size":null},"userinfo":{"name":null},"other":1}`
	r := b.authorize(authzQuery("scope", "openid", "claims", claims))
	// email and profile are beyond scope=openid: the consent page lists them.
	if r.status != http.StatusOK || !strings.Contains(r.body, "Ver tu dirección de correo") || !strings.Contains(r.body, "Ver tu nombre") {
		t.Fatalf("consent for claims: %d", r.status)
	}
	if r := b.consent(r, "allow"); r.status != http.StatusSeeOther || r.loc.Query().Get("code") == "" {
		t.Fatalf("allow: %d %v", r.status, r.loc)
	}
	c := e.st.lastCode()
	if want := `{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}`; c == nil || c.Claims != want {
		t.Fatalf("stored claims %+v, want %s", c, want)
	}
	// Remembered: the same request does not ask again.
	if r := b.authorize(authzQuery("scope", "openid", "claims", claims)); r.status != http.StatusFound {
		t.Fatalf("remembered consent for claims: %d", r.status)
	}
	// Only unknown claims: nothing stored.
	if r := b.authorize(authzQuery("scope", "openid", "claims", `{"id_token":{"shoe_size":null}}`)); r.status != http.StatusFound {
		t.Fatalf("unknown claims: %d", r.status)
	}
	if c := e.st.lastCode(); c.Claims != "" {
		t.Fatalf("unknown claims stored: %q", c.Claims)
	}
	// A sub value naming someone else: login_required.
	r = b.authorize(authzQuery("scope", "openid", "claims", `{"id_token":{"sub":{"value":"someone-else"}}}`))
	e.wantRedirectError(r, webRedirect, "login_required")
}

// TestEveryBrowserAnswerHasTheCSP: every answer of a browser route — a
// page, a redirect, an error page, the 404 page — carries the one CSP
// (httpx.PageCSP: frame-ancestors 'none') and the other page defences, set
// where browser routes are handled, not page by page.
func TestEveryBrowserAnswerHasTheCSP(t *testing.T) {
	e := newEnv(t, nil)
	anon := e.browser()
	signed := e.browser()
	signed.login()
	check := func(what string, r *resp) {
		t.Helper()
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
			r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s (%d): CSP %q, headers %v", what, r.status, csp, r.header)
		}
	}
	for _, p := range []string{web.PathLogin, web.PathRegister, web.PathAccount, web.PathApplications, web.PathConnections,
		"/admin", web.PathActivate, web.PathLogout, "/no-such-page", web.PathAuthorize + "?" + authzQuery().Encode(),
		web.PathAuthorize + "?client_id=nobody", "/auth/v1/logout"} {
		check("anonymous GET "+p, anon.get(p))
		check("signed-in GET "+p, signed.get(p))
	}
	check("POST login, wrong password", anon.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {"no"}}))
	check("POST consent, no binding", signed.post(web.PathConsent, url.Values{}))
	check("POST logout", signed.post(web.PathLogout, url.Values{}))
}
