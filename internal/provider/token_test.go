package provider

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/store"
)

func TestPasswordGrantSeed000(t *testing.T) {
	e := newEnv(t)
	before := e.counts()
	r := e.passwordLogin(e.pw, "openid profile email voucher")

	// Seed 000's fields, plus scope and id_token, and nothing else.
	var keys []string
	for k := range r.body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"access_token", "expires_in", "first_name", "id_token", "last_name", "refresh_token", "scope", "token_type", "uid"}
	if !slices.Equal(keys, want) {
		t.Fatalf("fields %v, want %v", keys, want)
	}
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(900) || r.str("scope") != "openid profile email voucher" {
		t.Errorf("response %s", r.raw)
	}
	if r.str("first_name") != "Ana" || r.str("last_name") != "Núñez" || r.str("uid") != e.user.ID {
		t.Errorf("user fields %s", r.raw)
	}
	if !strings.HasPrefix(r.str("refresh_token"), "mnx_rt_") {
		t.Errorf("refresh token %q", r.str("refresh_token"))
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Errorf("cache headers %v", r.header)
	}
	if got := e.counts(); got[0] != before[0]+1 || got[1] != before[1]+1 {
		t.Errorf("counts %v → %v, want one grant and one refresh token more", before, got)
	}

	claims, err := e.keys.VerifyAccess(e.ctx, r.str("access_token"), e.issuer, []string{e.issuer})
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != e.user.ID || claims.ClientID != e.pw.id || claims.GrantID == "" || claims.JTI == "" ||
		claims.Scope != "openid profile email voucher" || claims.ExpiresAt.Sub(claims.IssuedAt) != 900*time.Second {
		t.Errorf("access claims %+v", claims)
	}
	id, err := e.keys.VerifyID(e.ctx, r.str("id_token"), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != e.user.ID || id.Audience != e.pw.id || id.AuthTime.IsZero() ||
		id.Extra["email"] != e.email || id.Extra["given_name"] != "Ana" || id.Extra["family_name"] != "Núñez" || id.Extra["name"] != "Ana Núñez" {
		t.Errorf("id claims %+v", id)
	}
	if err := e.bearer(r.str("access_token")); err != nil {
		t.Errorf("VerifyBearer: %v", err)
	}

	// Without openid: no ID token; without profile/email: no such claims.
	r = e.passwordLogin(e.pw, "voucher")
	if r.str("id_token") != "" || r.str("scope") != "voucher" {
		t.Errorf("response %s", r.raw)
	}
	// No scope: the client's default set.
	r = e.passwordLogin(e.pw, "")
	if r.str("scope") != "openid profile email voucher offline_access" {
		t.Errorf("default scope %q", r.str("scope"))
	}
	// A public client: client_id only.
	r = e.passwordLogin(e.pub, "openid")
	if r.str("refresh_token") == "" {
		t.Errorf("public client got no refresh token: %s", r.raw)
	}
	if r := e.refresh(e.pub, r.str("refresh_token"), ""); r.status != 200 {
		t.Errorf("public client refresh: %d %s", r.status, r.raw)
	}
}

// Seed 004: JSON body with a trailing comma, Basic auth, the alias path.
func TestSeed004JSONAndBasic(t *testing.T) {
	e := newEnv(t)
	auth := basic(e.pw.id, e.pw.secret)
	body := "{\n    \"grant_type\": \"password\",\n    \"username\": \"" + e.email + "\",\n    \"password\": \"" + e.password + "\",\n}"
	r := e.rawPost(PathTokenAlias, "application/json", body, "Authorization", auth)
	if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("seed 004 login: %d %s", r.status, r.raw)
	}
	body = "{\n    \"grant_type\": \"refresh_token\",\n    \"refresh_token\": \"" + r.str("refresh_token") + "\",\n}"
	r2 := e.rawPost(PathTokenAlias, "application/json; charset=utf-8", body, "Authorization", auth)
	if r2.status != 200 || r2.str("access_token") == "" || r2.str("refresh_token") == r.str("refresh_token") {
		t.Fatalf("seed 004 refresh: %d %s", r2.status, r2.raw)
	}
	// GET /api/v1/users/me/ is the API's; here: the token works as a bearer.
	if err := e.bearer(r2.str("access_token")); err != nil {
		t.Fatal(err)
	}
	// Basic credentials are form-urlencoded (RFC 6749 §2.3.1): a secret
	// with reserved characters works only when decoded.
	if r := e.form(PathToken, url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password}},
		"Authorization", "bAsIc "+strings.TrimPrefix(auth, "Basic ")); r.status != 200 {
		t.Errorf("case-insensitive Basic scheme: %d %s", r.status, r.raw)
	}
}

