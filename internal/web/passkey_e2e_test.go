package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/multinexo/auth/internal/store"
)

// Passkeys in a real Chromium, whose DevTools WebAuthn domain provides
// virtual authenticators (CTAP2, built in, with resident keys and user
// verification): the page's script talks to them through
// navigator.credentials exactly as it would to a phone or a security key.

// addAuthenticator enables the WebAuthn domain (once per tab) and adds a
// virtual platform authenticator that verifies its user.
func addAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true,
			HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

func authCredentials(t *testing.T, ctx context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatal(err)
	}
	return res.Credentials
}

func removeAuthenticator(t *testing.T, ctx context.Context, id webauthn.AuthenticatorID) {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: id}); err != nil {
		t.Fatal(err)
	}
}

// passwordLogin signs in on /login with the password and lands on /account.
func (x *e2e) passwordLogin(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.issuer+"/login?continue=%2Faccount"),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `#passkeys`),
	); err != nil {
		t.Fatal(err)
	}
}

// signOut ends the session through /logout.
func signOut(t *testing.T, ctx context.Context, issuer string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(issuer+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `h1`),
	); err != nil {
		t.Fatal(err)
	}
}

// passkeyFails clicks the passkey button on the login page and returns
// the message the page shows; the browser stays on the login page.
func passkeyFails(t *testing.T, ctx context.Context, issuer string) string {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(issuer+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-login`)),
		chromedp.Click(chromedp.CSS(`#passkey-login`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-error`)),
	); err != nil {
		t.Fatalf("no message after a failed passkey sign-in: %v", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#passkey-error`)))
	if err != nil {
		t.Fatal(err)
	}
	if u := location(ctx, t); u.Path != "/login" {
		t.Errorf("a failed passkey sign-in left the login page for %s", u)
	}
	return msg
}

func TestBrowserPasskey(t *testing.T) {
	x := newE2EWith(t, envOptions{localhost: true, passkeys: true})
	ctx := newBrowser(t)
	auth := addAuthenticator(t, ctx)

	// 1. Signed in with the password, add a passkey on /account.
	x.passwordLogin(t, ctx)
	screenshot(t, ctx, "passkeys-empty.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#passkey-name`), "Mi portátil"),
		follow(chromedp.Click(chromedp.CSS(`#passkey-add`)), `.passkey-name`),
	); err != nil {
		t.Fatalf("adding a passkey: %v", err)
	}
	body := text(ctx, t)
	for _, s := range []string{"Llave de acceso añadida", "Mi portátil", "Autenticador virtual de Chromium", "último uso: nunca"} {
		if !strings.Contains(body, s) {
			t.Errorf("account page lacks %q: %q", s, body)
		}
	}
	screenshot(t, ctx, "passkeys-account.png")
	creds := authCredentials(t, ctx, auth)
	if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" || string(creds[0].UserHandle) != x.user.ID {
		t.Fatalf("authenticator holds %+v", creds)
	}
	stored, err := x.st.ListPasskeys(t.Context(), x.user.ID)
	if err != nil || len(stored) != 1 || stored[0].Name != "Mi portátil" {
		t.Fatalf("stored passkeys %+v %v", stored, err)
	}
	// The operators' page of the user lists it.
	admin := true
	if _, err := x.st.UpdateUser(t.Context(), x.user.ID, store.UserUpdate{Admin: &admin}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.issuer+"/admin/users/"+x.user.ID),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys .passkey-name`)),
	); err != nil {
		t.Fatalf("admin user page: %v", err)
	}
	if body := text(ctx, t); !strings.Contains(body, "Mi portátil") || !strings.Contains(body, "reset-mfa") {
		t.Errorf("admin user page: %q", body)
	}
	screenshot(t, ctx, "passkeys-admin.png")

	// 2. Signed out, an application sends the browser here: the login page
	// asks the browser for a passkey in the email field's autofill
	// (conditional mediation), and the person picks it — the virtual
	// authenticator picks its only credential by itself. Signed in with
	// the passkey alone (no password, no second step): consent, code.
	signOut(t, ctx, x.issuer)
	verifier := oauth2.GenerateVerifier()
	state, nonce := fmt.Sprintf("pk-%d", time.Now().UnixNano()), "nonce-passkey"
	before := time.Now().Add(-time.Second)
	authURL := x.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce), oauth2.SetAuthURLParam("max_age", "300"))
	if err := chromedp.Do(ctx,
		follow(chromedp.Navigate(authURL), `button[value="allow"]`),
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`),
	); err != nil {
		t.Fatalf("passkey sign-in from the autofill in the authorization-code flow: %v", err)
	}
	x.checkPasskeyCode(t, state, verifier, nonce, before)

	// 3. The button: with the autofill unavailable, "Iniciar sesión con
	// una llave de acceso" asks in a dialog; prompt=login forces a new
	// sign-in, the consent given before is kept, the code carries it.
	noAutofill(t, ctx)
	signOut(t, ctx, x.issuer)
	state = fmt.Sprintf("pk-button-%d", time.Now().UnixNano())
	before = time.Now().Add(-time.Second)
	authURL = x.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce), oauth2.SetAuthURLParam("prompt", "login"))
	if err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-login`)),
	); err != nil {
		t.Fatal(err)
	}
	ac, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#email`), "autocomplete"))
	if err != nil {
		t.Fatal(err)
	}
	if ac.Value != "username webauthn" {
		t.Errorf("email autocomplete %q, want the browser's passkey autofill", ac.Value)
	}
	if body := text(ctx, t); !strings.Contains(body, "Iniciar sesión con una llave de acceso") || !strings.Contains(body, "Tienda Ejemplo") ||
		!strings.Contains(body, "sin contraseña") {
		t.Errorf("login page: %q", body)
	}
	screenshot(t, ctx, "passkeys-login.png")
	if err := chromedp.Do(ctx, follow(chromedp.Click(chromedp.CSS(`#passkey-login`)), `#done`)); err != nil {
		t.Fatalf("passkey sign-in with the button: %v", err)
	}
	x.checkPasskeyCode(t, state, verifier, nonce, before)
	if used, _ := x.st.GetPasskey(t.Context(), stored[0].CredentialID); used.LastUsedAt.IsZero() || used.SignCount < 2 {
		t.Errorf("the sign-ins were not recorded: %+v", used)
	}

	// 4. Another authenticator, without the credential: a clear message.
	saved := authCredentials(t, ctx, auth)[0]
	removeAuthenticator(t, ctx, auth)
	other := addAuthenticator(t, ctx)
	signOut(t, ctx, x.issuer)
	if msg := passkeyFails(t, ctx, x.issuer); !strings.Contains(msg, "No se usó ninguna llave de acceso") {
		t.Errorf("no credential: message %q", msg)
	}
	screenshot(t, ctx, "passkeys-none.png")
	removeAuthenticator(t, ctx, other)

	// 5. The same credential with its counter set back (a copy): refused,
	// and the operators are told.
	auth = addAuthenticator(t, ctx)
	saved.SignCount = 0
	if err := addCredential(ctx, auth, saved); err != nil {
		t.Fatal(err)
	}
	if msg := passkeyFails(t, ctx, x.issuer); !strings.Contains(msg, "parece copiada") {
		t.Errorf("counter gone back: message %q", msg)
	}
	if !x.hasEvent(t, "passkey.clone_warning") {
		t.Error("no passkey.clone_warning event")
	}

	// 6. Deleted on /account, the passkey no longer signs in.
	x.passwordLogin(t, ctx)
	if err := chromedp.Do(ctx,
		follow(chromedp.Click(chromedp.CSS(`button.passkey-delete`)), `#passkeys`),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(ctx, t); !strings.Contains(body, "Llave de acceso borrada") || strings.Contains(body, "Mi portátil") {
		t.Errorf("after delete: %q", body)
	}
	saved.SignCount = 1000
	removeAuthenticator(t, ctx, auth)
	auth = addAuthenticator(t, ctx)
	if err := addCredential(ctx, auth, saved); err != nil {
		t.Fatal(err)
	}
	signOut(t, ctx, x.issuer)
	if msg := passkeyFails(t, ctx, x.issuer); !strings.Contains(msg, "no está registrada aquí") {
		t.Errorf("deleted passkey: message %q", msg)
	}
	for _, typ := range []string{"passkey.added", "passkey.used", "passkey.deleted"} {
		if !x.hasEvent(t, typ) {
			t.Errorf("no %s event", typ)
		}
	}
}

