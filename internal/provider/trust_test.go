package provider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// TestAccountScopeOnlyFirstParty: the scope account is granted to
// first-party clients only, and only when asked for by name; a third party
// asking for it gets invalid_scope at every endpoint that grants scopes.
func TestAccountScopeOnlyFirstParty(t *testing.T) {
	e := newEnv(t)

	// The password grant makes a client first party by nature.
	r := e.passwordLogin(e.pw, "openid profile email voucher account")
	if !slices.Contains(strings.Fields(r.str("scope")), oauth.ScopeAccount) {
		t.Errorf("first party asked for account: scope %q", r.str("scope"))
	}
	// Seed 000's request: no account unless asked for.
	r = e.passwordLogin(e.pw, "openid profile email voucher")
	if r.str("scope") != "openid profile email voucher" {
		t.Errorf("seed 000 scope %q", r.str("scope"))
	}
	// No scope parameter: the client's default set, which never holds account.
	r = e.passwordLogin(e.pw, "")
	if slices.Contains(strings.Fields(r.str("scope")), oauth.ScopeAccount) {
		t.Errorf("account granted by default: %q", r.str("scope"))
	}

	// A third-party confidential client (client credentials).
	cc := e.form(PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"voucher account"}},
		"Authorization", basic(e.cc.id, e.cc.secret))
	wantOAuthError(t, cc, 400, "invalid_scope")
	if !strings.Contains(cc.str("error_description"), "primera parte") {
		t.Errorf("description %q does not say why", cc.str("error_description"))
	}

	// Device authorization by a third party.
	dev := e.newClient(t, "tv", store.ClientPublic, []string{store.GrantDeviceCode})
	d := e.form(PathDevice, url.Values{"client_id": {dev.id}, "scope": {"openid account"}})
	wantOAuthError(t, d, 400, "invalid_scope")

	// The operator registering account for a third party is refused too.
	_, _, err := clients.Create(e.ctx, e.st, clients.CreateInput{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"},
		Scopes: []string{"openid", "account"}}, e.clk.Now())
	var ie *clients.InputError
	if !errorsAs(err, &ie) || ie.Field != "scope" {
		t.Errorf("third party registered with account: %v", err)
	}
	// A developer cannot mark their own application first party.
	_, _, err = clients.Create(e.ctx, e.st, clients.CreateInput{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"},
		OwnerID: e.user.ID, SelfService: true, FirstParty: true}, e.clk.Now())
	if !errorsAs(err, &ie) || ie.Field != "first_party" {
		t.Errorf("self-service first party: %v", err)
	}
}

// TestAccountScopeFollowsFirstParty: a client the operator unmarks loses
// account at its next refresh (and the API refuses its current tokens:
// internal/api).
func TestAccountScopeFollowsFirstParty(t *testing.T) {
	e := newEnv(t)
	const cb = "https://app.example.com/cb"
	c, secret, err := clients.Create(e.ctx, e.st, clients.CreateInput{Name: "portal", FirstParty: true, RedirectURIs: []string{cb}}, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp := testClient{c.ID, secret}
	raw := token.NewOpaque(token.PrefixCode)
	now := e.clk.Now()
	if err := e.st.CreateAuthCode(e.ctx, &store.AuthCode{Hash: store.HashToken(raw), ClientID: fp.id, UserID: e.user.ID, RedirectURI: cb,
		Scopes: []string{"openid", "account"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	r := e.redeem(fp, raw, cb, "")
	if r.status != 200 || r.str("scope") != "openid account" {
		t.Fatalf("code exchange %d %s", r.status, r.raw)
	}
	rr := e.refresh(fp, r.str("refresh_token"), "")
	if rr.status != 200 || rr.str("scope") != "openid account" {
		t.Fatalf("refresh while first party: %d %s", rr.status, rr.raw)
	}
	if _, err := e.st.UpdateClient(e.ctx, fp.id, store.ClientUpdate{FirstParty: new(false)}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	rr = e.refresh(fp, rr.str("refresh_token"), "")
	if rr.status != 200 || rr.str("scope") != "openid" {
		t.Fatalf("refresh after unmarking: %d %s, want scope openid", rr.status, rr.raw)
	}
	wantOAuthError(t, e.refresh(fp, rr.str("refresh_token"), "openid account"), 400, "invalid_scope")
}

// TestClaimsAreTrue: every claim asserted about the person says what
// happened — email_verified only for a proven (here: operator-vouched)
// address and false again after a change; auth_time the time of the login,
// kept by refreshes; no amr, since nothing records how the person
// authenticated beyond the grant type.
func TestClaimsAreTrue(t *testing.T) {
	e := newEnv(t)
	userinfo := func(tok string) *resp {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return e.do(req)
	}
	idClaimsOf := func(r *resp) *token.IDClaims {
		t.Helper()
		id, err := e.keys.VerifyID(e.ctx, r.str("id_token"), e.issuer)
		if err != nil {
			t.Fatalf("id token: %v (%s)", err, r.raw)
		}
		return id
	}

	// A self-registered address is not verified.
	r := e.passwordLogin(e.pw, "openid email")
	if v := idClaimsOf(r).Extra["email_verified"]; v != false {
		t.Errorf("self-registered: ID token email_verified %v", v)
	}
	if ui := userinfo(r.str("access_token")); ui.body["email_verified"] != false {
		t.Errorf("self-registered: userinfo %s", ui.raw)
	}

	// An address the operator vouched for is.
	e.email, e.password = "vouched@example.com", "otra contraseña bastante larga"
	v, err := e.acct.Register(e.ctx, account.RegisterInput{Email: e.email, Password: e.password, FirstName: "Eva", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	loginAt := e.clk.Now()
	r = e.passwordLogin(e.pw, "openid email account")
	id := idClaimsOf(r)
	if id.Extra["email_verified"] != true || id.Subject != v.ID {
		t.Errorf("vouched: ID token %+v", id)
	}
	if !id.AuthTime.Equal(loginAt) {
		t.Errorf("auth_time %v, want the login %v", id.AuthTime, loginAt)
	}
	if _, ok := id.Extra["amr"]; ok {
		t.Errorf("amr asserted: %v", id.Extra["amr"])
	}
	if ui := userinfo(r.str("access_token")); ui.body["email_verified"] != true {
		t.Errorf("vouched: userinfo %s", ui.raw)
	}

	// Refreshing an hour later keeps the time of the login.
	e.clk.Advance(time.Hour)
	rr := e.refresh(e.pw, r.str("refresh_token"), "")
	if rr.status != 200 {
		t.Fatalf("refresh %d %s", rr.status, rr.raw)
	}
	if id := idClaimsOf(rr); !id.AuthTime.Equal(loginAt) {
		t.Errorf("refreshed auth_time %v, want the login %v", id.AuthTime, loginAt)
	}

	// A new address is unproven: the claim turns false at once.
	next := "eva.nueva@example.com"
	if _, err := e.acct.UpdateProfile(e.ctx, v.ID, account.ProfileUpdate{Email: &next, CurrentPassword: &e.password}); err != nil {
		t.Fatal(err)
	}
	if ui := userinfo(rr.str("access_token")); ui.body["email_verified"] != false || ui.body["email"] != next {
		t.Errorf("after an email change: userinfo %s", ui.raw)
	}
	rr = e.refresh(e.pw, rr.str("refresh_token"), "")
	if rr.status != 200 {
		t.Fatalf("refresh %d %s", rr.status, rr.raw)
	}
	if id := idClaimsOf(rr); id.Extra["email_verified"] != false {
		t.Errorf("after an email change: ID token email_verified %v", id.Extra["email_verified"])
	}
}