func TestTokenErrors(t *testing.T) {
	e := newEnv(t)
	pwLogin := func(c testClient) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password}, "client_id": {c.id}, "client_secret": {c.secret}}
	}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = slices.Clone(vs)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				out.Del(kv[i])
			} else {
				out.Set(kv[i], kv[i+1])
			}
		}
		return out
	}
	disabled := e.mkClient(t, "off", store.ClientConfidential, true)
	good := pwLogin(e.pw)
	tests := []struct {
		name      string
		body      string
		ctype     string
		hdr       []string
		status    int
		code      string
		challenge bool
	}{
		{name: "wrong secret", body: with(good, "client_secret", "mnx_cs_wrong").Encode(), status: 400, code: "invalid_client"},
		{name: "wrong secret basic", body: with(good, "client_id", "", "client_secret", "").Encode(), hdr: []string{"Authorization", basic(e.pw.id, "nope")}, status: 401, code: "invalid_client", challenge: true},
		{name: "empty secret basic", body: with(good, "client_id", "", "client_secret", "").Encode(), hdr: []string{"Authorization", basic(e.pw.id, "")}, status: 401, code: "invalid_client", challenge: true},
		{name: "malformed basic", body: with(good, "client_id", "", "client_secret", "").Encode(), hdr: []string{"Authorization", "Basic !!!"}, status: 401, code: "invalid_client", challenge: true},
		{name: "unknown client", body: with(good, "client_id", "nope").Encode(), status: 400, code: "invalid_client"},
		{name: "unknown client basic", body: with(good, "client_id", "", "client_secret", "").Encode(), hdr: []string{"Authorization", basic("nope", "x")}, status: 401, code: "invalid_client", challenge: true},
		{name: "no client auth", body: with(good, "client_id", "", "client_secret", "").Encode(), status: 400, code: "invalid_client"},
		{name: "confidential without secret", body: with(good, "client_secret", "").Encode(), status: 400, code: "invalid_client"},
		{name: "public client with secret", body: with(good, "client_id", e.pub.id, "client_secret", "something").Encode(), status: 400, code: "invalid_client"},
		{name: "disabled client", body: with(good, "client_id", disabled.id, "client_secret", disabled.secret).Encode(), status: 400, code: "invalid_client"},
		{name: "both auth methods", body: good.Encode(), hdr: []string{"Authorization", basic(e.pw.id, e.pw.secret)}, status: 400, code: "invalid_request"},
		{name: "basic and another client_id", body: with(good, "client_id", e.cc.id, "client_secret", "").Encode(), hdr: []string{"Authorization", basic(e.pw.id, e.pw.secret)}, status: 400, code: "invalid_request"},
		{name: "grant not allowed", body: with(good, "client_id", e.cc.id, "client_secret", e.cc.secret).Encode(), status: 400, code: "unauthorized_client"},
		{name: "client_credentials not allowed", body: with(good, "grant_type", "client_credentials").Encode(), status: 400, code: "unauthorized_client"},
		{name: "client_credentials public", body: with(good, "grant_type", "client_credentials", "client_id", e.pub.id, "client_secret", "").Encode(), status: 400, code: "unauthorized_client"},
		{name: "refresh not allowed", body: with(good, "grant_type", "refresh_token", "refresh_token", "mnx_rt_x", "client_id", e.cc.id, "client_secret", e.cc.secret).Encode(), status: 400, code: "unauthorized_client"},
		{name: "scope not allowed", body: with(good, "scope", "openid admin").Encode(), status: 400, code: "invalid_scope"},
		{name: "scope not allowed for this client", body: with(good, "grant_type", "client_credentials", "client_id", e.cc.id, "client_secret", e.cc.secret, "scope", "openid").Encode(), status: 400, code: "invalid_scope"},
		{name: "malformed scope", body: with(good, "scope", "open\"id").Encode(), status: 400, code: "invalid_scope"},
		{name: "unknown grant type", body: with(good, "grant_type", "magic").Encode(), status: 400, code: "unsupported_grant_type"},
		{name: "implicit is no grant type", body: with(good, "grant_type", "implicit").Encode(), status: 400, code: "unsupported_grant_type"},
		{name: "missing grant type", body: with(good, "grant_type", "").Encode(), status: 400, code: "invalid_request"},
		{name: "missing username", body: with(good, "username", "").Encode(), status: 400, code: "invalid_request"},
		{name: "missing password", body: with(good, "password", "").Encode(), status: 400, code: "invalid_request"},
		{name: "wrong password", body: with(good, "password", "wrong password here").Encode(), status: 400, code: "invalid_grant"},
		{name: "unknown user", body: with(good, "username", "nadie@example.com").Encode(), status: 400, code: "invalid_grant"},
		{name: "repeated parameter", body: good.Encode() + "&scope=openid&scope=email", status: 400, code: "invalid_request"},
		{name: "missing refresh token", body: with(good, "grant_type", "refresh_token").Encode(), status: 400, code: "invalid_request"},
		{name: "garbage refresh token", body: with(good, "grant_type", "refresh_token", "refresh_token", "mnx_rt_garbage").Encode(), status: 400, code: "invalid_grant"},
		{name: "unknown refresh token", body: with(good, "grant_type", "refresh_token", "refresh_token", "mnx_rt_"+strings.Repeat("A", 43)).Encode(), status: 400, code: "invalid_grant"},
		{name: "missing code", body: with(good, "grant_type", "authorization_code", "client_id", e.code.id, "client_secret", e.code.secret).Encode(), status: 400, code: "invalid_request"},
		{name: "unknown code", body: with(good, "grant_type", "authorization_code", "client_id", e.code.id, "client_secret", e.code.secret, "code", "mnx_ac_"+strings.Repeat("A", 43)).Encode(), status: 400, code: "invalid_grant"},
		{name: "wrong content type", ctype: "text/plain", body: good.Encode(), status: 400, code: "invalid_request"},
		{name: "no content type", ctype: "-", body: good.Encode(), status: 400, code: "invalid_request"},
		{name: "body too large", body: good.Encode() + "&pad=" + strings.Repeat("a", 70<<10), status: 413, code: "invalid_request"},
		{name: "json number", ctype: "application/json", body: `{"grant_type":"password","username":"` + e.email + `","password":1234,"client_id":"` + e.pw.id + `"}`, status: 400, code: "invalid_request"},
		{name: "json scope array", ctype: "application/json", body: `{"grant_type":"password","scope":["openid"]}`, status: 400, code: "invalid_request"},
		{name: "json malformed", ctype: "application/json", body: `{"grant_type":"password",,}`, status: 400, code: "invalid_request"},
		{name: "json leading comma", ctype: "application/json", body: `{,"grant_type":"password"}`, status: 400, code: "invalid_request"},
		{name: "json duplicate key", ctype: "application/json", body: `{"grant_type":"password","grant_type":"client_credentials"}`, status: 400, code: "invalid_request"},
		{name: "json both auth methods", ctype: "application/json", body: `{"grant_type":"password","username":"` + e.email + `","password":"` + e.password + `","client_secret":"` + e.pw.secret + `",}`, hdr: []string{"Authorization", basic(e.pw.id, e.pw.secret)}, status: 400, code: "invalid_request"},
		{name: "json wrong secret basic", ctype: "application/json", body: `{"grant_type":"password","username":"` + e.email + `","password":"` + e.password + `",}`, hdr: []string{"Authorization", basic(e.pw.id, "bad")}, status: 401, code: "invalid_client", challenge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			before := e.counts()
			ctype := tt.ctype
			switch ctype {
			case "":
				ctype = "application/x-www-form-urlencoded"
			case "-":
				ctype = ""
			}
			r := e.rawPost(PathToken, ctype, tt.body, tt.hdr...)
			wantOAuthError(t, r, tt.status, tt.code)
			if got := r.header.Get("WWW-Authenticate"); (got != "") != tt.challenge || (tt.challenge && !strings.HasPrefix(got, "Basic realm=")) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if strings.Contains(r.raw, e.password) || strings.Contains(r.raw, e.pw.secret) {
				t.Errorf("secret echoed: %s", r.raw)
			}
			if after := e.counts(); after != before {
				t.Errorf("rows %v → %v on an error", before, after)
			}
		})
	}
	e.t = t
	// Methods other than POST.
	res, err := http.Get(e.srv.URL + PathToken)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d", res.StatusCode)
	}
}