// hasEvent reports whether an event of type typ was recorded.
func (x *e2e) hasEvent(t *testing.T, typ string) bool {
	t.Helper()
	list, _, err := x.st.ListEvents(t.Context(), store.ListOptions{Page: store.Page{Number: 1, Size: 200}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// addCredential puts a credential read from one virtual authenticator
// into another. cdproto's AddCredentialParams always sends the CMTG
// extension's generateCmtgKeyOnNextOperation, which an authenticator
// without that extension refuses; this sends only the fields it has.
func addCredential(ctx context.Context, id webauthn.AuthenticatorID, c *webauthn.Credential) error {
	type credential struct {
		CredentialID         []byte  `json:"credentialId"`
		IsResidentCredential bool    `json:"isResidentCredential"`
		RpID                 string  `json:"rpId"`
		PrivateKey           []byte  `json:"privateKey"`
		UserHandle           []byte  `json:"userHandle,omitempty"`
		SignCount            float64 `json:"signCount"`
	}
	type params struct {
		AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
		Credential      credential               `json:"credential"`
	}
	_, err := chromedp.Call(ctx, cdp.Command[params, cdp.Empty]{Method: webauthn.CommandAddCredential}, params{
		AuthenticatorID: id, Credential: credential{CredentialID: c.CredentialID, IsResidentCredential: c.IsResidentCredential,
			RpID: c.RpID, PrivateKey: c.PrivateKey, UserHandle: c.UserHandle, SignCount: c.SignCount}})
	return err
}

// checkPasskeyCode exchanges the code the application got with state and
// checks the ID token: nonce, auth_time of this sign-in, amr of a passkey
// with user verification and no password.
func (x *e2e) checkPasskeyCode(t *testing.T, state, verifier, nonce string, before time.Time) {
	t.Helper()
	got := x.rp.last()
	if got.Get("state") != state || got.Get("code") == "" {
		t.Fatalf("callback %v", got)
	}
	tok, err := x.conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	op, err := oidc.NewProvider(t.Context(), x.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: x.conf.ClientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(claims.AMR, "hwk") || !slices.Contains(claims.AMR, "user") || slices.Contains(claims.AMR, "pwd") || idt.Nonce != nonce {
		t.Errorf("ID token amr %v nonce %q; want hwk and user, no pwd", claims.AMR, idt.Nonce)
	}
	if at := time.Unix(claims.AuthTime, 0); at.Before(before.Truncate(time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("auth_time %v is not this passkey sign-in (after %v)", at, before)
	}
}

// noAutofill makes the browser report the passkey autofill unavailable on
// every page from now on, so that only the button asks for a passkey (the
// virtual authenticator would otherwise answer the autofill request at
// once, racing the button).
func noAutofill(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = function () { return Promise.resolve(false); };`,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPasskeyDeviceAndSecondFactor: a passkey signs in on /activate
// (the device flow) as a password would, and is the second step after a
// password for an account with two-step verification.
func TestBrowserPasskeyDeviceAndSecondFactor(t *testing.T) {
	x := newE2EWith(t, envOptions{localhost: true, passkeys: true})
	now := time.Now()
	if err := x.st.CreateClient(t.Context(), &store.Client{ID: deviceApp, Name: "Televisor Sala", Type: store.ClientPublic,
		Grants: []string{store.GrantDeviceCode}, Scopes: []string{"openid", "profile"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	addAuthenticator(t, ctx)
	x.passwordLogin(t, ctx)
	if err := chromedp.Do(ctx, follow(chromedp.Click(chromedp.CSS(`#passkey-add`)), `.passkey-name`)); err != nil {
		t.Fatalf("adding a passkey: %v", err)
	}
	noAutofill(t, ctx)
	signOut(t, ctx, x.issuer)

	// The device flow: the code's page asks to sign in; the passkey does.
	da := x.startDevice("openid profile")
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx,
		chromedp.Navigate(strings.Replace(da.VerificationURIComplete, "127.0.0.1", "localhost", 1)),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-login`)),
		follow(chromedp.Click(chromedp.CSS(`#passkey-login`)), `#user_code`),
		follow(chromedp.Click(chromedp.CSS(`form[action="/activate"] button[type=submit]`)), `button[value="allow"]`),
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `h1`),
	); err != nil {
		t.Fatalf("device flow with a passkey: %v (at %s: %q)", err, location(ctx, t), text(ctx, t))
	}
	status, body := x.poll(da.DeviceCode)
	raw, _ := body["id_token"].(string)
	if status != http.StatusOK || raw == "" {
		t.Fatalf("device token: %d %v", status, body)
	}
	if amr := idTokenAMR(t, raw); !slices.Contains(amr, "hwk") || !slices.Contains(amr, "user") || slices.Contains(amr, "pwd") {
		t.Errorf("device ID token amr %v", amr)
	}

	// Two-step verification on: after the password, the passkey instead
	// of the code.
	enrol, err := x.accts.BeginTOTP(t.Context(), x.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.accts.ConfirmTOTP(t.Context(), x.user.ID, totpAt(t, enrol.Secret, time.Now())); err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	state := fmt.Sprintf("pk-2fa-%d", time.Now().UnixNano())
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce("n2"))),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `#passkey-verify`),
	); err != nil {
		t.Fatalf("second step: %v", err)
	}
	screenshot(t, ctx, "passkeys-second-step.png")
	if err := chromedp.Do(ctx,
		follow(chromedp.Click(chromedp.CSS(`#passkey-verify`)), `button[value="allow"]`),
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`),
	); err != nil {
		t.Fatalf("passkey as the second step: %v", err)
	}
	got := x.rp.last()
	tok, err := x.conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || got.Get("state") != state {
		t.Fatalf("exchange: %v (%v)", err, got)
	}
	raw, _ = tok.Extra("id_token").(string)
	if amr := idTokenAMR(t, raw); !slices.Contains(amr, "pwd") || !slices.Contains(amr, "hwk") || !slices.Contains(amr, "mfa") || slices.Contains(amr, "otp") {
		t.Errorf("second-step ID token amr %v; want pwd, hwk, mfa", amr)
	}
}

// idTokenAMR reads the amr claim of an ID token (its signature is checked
// by the other tests; here only the claim matters).
func idTokenAMR(t *testing.T, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.AMR
}

// TestBrowserPasskeyNeedsVerifiedAddress: under --require-verified-email
// a passkey does not sign in an account whose address is not verified
// (it proves the person, not the address), as a password does not.
func TestBrowserPasskeyNeedsVerifiedAddress(t *testing.T) {
	x := newE2EWith(t, envOptions{localhost: true, passkeys: true, requireVerified: true})
	verified := func(v bool) {
		t.Helper()
		if _, err := x.st.UpdateUser(t.Context(), x.user.ID, store.UserUpdate{EmailVerified: &v}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	verified(true)
	ctx := newBrowser(t)
	addAuthenticator(t, ctx)
	x.passwordLogin(t, ctx)
	if err := chromedp.Do(ctx, follow(chromedp.Click(chromedp.CSS(`#passkey-add`)), `.passkey-name`)); err != nil {
		t.Fatalf("adding a passkey: %v", err)
	}
	noAutofill(t, ctx)
	signOut(t, ctx, x.issuer)
	verified(false)
	if msg := passkeyFails(t, ctx, x.issuer); !strings.Contains(msg, "confirma tu correo") {
		t.Errorf("unverified address: message %q", msg)
	}
	verified(true)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.issuer+"/login?continue=%2Faccount"),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-login`)),
		follow(chromedp.Click(chromedp.CSS(`#passkey-login`)), `#passkeys`),
	); err != nil {
		t.Fatalf("verified again, the passkey signs in: %v", err)
	}
}
