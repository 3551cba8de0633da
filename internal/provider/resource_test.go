package provider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

const (
	resA = "https://notes.example/mcp"
	resB = "https://files.example/"
)

// resources registers resA and resB.
func (e *env) resources(t *testing.T) {
	t.Helper()
	for _, r := range []*store.Resource{
		{URI: resA, Name: "Notas", Scopes: []string{"notes:read"}, CreatedAt: e.clk.Now()},
		{URI: resB, Name: "Archivos", CreatedAt: e.clk.Now()},
	} {
		if err := e.st.CreateResource(e.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

// aud returns the aud of an access token (verified without audience check).
func (e *env) aud(t *testing.T, at string) []string {
	t.Helper()
	c, err := e.keys.VerifyAccess(e.ctx, at, e.issuer, nil)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return c.Audience
}

func withResources(v url.Values, rs ...string) url.Values {
	for _, r := range rs {
		v.Add("resource", r)
	}
	return v
}

func (e *env) ccForm(rs ...string) *resp {
	e.t.Helper()
	return e.form(PathToken, withResources(url.Values{"grant_type": {"client_credentials"}}, rs...),
		"Authorization", basic(e.cc.id, e.cc.secret))
}

// TestResourceClientCredentials: RFC 8707 at the token endpoint for
// client_credentials — aud is the resources asked for; unregistered or
// malformed is invalid_target (400 JSON); no resource keeps aud = issuer.
func TestResourceClientCredentials(t *testing.T) {
	e := newEnv(t)
	e.resources(t)

	r := e.ccForm(resA, resB)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if got := e.aud(t, r.str("access_token")); !slices.Equal(got, []string{resA, resB}) {
		t.Errorf("aud = %v, want both resources", got)
	}
	// Such a token is not for this server's own API.
	if err := e.bearer(r.str("access_token")); err == nil {
		t.Error("a token for another resource was accepted by the server's own API")
	}
	// Introspection reports aud.
	in := e.introspect(r.str("access_token"))
	if in.body["active"] != true || !slices.Equal(anyStrings(in.body["aud"]), []string{resA, resB}) {
		t.Errorf("introspection: %s", in.raw)
	}

	// One resource: aud is that one; the grant is not shared with the
	// two-resource one.
	r1 := e.ccForm(resA)
	if got := e.aud(t, r1.str("access_token")); !slices.Equal(got, []string{resA}) {
		t.Errorf("aud = %v", got)
	}
	// None: the server's own API, as before.
	r0 := e.ccForm()
	if got := e.aud(t, r0.str("access_token")); !slices.Equal(got, []string{e.issuer}) {
		t.Errorf("aud without resource = %v", got)
	}

	for _, bad := range []string{"https://unknown.example/", "notes.example/mcp", resA + "#x", "https://notes.example/mcp/"} {
		wantOAuthError(t, e.ccForm(bad), http.StatusBadRequest, "invalid_target")
	}
	// One bad among good ones spoils the request.
	wantOAuthError(t, e.ccForm(resA, "https://unknown.example/"), http.StatusBadRequest, "invalid_target")
	// Other parameters still may not repeat.
	rep := e.form(PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"voucher", "voucher"}},
		"Authorization", basic(e.cc.id, e.cc.secret))
	wantOAuthError(t, rep, http.StatusBadRequest, "invalid_request")
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, s := range x {
			str, _ := s.(string)
			out = append(out, str)
		}
		return out
	}
	return nil
}

// newResourceCode stores a code authorized for resources rs.
func (e *env) newResourceCode(t *testing.T, c testClient, redirect string, rs ...string) string {
	t.Helper()
	raw := token.NewOpaque(token.PrefixCode)
	now := e.clk.Now()
	ac := &store.AuthCode{Hash: store.HashToken(raw), ClientID: c.id, UserID: e.user.ID, RedirectURI: redirect,
		Scopes: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
		CodeChallenge: challengeOf(verifier), CodeChallengeMethod: "S256", Resources: rs}
	if err := e.st.CreateAuthCode(e.ctx, ac); err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) redeemWith(c testClient, code, redirect string, rs ...string) *resp {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {c.id}, "client_secret": {c.secret}, "code_verifier": {verifier}}
	return e.form(PathToken, withResources(v, rs...))
}

func (e *env) refreshWith(c testClient, rt string, rs ...string) *resp {
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.id}, "client_secret": {c.secret}}
	return e.form(PathToken, withResources(v, rs...))
}

