package provider

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// deviceClients adds a public device client (with refresh tokens), a
// confidential one (without) and returns them.
func (e *env) deviceClients(t *testing.T) (tv, svc testClient) {
	t.Helper()
	tv = e.newClient(t, "Televisor", store.ClientPublic, []string{store.GrantDeviceCode, store.GrantRefreshToken})
	svc = e.newClient(t, "Consola", store.ClientConfidential, []string{store.GrantDeviceCode})
	return tv, svc
}

// authorizeDevice runs the device authorization request for c and fails the
// test unless it succeeds.
func (e *env) authorizeDevice(t *testing.T, c testClient, scope string) *resp {
	t.Helper()
	v := url.Values{"client_id": {c.id}}
	if c.secret != "" {
		v.Set("client_secret", c.secret)
	}
	if scope != "" {
		v.Set("scope", scope)
	}
	r := e.form(PathDevice, v)
	if r.status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", r.status, r.raw)
	}
	return r
}

// pollDevice is one device access token request.
func (e *env) pollDevice(c testClient, deviceCode string) *resp {
	e.t.Helper()
	v := url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {c.id}}
	if c.secret != "" {
		v.Set("client_secret", c.secret)
	}
	return e.form(PathToken, v)
}

// decide answers the authorization with user code uc (as shown) as the test user.
func (e *env) decide(t *testing.T, uc string, approve bool) {
	t.Helper()
	n, ok := oauth.NormalizeUserCode(uc)
	if !ok {
		t.Fatalf("user code %q does not normalise", uc)
	}
	now := e.clk.Now()
	if err := e.st.DecideDeviceCode(e.ctx, store.HashToken(n), approve, e.user.ID, now, nil, now); err != nil {
		t.Fatalf("DecideDeviceCode: %v", err)
	}
}