func (e *env) mkClient(t testing.TB, name, typ string, disabled bool) testClient {
	t.Helper()
	c := e.newClient(t, name, typ, []string{store.GrantPassword})
	if disabled {
		d := true
		if _, err := e.st.UpdateClient(e.ctx, c.id, store.ClientUpdate{Disabled: &d}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestThrottledLogin(t *testing.T) {
	e := newEnv(t, func(_ *Config, a *account.Config) { a.LockAfter = 2; a.SlowAfter = 100 })
	v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {"not the password"}, "client_id": {e.pw.id}, "client_secret": {e.pw.secret}}
	for range 2 {
		wantOAuthError(t, e.form(PathToken, v), 400, "invalid_grant")
	}
	before := e.counts()
	r := e.form(PathToken, v)
	wantOAuthError(t, r, http.StatusTooManyRequests, "invalid_grant")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if e.counts() != before {
		t.Error("rows written")
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	first := e.passwordLogin(e.pw, "openid email")
	rt1, at1 := first.str("refresh_token"), first.str("access_token")

	r2 := e.refresh(e.pw, rt1, "")
	if r2.status != 200 {
		t.Fatalf("refresh: %d %s", r2.status, r2.raw)
	}
	rt2 := r2.str("refresh_token")
	if rt2 == "" || rt2 == rt1 || r2.str("scope") != "openid email" || r2.str("id_token") == "" || r2.str("uid") != e.user.ID {
		t.Fatalf("refresh response %s", r2.raw)
	}
	if err := e.bearer(r2.str("access_token")); err != nil {
		t.Fatal(err)
	}
	// Reuse of rt1 (grace off): invalid_grant, the family dies.
	before := e.counts()
	wantOAuthError(t, e.refresh(e.pw, rt1, ""), 400, "invalid_grant")
	if got := e.counts(); got[1] != before[1] {
		t.Errorf("refresh tokens %v → %v", before, got)
	}
	wantOAuthError(t, e.refresh(e.pw, rt2, ""), 400, "invalid_grant")
	for _, at := range []string{at1, r2.str("access_token")} {
		if err := e.bearer(at); err == nil {
			t.Error("access token of a revoked family still works")
		}
	}
	if r := e.introspect(rt2); r.body["active"] != false {
		t.Errorf("introspect after reuse: %s", r.raw)
	}
	evs, _, err := e.st.ListEvents(e.ctx, store.ListOptions{Filters: []store.Filter{{Field: "type", Op: "eq", Value: "refresh.reused"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ClientID != e.pw.id || evs[0].UserID != e.user.ID {
		t.Errorf("events %+v", evs)
	}
}

func TestRefreshGraceWindow(t *testing.T) {
	e := newEnv(t, withGrace(30*time.Second))
	rt1 := e.passwordLogin(e.pw, "openid").str("refresh_token")
	r2 := e.refresh(e.pw, rt1, "")
	if r2.status != 200 {
		t.Fatal(r2.raw)
	}
	// The response was "lost": the retry within the window is served again.
	e.clk.Advance(10 * time.Second)
	r3 := e.refresh(e.pw, rt1, "")
	if r3.status != 200 || r3.str("refresh_token") == r2.str("refresh_token") {
		t.Fatalf("retry within grace: %d %s", r3.status, r3.raw)
	}
	// The successor the lost response carried no longer works (the store
	// deleted it); the retry's successor does.
	wantOAuthError(t, e.refresh(e.pw, r2.str("refresh_token"), ""), 400, "invalid_grant")
	if r := e.refresh(e.pw, r3.str("refresh_token"), ""); r.status != 200 {
		t.Fatalf("successor of the retry: %d %s", r.status, r.raw)
	}

	// Outside the window a reuse revokes the family.
	rt1 = e.passwordLogin(e.pw, "openid").str("refresh_token")
	r2 = e.refresh(e.pw, rt1, "")
	if r2.status != 200 {
		t.Fatal(r2.raw)
	}
	e.clk.Advance(31 * time.Second)
	wantOAuthError(t, e.refresh(e.pw, rt1, ""), 400, "invalid_grant")
	wantOAuthError(t, e.refresh(e.pw, r2.str("refresh_token"), ""), 400, "invalid_grant")
}

func TestRefreshConcurrent(t *testing.T) {
	e := newEnv(t)
	rt := e.passwordLogin(e.pw, "openid").str("refresh_token")
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		codes   []string
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e.pw.id}, "client_secret": {e.pw.secret}}
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathToken, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := e.do(req)
			mu.Lock()
			defer mu.Unlock()
			if r.status == 200 {
				winners = append(winners, r.str("refresh_token"))
			} else {
				codes = append(codes, r.str("error"))
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded (errors %v)", len(winners), n, codes)
	}
	for _, c := range codes {
		if c != "invalid_grant" {
			t.Errorf("loser got %q", c)
		}
	}
	// The losers presented a rotated token: the family is dead.
	wantOAuthError(t, e.refresh(e.pw, winners[0], ""), 400, "invalid_grant")
}

func TestRefreshOtherClientAndScope(t *testing.T) {
	e := newEnv(t)
	other := e.newClient(t, "other", store.ClientConfidential, []string{store.GrantPassword, store.GrantRefreshToken})
	rt := e.passwordLogin(e.pw, "openid email").str("refresh_token")
	before := e.counts()
	// Another client's token: refused, and not rotated (still works for its owner).
	wantOAuthError(t, e.refresh(other, rt, ""), 400, "invalid_grant")
	if e.counts() != before {
		t.Error("rows written")
	}
	// Widening is refused; nothing is rotated.
	wantOAuthError(t, e.refresh(e.pw, rt, "openid email voucher"), 400, "invalid_scope")
	// Narrowing works.
	r := e.refresh(e.pw, rt, "email")
	if r.status != 200 || r.str("scope") != "email" || r.str("id_token") != "" {
		t.Fatalf("narrow: %d %s", r.status, r.raw)
	}
	c, err := e.keys.VerifyAccess(e.ctx, r.str("access_token"), e.issuer, nil)
	if err != nil || c.Scope != "email" {
		t.Fatalf("narrowed access token %+v %v", c, err)
	}
	// The next refresh without scope gets the grant's scope back (RFC 6749
	// §6: omitted means the scope originally granted).
	r = e.refresh(e.pw, r.str("refresh_token"), "")
	if r.status != 200 || r.str("scope") != "openid email" {
		t.Fatalf("after narrowing: %d %s", r.status, r.raw)
	}
}

func TestRefreshDisabledUser(t *testing.T) {
	e := newEnv(t)
	first := e.passwordLogin(e.pw, "openid")
	disabled := true
	if _, err := e.st.UpdateUser(e.ctx, e.user.ID, store.UserUpdate{Disabled: &disabled}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	before := e.counts()
	wantOAuthError(t, e.refresh(e.pw, first.str("refresh_token"), ""), 400, "invalid_grant")
	if e.counts() != before {
		t.Error("rotated for a disabled user")
	}
	if err := e.bearer(first.str("access_token")); err == nil {
		t.Error("a disabled user's access token still works")
	}
	// And the password grant refuses the account.
	v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password}, "client_id": {e.pw.id}, "client_secret": {e.pw.secret}}
	wantOAuthError(t, e.form(PathToken, v), 400, "invalid_grant")
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t)
	before := e.counts()
	r := e.form(PathToken, url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic(e.cc.id, e.cc.secret))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if r.str("refresh_token") != "" || r.str("id_token") != "" || r.body["uid"] != nil || r.str("scope") != "voucher" || r.body["expires_in"] != float64(900) {
		t.Errorf("response %s", r.raw)
	}
	if got := e.counts(); got[0] != before[0]+1 || got[1] != before[1] {
		t.Errorf("rows %v → %v, want one grant and no refresh token", before, got)
	}
	c, err := e.keys.VerifyAccess(e.ctx, r.str("access_token"), e.issuer, nil)
	if err != nil || c.Subject != e.cc.id || c.ClientID != e.cc.id {
		t.Fatalf("claims %+v %v", c, err)
	}
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+r.str("access_token"))
	acc, err := e.p.VerifyBearer(req)
	if err != nil || acc.UserID != "" || acc.ClientID != e.cc.id || !acc.HasScope("voucher") {
		t.Fatalf("VerifyBearer %+v %v", acc, err)
	}
	in := e.introspect(r.str("access_token"))
	if in.body["active"] != true || in.str("sub") != e.cc.id || in.str("username") != "" {
		t.Errorf("introspect %s", in.raw)
	}
	// Revocable like any other grant.
	if r := e.form(PathRevoke, url.Values{"token": {r.str("access_token")}}, "Authorization", basic(e.cc.id, e.cc.secret)); r.status != 200 {
		t.Fatal(r.raw)
	}
	if err := e.bearer(r.str("access_token")); err == nil {
		t.Error("revoked client_credentials token still works")
	}
}
