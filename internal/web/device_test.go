package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

const deviceApp = "tv-app"

// newDeviceEnv is the pages plus the provider (device and token endpoints)
// and a public client given the device grant.
func newDeviceEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, func(e *env) {
		p, err := provider.New(provider.Config{Issuer: e.issuer, Store: e.st.DB, Keys: e.keys, Accounts: e.accts,
			Now: e.clock.Now, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		p.Mount(e.mux)
	})
	now := e.clock.Now()
	if err := e.st.CreateClient(t.Context(), &store.Client{ID: deviceApp, Name: "Televisor Sala", Type: store.ClientPublic,
		Grants: []string{store.GrantDeviceCode, store.GrantRefreshToken}, Scopes: []string{"openid", "profile", "email", "voucher"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return e
}

type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
}

// startDevice is the device's authorization request.
func (e *env) startDevice(scope string) deviceAuth {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+provider.PathDevice, url.Values{"client_id": {deviceApp}, "scope": {scope}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var da deviceAuth
	if err := json.NewDecoder(res.Body).Decode(&da); err != nil || res.StatusCode != 200 || da.UserCode == "" {
		e.t.Fatalf("device authorization: %d %v %+v", res.StatusCode, err, da)
	}
	return da
}

// poll is the device's token request; it returns the status and the body.
func (e *env) poll(dc string) (int, map[string]any) {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+provider.PathToken, url.Values{
		"grant_type": {store.GrantDeviceCode}, "device_code": {dc}, "client_id": {deviceApp}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("token response %d %s", res.StatusCode, b)
	}
	return res.StatusCode, m
}

// enterCode posts a code on the entry form.
func (b *browser) enterCode(code string, hdr ...string) *resp {
	return b.post(web.PathActivate, url.Values{"user_code": {code}}, hdr...)
}

// decideDevice answers the confirmation page r.
func (b *browser) decideDevice(r *resp, decision string) *resp {
	b.e.t.Helper()
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="/activate/decide"`) {
		b.e.t.Fatalf("not a device confirmation page: %d %s", r.status, r.body)
	}
	f := hidden(r.body)
	f.Set("decision", decision)
	return b.post(web.PathActivateDecide, f)
}

func TestActivate(t *testing.T) {
	e := newDeviceEnv(t)
	da := e.startDevice("openid profile")
	if !strings.HasPrefix(da.VerificationURIComplete, e.issuer+web.PathActivate+"?user_code=") || da.VerificationURI != e.issuer+web.PathActivate {
		t.Fatalf("verification URIs %+v", da)
	}
	b := e.browser()

	// Not signed in: to the login page, and back with the code.
	r := b.get(da.VerificationURIComplete)
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("activate without a session: %d %v", r.status, r.loc)
	}
	cont := r.loc.Query().Get("continue")
	if cont != "/activate?user_code="+da.UserCode {
		t.Fatalf("continue %q lost the code %s", cont, da.UserCode)
	}
	// The login page says what signing in is for, as it names the
	// application on an authorization request (and so does a failed try).
	r = b.get(r.loc.RequestURI())
	if r.status != http.StatusOK || !strings.Contains(r.body, "para conectar un dispositivo a tu cuenta") {
		t.Fatalf("login page from /activate: %d %s", r.status, r.body)
	}
	r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {"mala"}, "continue": {cont}})
	if !strings.Contains(r.body, "para conectar un dispositivo a tu cuenta") {
		t.Fatalf("login page from /activate after a wrong password: %d %s", r.status, r.body)
	}
	if r := e.browser().get(web.PathLogin + "?continue=/account"); strings.Contains(r.body, "dispositivo") {
		t.Fatalf("a plain login speaks of a device: %s", r.body)
	}
	r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}, "continue": {cont}})
	if r.status != http.StatusSeeOther || r.loc.RequestURI() != cont {
		t.Fatalf("login: %d %v, want back to %s", r.status, r.loc, cont)
	}

	// The link only pre-fills the form (RFC 8628 §5.4): nothing decided.
	r = b.get(cont)
	if r.status != http.StatusOK || !strings.Contains(r.body, `value="`+da.UserCode+`"`) || strings.Contains(r.body, "/activate/decide") {
		t.Fatalf("entry form: %d %s", r.status, r.body)
	}
	if !strings.Contains(r.body, "Conectar un dispositivo") || !strings.Contains(r.body, "las vocales no se usan") || r.header.Get("Content-Language") != "es" {
		t.Errorf("not Spanish by default: %s", r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("page headers %v", r.header)
	}
	if st, body := e.poll(da.DeviceCode); st != 400 || body["error"] != "authorization_pending" {
		t.Fatalf("after opening the link: %d %v", st, body)
	}

	// Wrong and malformed codes.
	r = b.enterCode("BBBB-BBBB")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "no es válido") {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	// Vowels are never in a code: the page says so rather than showing
	// an example that AAAA-BBBB seems to follow.
	for _, c := range []string{"12", "AAAA-BBBB"} {
		r = b.enterCode(c)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "ninguna vocal (las vocales no se usan)") {
			t.Fatalf("malformed code %q: %d %s", c, r.status, r.body)
		}
	}

	// The right code, typed carelessly: the confirmation names the app,
	// the scopes and the code.
	typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", " "))
	r = b.enterCode(typed)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Televisor Sala") || !strings.Contains(r.body, "Ver tu nombre") ||
		!strings.Contains(r.body, da.UserCode) || !strings.Contains(r.body, testEmail) {
		t.Fatalf("confirmation: %d %s", r.status, r.body)
	}
	if st, _ := e.poll(da.DeviceCode); st != 400 {
		t.Fatal("showing the confirmation approved something")
	}
	// A form bound to another session is refused.
	f := hidden(r.body)
	f.Set("decision", "allow")
	f.Set("binding", "x")
	if bad := b.post(web.PathActivateDecide, f); bad.status != http.StatusBadRequest {
		t.Fatalf("wrong binding: %d", bad.status)
	}
	// Cross-origin posts of the decision are refused (CSRF).
	f = hidden(r.body)
	f.Set("decision", "allow")
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		if x := b.post(web.PathActivateDecide, f, hdr...); x.status != http.StatusForbidden {
			t.Fatalf("cross-origin decision (%s): %d", hdr[0], x.status)
		}
		if x := b.enterCode(da.UserCode, hdr...); x.status != http.StatusForbidden {
			t.Fatalf("cross-origin code entry (%s): %d", hdr[0], x.status)
		}
	}
	if st, _ := e.poll(da.DeviceCode); st != 400 {
		t.Fatal("a refused post approved the device")
	}

	done := b.decideDevice(r, "allow")
	if done.status != http.StatusOK || !strings.Contains(done.body, "Vuelve a tu dispositivo") {
		t.Fatalf("approved page: %d %s", done.status, done.body)
	}
	st, body := e.poll(da.DeviceCode)
	if st != 200 || body["access_token"] == nil || body["id_token"] == nil || body["uid"] != e.user.ID {
		t.Fatalf("device poll after approval: %d %v", st, body)
	}
	if ev := e.events("device.approved"); len(ev) != 1 || ev[0].UserID != e.user.ID || ev[0].ClientID != deviceApp {
		t.Fatalf("device.approved events %+v", ev)
	}
	// The same form again: the authorization is no longer pending.
	if again := b.decideDevice(r, "allow"); again.status != http.StatusConflict || !strings.Contains(again.body, "ya no está pendiente") {
		t.Fatalf("second approval: %d %s", again.status, again.body)
	}

	// Deny, in English.
	da2 := e.startDevice("")
	r = b.enterCode(da2.UserCode, "Accept-Language", "en")
	if !strings.Contains(r.body, "wants to access your Multinexo account from a device") {
		t.Fatalf("English confirmation: %s", r.body)
	}
	f = hidden(r.body)
	f.Set("decision", "deny")
	done = b.post(web.PathActivateDecide, f, "Accept-Language", "en")
	if done.status != http.StatusOK || !strings.Contains(done.body, "Access denied") {
		t.Fatalf("denied page: %d %s", done.status, done.body)
	}
	if st, body := e.poll(da2.DeviceCode); st != 400 || body["error"] != "access_denied" {
		t.Fatalf("device poll after denial: %d %v", st, body)
	}
	if ev := e.events("device.denied"); len(ev) != 1 || ev[0].ClientID != deviceApp {
		t.Fatalf("device.denied events %+v", ev)
	}

	// A post without a session goes to the login page, keeping the code.
	anon := e.browser()
	if x := anon.enterCode(da2.UserCode); x.status != http.StatusSeeOther || x.loc.Path != web.PathLogin {
		t.Fatalf("code entry without a session: %d %v", x.status, x.loc)
	}
}

// TestActivateBruteForce: after DeviceAttemptLimit wrong codes in the
// window, every code is refused with 429 — even the right one, and through
// the decision form too — until the window ends.
func TestActivateBruteForce(t *testing.T) {
	e := newDeviceEnv(t)
	da := e.startDevice("openid")
	b := e.browser()
	b.login()
	confirm := b.enterCode(da.UserCode) // shown before the guessing starts
	for i := range web.DeviceAttemptLimit {
		if r := b.enterCode("ZZZZ-ZZZZ"); r.status != http.StatusBadRequest {
			t.Fatalf("wrong code %d: %d", i, r.status)
		}
	}
	r := b.enterCode(da.UserCode)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Demasiados códigos incorrectos") {
		t.Fatalf("after %d wrong codes: %d %v %s", web.DeviceAttemptLimit, r.status, r.header, r.body)
	}
	f := hidden(confirm.body)
	f.Set("decision", "allow")
	if r := b.post(web.PathActivateDecide, f); r.status != http.StatusTooManyRequests {
		t.Fatalf("decision while limited: %d", r.status)
	}
	// Another session from the same address is limited too (per address).
	other := e.browser()
	other.login()
	if r := other.enterCode(da.UserCode); r.status != http.StatusTooManyRequests {
		t.Fatalf("another session, same address: %d", r.status)
	}
	if st, body := e.poll(da.DeviceCode); st != 400 || body["error"] != "authorization_pending" {
		t.Fatalf("device while limited: %d %v", st, body)
	}
	// The window ends (and, 15 minutes later, the first code has expired).
	e.clock.Add(web.DeviceAttemptWindow)
	if r := b.enterCode(da.UserCode); r.status != http.StatusBadRequest {
		t.Fatalf("expired code after the window: %d", r.status)
	}
	da2 := e.startDevice("openid")
	r = b.enterCode(da2.UserCode)
	if r.status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
	if done := b.decideDevice(r, "allow"); done.status != http.StatusOK {
		t.Fatalf("approve after the window: %d", done.status)
	}
	if st, _ := e.poll(da2.DeviceCode); st != 200 {
		t.Fatalf("device after approval: %d", st)
	}
}

// TestDeviceFlowRealClients: the whole device flow with golang.org/x/oauth2
// (DeviceAuth, DeviceAccessToken, endpoints from discovery through go-oidc)
// while a person approves through the pages; go-oidc verifies the ID token.
func TestDeviceFlowRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s polling interval")
	}
	e := newDeviceEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if prov.Endpoint().DeviceAuthURL != e.issuer+provider.PathDevice {
		t.Fatalf("discovery DeviceAuthURL %q", prov.Endpoint().DeviceAuthURL)
	}
	conf := &oauth2.Config{ClientID: deviceApp, Endpoint: prov.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.Interval != 5 || da.VerificationURIComplete == "" || time.Until(da.Expiry) < 590*time.Second {
		t.Fatalf("device auth response %+v", da)
	}

	type result struct {
		tok *oauth2.Token
		err error
	}
	got := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		got <- result{tok, err}
	}()

	// The person: opens the link on a phone, signs in, confirms the code.
	b := e.browser()
	r := b.get(da.VerificationURIComplete)
	r = b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}, "continue": {r.loc.Query().Get("continue")}})
	r = b.get(r.loc.RequestURI())
	if !strings.Contains(r.body, `value="`+da.UserCode+`"`) {
		t.Fatalf("entry form not pre-filled: %s", r.body)
	}
	r = b.enterCode(da.UserCode)
	if done := b.decideDevice(r, "allow"); done.status != http.StatusOK {
		t.Fatalf("approve: %d %s", done.status, done.body)
	}

	res := <-got
	if res.err != nil {
		t.Fatalf("DeviceAccessToken: %v", res.err)
	}
	tok := res.tok
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("uid") != e.user.ID {
		t.Fatalf("token %+v", tok)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: deviceApp, Now: e.clock.Now}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil || idt.Subject != e.user.ID || claims.Email != testEmail || claims.Name != "Ana Pérez" {
		t.Fatalf("claims %+v sub %s %v", claims, idt.Subject, err)
	}
	ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != e.user.ID {
		t.Fatalf("userinfo %+v %v", ui, err)
	}
	// The refresh token renews through the library.
	tok.Expiry = e.clock.Now().Add(-time.Second)
	next, err := conf.TokenSource(ctx, tok).Token()
	if err != nil || next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %+v %v", next, err)
	}
	// The device code is spent.
	if _, err := conf.DeviceAccessToken(ctx, &oauth2.DeviceAuthResponse{DeviceCode: da.DeviceCode, Interval: 1}); err == nil {
		t.Fatal("a spent device code gave tokens again")
	}
}