// TestResourceCodeAndRefresh: the code's resources become the grant's; the
// token request and each refresh may narrow them, never widen them.
func TestResourceCodeAndRefresh(t *testing.T) {
	e := newEnv(t)
	e.resources(t)
	const cb = "https://app.example.com/cb"

	r := e.redeemWith(e.code, e.newResourceCode(t, e.code, cb, resA, resB), cb)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if got := e.aud(t, r.str("access_token")); !slices.Equal(got, []string{resA, resB}) {
		t.Errorf("aud = %v", got)
	}
	// The refresh token is introspected with the granted resources.
	in := e.form(PathIntrospect, url.Values{"token": {r.str("refresh_token")}}, "Authorization", basic(e.code.id, e.code.secret))
	if !slices.Equal(anyStrings(in.body["aud"]), []string{resA, resB}) {
		t.Errorf("refresh introspection: %s", in.raw)
	}

	// Narrow on refresh; the next refresh may come back to the whole set.
	r2 := e.refreshWith(e.code, r.str("refresh_token"), resB)
	if r2.status != 200 || !slices.Equal(e.aud(t, r2.str("access_token")), []string{resB}) {
		t.Fatalf("narrowed refresh: %d %s", r2.status, r2.raw)
	}
	r3 := e.refreshWith(e.code, r2.str("refresh_token"))
	if r3.status != 200 || !slices.Equal(e.aud(t, r3.str("access_token")), []string{resA, resB}) {
		t.Fatalf("plain refresh: %d %s", r3.status, r3.raw)
	}
	// Widen: a registered resource not granted is invalid_target, and the
	// refresh token is not spent.
	e.resourceC(t)
	wantOAuthError(t, e.refreshWith(e.code, r3.str("refresh_token"), "https://c.example/"), http.StatusBadRequest, "invalid_target")
	if r4 := e.refreshWith(e.code, r3.str("refresh_token")); r4.status != 200 {
		t.Fatalf("refresh after a refused widening: %d %s", r4.status, r4.raw)
	}

	// At the code exchange: narrowing works, widening is invalid_target.
	r5 := e.redeemWith(e.code, e.newResourceCode(t, e.code, cb, resA, resB), cb, resA)
	if r5.status != 200 || !slices.Equal(e.aud(t, r5.str("access_token")), []string{resA}) {
		t.Fatalf("narrowed code: %d %s", r5.status, r5.raw)
	}
	wantOAuthError(t, e.redeemWith(e.code, e.newResourceCode(t, e.code, cb, resA), cb, resB), http.StatusBadRequest, "invalid_target")
	// A code without resources cannot be widened to one.
	wantOAuthError(t, e.redeemWith(e.code, e.newResourceCode(t, e.code, cb), cb, resA), http.StatusBadRequest, "invalid_target")
	// A grant without resources refreshes to the issuer's audience.
	r6 := e.redeemWith(e.code, e.newResourceCode(t, e.code, cb), cb)
	if r6.status != 200 || !slices.Equal(e.aud(t, r6.str("access_token")), []string{e.issuer}) {
		t.Fatalf("code without resources: %d %s", r6.status, r6.raw)
	}
	wantOAuthError(t, e.refreshWith(e.code, r6.str("refresh_token"), resA), http.StatusBadRequest, "invalid_target")
}

func (e *env) resourceC(t *testing.T) {
	t.Helper()
	if err := e.st.CreateResource(e.ctx, &store.Resource{URI: "https://c.example/", Name: "C"}); err != nil {
		t.Fatal(err)
	}
}

// TestResourcePasswordAndDevice: the password grant takes resource like
// client_credentials; the device flow carries the device request's
// resources to the grant, and the poll may narrow them.
func TestResourcePasswordAndDevice(t *testing.T) {
	e := newEnv(t)
	e.resources(t)
	v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password},
		"client_id": {e.pw.id}, "client_secret": {e.pw.secret}}
	r := e.form(PathToken, withResources(v, resA))
	if r.status != 200 || !slices.Equal(e.aud(t, r.str("access_token")), []string{resA}) {
		t.Fatalf("password: %d %s", r.status, r.raw)
	}
	wantOAuthError(t, e.form(PathToken, withResources(v, "https://nope.example/")), http.StatusBadRequest, "invalid_target")

	tv, _ := e.deviceClients(t)
	bad := e.form(PathDevice, url.Values{"client_id": {tv.id}, "resource": {"https://nope.example/"}})
	wantOAuthError(t, bad, http.StatusBadRequest, "invalid_target")
	// A resource's scope: only with that resource.
	wantOAuthError(t, e.form(PathDevice, url.Values{"client_id": {tv.id}, "scope": {"notes:read"}}), http.StatusBadRequest, "invalid_scope")
	if r := e.form(PathDevice, url.Values{"client_id": {tv.id}, "scope": {"notes:read"}, "resource": {resA}}); r.status != 200 {
		t.Fatalf("a resource's scope with the resource: %d %s", r.status, r.raw)
	}
	d := e.form(PathDevice, url.Values{"client_id": {tv.id}, "resource": {resA, resB}})
	if d.status != 200 {
		t.Fatalf("device: %d %s", d.status, d.raw)
	}
	e.decide(t, d.str("user_code"), true)
	poll := url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {d.str("device_code")}, "client_id": {tv.id}}
	p := e.form(PathToken, withResources(poll, resB))
	if p.status != 200 || !slices.Equal(e.aud(t, p.str("access_token")), []string{resB}) {
		t.Fatalf("device poll: %d %s", p.status, p.raw)
	}
	if strings.Contains(p.raw, "invalid") {
		t.Error(p.raw)
	}
}