func (e *env) deviceRows(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.raw.QueryRow("SELECT count(*) FROM device_codes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeviceAuthorization(t *testing.T) {
	e := newEnv(t)
	tv, svc := e.deviceClients(t)

	r := e.authorizeDevice(t, tv, "openid profile")
	dc, uc := r.str("device_code"), r.str("user_code")
	if !token.HasOpaqueForm(dc, token.PrefixDevice) {
		t.Errorf("device_code %q is not a 256-bit opaque secret", dc)
	}
	if !userCodeRE.MatchString(uc) {
		t.Errorf("user_code %q, want XXXX-XXXX from the RFC 8628 §6.1 alphabet", uc)
	}
	if got := r.str("verification_uri"); got != e.issuer+"/activate" {
		t.Errorf("verification_uri %q", got)
	}
	if got, want := r.str("verification_uri_complete"), e.issuer+"/activate?user_code="+uc; got != want {
		t.Errorf("verification_uri_complete %q, want %q", got, want)
	}
	if r.body["expires_in"] != float64(600) || r.body["interval"] != float64(5) {
		t.Errorf("expires_in %v interval %v, want 600 and 5", r.body["expires_in"], r.body["interval"])
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Errorf("cache headers %v", r.header)
	}
	n, _ := oauth.NormalizeUserCode(uc)
	d, err := e.st.GetDeviceCodeByUserCode(e.ctx, store.HashToken(n), e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d.ClientID != tv.id || fmt.Sprint(d.Scopes) != "[openid profile]" || d.Interval != 5*time.Second ||
		!d.ExpiresAt.Equal(e.clk.Now().Add(600*time.Second)) || string(d.DeviceHash) != string(store.HashToken(dc)) {
		t.Errorf("stored %+v", d)
	}

	// Confidential client with Basic; no scope: the client's default set.
	r = e.form(PathDevice, url.Values{}, "Authorization", basic(svc.id, svc.secret))
	if r.status != http.StatusOK || r.str("device_code") == "" {
		t.Fatalf("confidential client: %d %s", r.status, r.raw)
	}
	if r.str("user_code") == uc || r.str("device_code") == dc {
		t.Error("two authorizations share a code")
	}
}

func TestDeviceAuthorizationErrors(t *testing.T) {
	e := newEnv(t)
	tv, svc := e.deviceClients(t)
	tests := []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
		code   string
	}{
		{"no client", url.Values{}, nil, 400, oauth.CodeInvalidClient},
		{"unknown client", url.Values{"client_id": {"nope"}}, nil, 400, oauth.CodeInvalidClient},
		{"confidential without secret", url.Values{"client_id": {svc.id}}, nil, 400, oauth.CodeInvalidClient},
		{"confidential wrong secret", url.Values{"client_id": {svc.id}, "client_secret": {"wrong"}}, nil, 400, oauth.CodeInvalidClient},
		{"confidential wrong Basic", url.Values{}, []string{"Authorization", basic(svc.id, "wrong")}, 401, oauth.CodeInvalidClient},
		{"public with a secret", url.Values{"client_id": {tv.id}, "client_secret": {"x"}}, nil, 400, oauth.CodeInvalidClient},
		{"client without the device grant", url.Values{"client_id": {e.pw.id}, "client_secret": {e.pw.secret}}, nil, 400, oauth.CodeUnauthorizedClient},
		{"public client without the device grant", url.Values{"client_id": {e.pub.id}}, nil, 400, oauth.CodeUnauthorizedClient},
		{"scope not allowed", url.Values{"client_id": {tv.id}, "scope": {"openid admin"}}, nil, 400, oauth.CodeInvalidScope},
		{"repeated parameter", url.Values{"client_id": {tv.id}, "scope": {"openid", "profile"}}, nil, 400, oauth.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.form(PathDevice, tc.form, tc.hdr...)
			wantOAuthError(t, r, tc.status, tc.code)
			if r.str("device_code") != "" || r.str("user_code") != "" {
				t.Errorf("codes issued on an error: %s", r.raw)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	r := e.rawPost(PathDevice, "text/plain", "client_id="+tv.id)
	wantOAuthError(t, r, 400, oauth.CodeInvalidRequest)
	if n := e.deviceRows(t); n != 0 {
		t.Errorf("%d device codes stored by refused requests", n)
	}
}

func TestDeviceGrant(t *testing.T) {
	e := newEnv(t)
	tv, _ := e.deviceClients(t)
	r := e.authorizeDevice(t, tv, "openid profile email")
	dc, uc := r.str("device_code"), r.str("user_code")
	before := e.counts()

	// Pending, then too fast: slow_down, and the interval grows by 5 s.
	e.clk.Advance(5 * time.Second)
	wantOAuthError(t, e.pollDevice(tv, dc), 400, "authorization_pending")
	e.clk.Advance(time.Second)
	wantOAuthError(t, e.pollDevice(tv, dc), 400, "slow_down")
	e.clk.Advance(6 * time.Second) // 6 s < the new 10 s interval
	wantOAuthError(t, e.pollDevice(tv, dc), 400, "slow_down")
	e.clk.Advance(15 * time.Second) // now 15 s
	wantOAuthError(t, e.pollDevice(tv, dc), 400, "authorization_pending")
	if e.counts() != before {
		t.Fatal("a pending poll stored something")
	}

	e.decide(t, uc, true)
	e.clk.Advance(15 * time.Second)
	r = e.pollDevice(tv, dc)
	if r.status != 200 {
		t.Fatalf("approved poll: %d %s", r.status, r.raw)
	}
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(900) || r.str("scope") != "openid profile email" ||
		r.str("refresh_token") == "" || r.str("id_token") == "" || r.str("uid") != e.user.ID || r.str("first_name") != "Ana" {
		t.Fatalf("token response %s", r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("token response cacheable")
	}
	if err := e.bearer(r.str("access_token")); err != nil {
		t.Fatalf("access token refused: %v", err)
	}
	claims, err := e.keys.VerifyAccess(e.ctx, r.str("access_token"), e.issuer, []string{e.issuer})
	if err != nil || claims.GrantType != store.GrantDeviceCode || claims.Subject != e.user.ID || claims.ClientID != tv.id {
		t.Fatalf("access claims %+v %v", claims, err)
	}
	if got := e.counts(); got != [2]int{before[0] + 1, before[1] + 1} {
		t.Fatalf("grants, tokens = %v, want one more of each than %v", got, before)
	}

	// Single use.
	e.clk.Advance(5 * time.Second)
	wantOAuthError(t, e.pollDevice(tv, dc), 400, oauth.CodeInvalidGrant)
	// The refresh token works (and rotates).
	rr := e.refresh(tv, r.str("refresh_token"), "")
	if rr.status != 200 || rr.str("refresh_token") == "" {
		t.Fatalf("refresh: %d %s", rr.status, rr.raw)
	}
}

// TestDeviceGrantApprovedFastPoll: once approved, a poll sooner than the
// interval still gets the tokens (slow_down is a variant of pending).
func TestDeviceGrantApprovedFastPoll(t *testing.T) {
	e := newEnv(t)
	_, svc := e.deviceClients(t)
	r := e.authorizeDevice(t, svc, "voucher")
	dc := r.str("device_code")
	wantOAuthError(t, e.pollDevice(svc, dc), 400, "authorization_pending")
	e.decide(t, r.str("user_code"), true)
	r = e.pollDevice(svc, dc)
	if r.status != 200 || r.str("scope") != "voucher" || r.str("id_token") != "" {
		t.Fatalf("approved poll: %d %s", r.status, r.raw)
	}
	// The client was not given refresh_token: no refresh token.
	if r.str("refresh_token") != "" {
		t.Errorf("refresh token issued to a client without the refresh_token grant: %s", r.raw)
	}
}

func TestDeviceGrantErrors(t *testing.T) {
	e := newEnv(t)
	tv, svc := e.deviceClients(t)
	other := e.newClient(t, "Otro", store.ClientPublic, []string{store.GrantDeviceCode})

	t.Run("missing device_code", func(t *testing.T) {
		r := e.form(PathToken, url.Values{"grant_type": {store.GrantDeviceCode}, "client_id": {tv.id}})
		wantOAuthError(t, r, 400, oauth.CodeInvalidRequest)
	})
	t.Run("malformed device_code", func(t *testing.T) {
		wantOAuthError(t, e.pollDevice(tv, "not-a-code"), 400, oauth.CodeInvalidGrant)
	})
	t.Run("unknown device_code", func(t *testing.T) {
		wantOAuthError(t, e.pollDevice(tv, token.NewOpaque(token.PrefixDevice)), 400, oauth.CodeInvalidGrant)
	})
	t.Run("client without the device grant", func(t *testing.T) {
		dc := e.authorizeDevice(t, tv, "").str("device_code")
		r := e.form(PathToken, url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {dc}, "client_id": {e.pub.id}})
		wantOAuthError(t, r, 400, oauth.CodeUnauthorizedClient)
	})
	t.Run("wrong client secret", func(t *testing.T) {
		dc := e.authorizeDevice(t, svc, "").str("device_code")
		wantOAuthError(t, e.pollDevice(testClient{svc.id, "wrong"}, dc), 400, oauth.CodeInvalidClient)
	})
	t.Run("another client's code", func(t *testing.T) {
		r := e.authorizeDevice(t, tv, "openid")
		e.decide(t, r.str("user_code"), true)
		before := e.counts()
		wantOAuthError(t, e.pollDevice(other, r.str("device_code")), 400, oauth.CodeInvalidGrant)
		if e.counts() != before {
			t.Fatal("another client's poll issued something")
		}
		// Left untouched: its own client still gets the tokens.
		if got := e.pollDevice(tv, r.str("device_code")); got.status != 200 {
			t.Fatalf("own client after another's poll: %d %s", got.status, got.raw)
		}
	})
	t.Run("denied", func(t *testing.T) {
		r := e.authorizeDevice(t, tv, "openid")
		e.decide(t, r.str("user_code"), false)
		before := e.counts()
		for range 2 {
			e.clk.Advance(5 * time.Second)
			wantOAuthError(t, e.pollDevice(tv, r.str("device_code")), 400, oauth.CodeAccessDenied)
		}
		if e.counts() != before {
			t.Fatal("a denied poll issued something")
		}
	})
	t.Run("expired", func(t *testing.T) {
		r := e.authorizeDevice(t, tv, "openid")
		e.decide(t, r.str("user_code"), true)
		e.clk.Advance(600 * time.Second)
		before := e.counts()
		wantOAuthError(t, e.pollDevice(tv, r.str("device_code")), 400, "expired_token")
		if e.counts() != before {
			t.Fatal("an expired poll issued something")
		}
	})
	t.Run("used", func(t *testing.T) {
		r := e.authorizeDevice(t, tv, "openid")
		e.decide(t, r.str("user_code"), true)
		if got := e.pollDevice(tv, r.str("device_code")); got.status != 200 {
			t.Fatalf("first poll: %d %s", got.status, got.raw)
		}
		before := e.counts()
		e.clk.Advance(5 * time.Second)
		wantOAuthError(t, e.pollDevice(tv, r.str("device_code")), 400, oauth.CodeInvalidGrant)
		if e.counts() != before {
			t.Fatal("a second poll issued something")
		}
	})
	t.Run("user disabled after approving", func(t *testing.T) {
		e2 := newEnv(t)
		tv2, _ := e2.deviceClients(t)
		r := e2.authorizeDevice(t, tv2, "openid")
		e2.decide(t, r.str("user_code"), true)
		if err := e2.st.DisableUser(e2.ctx, e2.user.ID, e2.clk.Now()); err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, e2.pollDevice(tv2, r.str("device_code")), 400, oauth.CodeInvalidGrant)
		if n := e2.liveGrants(t); n != 0 {
			t.Fatalf("%d live grants after a refused poll", n)
		}
	})
}

// TestDeviceConcurrentPolls: of N polls racing after approval, exactly one
// gets tokens; the others are invalid_grant.
func TestDeviceConcurrentPolls(t *testing.T) {
	e := newEnv(t)
	tv, _ := e.deviceClients(t)
	r := e.authorizeDevice(t, tv, "openid")
	e.decide(t, r.str("user_code"), true)
	const n = 12
	results := make([]*resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.pollDevice(tv, r.str("device_code"))
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch {
		case r.status == 200 && r.str("access_token") != "":
			ok++
		case r.status == 400 && r.str("error") == oauth.CodeInvalidGrant && r.str("access_token") == "":
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if ok != 1 {
		t.Fatalf("%d polls got tokens, want 1", ok)
	}
	if got := e.counts(); got[0] != 1 || got[1] != 1 {
		t.Fatalf("grants, tokens = %v, want 1, 1", got)
	}
}

func TestDeviceDiscovery(t *testing.T) {
	e := newEnv(t)
	r := e.do(mustGet(t, e.srv.URL+PathOIDCDiscovery))
	if r.str("device_authorization_endpoint") != e.issuer+PathDevice {
		t.Errorf("device_authorization_endpoint %v", r.body["device_authorization_endpoint"])
	}
	found := false
	for _, g := range r.body["grant_types_supported"].([]any) {
		found = found || g == store.GrantDeviceCode
	}
	if !found {
		t.Errorf("grant_types_supported %v lacks the device grant", r.body["grant_types_supported"])
	}
	// CORS preflight like the token endpoint.
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+PathDevice, nil)
	req.Header.Set("Origin", "https://spa.example")
	if r := e.do(req); r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight %d %v", r.status, r.header)
	}
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
