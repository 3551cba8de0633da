package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/multinexo/auth/internal/web"
)

// Headless Chromium through "Mis Aplicaciones", the connections page and
// the admin panel, as people would use them; the credentials read off the
// page drive a real authorization-code flow with golang.org/x/oauth2.

// browserLogin signs a browser in through the login page and waits for the
// page it continues to.
func browserLogin(t *testing.T, ctx context.Context, issuer, email, cont, waitFor string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(issuer+web.PathLogin+"?continue="+cont),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), waitFor),
	); err != nil {
		t.Fatalf("login as %s: %v", email, err)
	}
}

func TestBrowserApplicationToConnectionAndRevoke(t *testing.T) {
	x := newE2E(t)
	dev := newBrowser(t)
	redirect := x.rp.srv.URL + "/cb"

	// 1. The developer adds an application from "Mis Aplicaciones".
	browserLogin(t, dev, x.issuer, testEmail, web.PathApplications, `details.add summary`)
	if err := chromedp.Do(dev,
		chromedp.Click(chromedp.CSS(`details.add summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Tienda de Prueba"),
		chromedp.SendKeys(chromedp.CSS(`#redirect_uris`), redirect),
		chromedp.Click(chromedp.CSS(`input[name=type][value=confidential]`)),
		follow(chromedp.Click(chromedp.CSS(`details.add button[type=submit]`)), `#client_secret`),
	); err != nil {
		t.Fatal(err)
	}
	// 2. Copy its ID and secret from the page. The copy buttons come from
	// /static/copy.js, which the page's CSP (script-src 'self') lets run.
	clientID, err := chromedp.Run(dev, chromedp.Value(chromedp.CSS(`#client_id`)))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := chromedp.Run(dev, chromedp.Value(chromedp.CSS(`#client_secret`)))
	if err != nil {
		t.Fatal(err)
	}
	if clientID == "" || secret == "" {
		t.Fatalf("id %q secret %q", clientID, secret)
	}
	// The script runs after the page is shown, so wait for it (bounded),
	// rather than look once.
	if _, err := chromedp.Run(dev, chromedp.Poll[bool](`!document.querySelector('button.copybtn').hidden`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("the copy button did not appear (script blocked?): %v", err)
	}
	if body := text(dev, t); !strings.Contains(body, "única vez") {
		t.Errorf("credentials page: %q", body)
	}
	// Reloading the list never shows the secret again.
	if err := chromedp.Do(dev,
		chromedp.Navigate(x.issuer+web.PathApplications),
		chromedp.WaitVisible(chromedp.CSS(`tr.app`)),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(dev, t); !strings.Contains(body, clientID) || !strings.Contains(body, "Tienda de Prueba") || strings.Contains(body, secret) {
		t.Fatalf("applications list: %q", body)
	}
	screenshot(t, dev, "applications.png")

	// 3. Another person signs in to the application through a real
	// authorization-code flow with those credentials, and consents.
	x.newUser("cliente@example.com", false)
	conf := &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirect,
		Scopes:   []string{oidc.ScopeOpenID, "profile", "email", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: x.issuer + web.PathAuthorize, TokenURL: x.issuer + "/auth/v1/token"},
	}
	person := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	if err := chromedp.Do(person,
		chromedp.Navigate(conf.AuthCodeURL("st-apps", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "cliente@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `button[value="allow"]`),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(person, t); !strings.Contains(body, "Tienda de Prueba") {
		t.Fatalf("consent page: %q", body)
	}
	if err := chromedp.Do(person,
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`),
	); err != nil {
		t.Fatal(err)
	}
	got := x.rp.last()
	if got.Get("state") != "st-apps" || got.Get("code") == "" {
		t.Fatalf("callback %v", got)
	}
	tok, err := conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with the credentials from the page: %v", err)
	}
	if tok.RefreshToken == "" || x.userinfo(tok.AccessToken) != 200 || !x.introspect(tok.AccessToken) {
		t.Fatalf("tokens do not work: %+v", tok)
	}

	// 4. The application is under that person's connections, with the
	// scopes in words.
	if err := chromedp.Do(person,
		chromedp.Navigate(x.issuer+web.PathConnections),
		chromedp.WaitVisible(chromedp.CSS(`article.conn`)),
	); err != nil {
		t.Fatal(err)
	}
	body := text(person, t)
	for _, s := range []string{"Tienda de Prueba", "Confirmar tu identidad", "Ver tu nombre", "Ver tu dirección de correo", "Mantener el acceso", "Revocar el acceso"} {
		if !strings.Contains(body, s) {
			t.Errorf("connections page lacks %q: %q", s, body)
		}
	}
	screenshot(t, person, "connections.png")

	// 5. Revoke: a page asks first, naming the application; then the list
	// says which one lost its access, and the tokens fail at once.
	if err := chromedp.Do(person,
		follow(chromedp.Click(chromedp.CSS(`a[href="/account/connections/`+clientID+`/revoke"]`)), `#confirm`),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(person, t); !strings.Contains(body, "Tienda de Prueba dejará de acceder a tu cuenta") {
		t.Fatalf("confirmation page: %q", body)
	}
	screenshot(t, person, "connection-revoke.png")
	if err := chromedp.Do(person,
		follow(chromedp.Click(chromedp.CSS(`#confirm`)), `p.notice`),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(person, t); strings.Contains(body, "Revocar el acceso") || !strings.Contains(body, "Se revocó el acceso de Tienda de Prueba.") {
		t.Fatalf("after revoking: %q", body)
	}
	if x.userinfo(tok.AccessToken) != 401 {
		t.Error("userinfo accepts the access token of a revoked connection")
	}
	if x.introspect(tok.AccessToken) || x.introspect(tok.RefreshToken) {
		t.Error("introspection says a revoked connection's token is active")
	}
	if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token of a revoked connection still works")
	}
	// The consent was forgotten: authorizing again asks again.
	if err := chromedp.Do(person,
		chromedp.Navigate(conf.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	); err != nil {
		t.Fatalf("no consent page after revoking: %v", err)
	}
}

func TestBrowserAdminDisablesUser(t *testing.T) {
	x := newE2E(t)
	x.newUser("jefa@example.com", true)
	// The person to be disabled holds tokens of the e2e application.
	m := x.as(testEmail).tokens(webApp, "web-secret", webRedirect, "openid offline_access")
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	if x.userinfo(at) != 200 {
		t.Fatal("the token does not work to begin with")
	}

	admin := newBrowser(t)
	browserLogin(t, admin, x.issuer, "jefa@example.com", web.PathAdmin, `tr.user`)
	screenshot(t, admin, "admin.png")
	if err := chromedp.Do(admin,
		chromedp.SendKeys(chromedp.CSS(`#q`), "ana.perez"),
		follow(chromedp.Submit(chromedp.CSS(`#q`)), `tr.user a[href="/admin/users/`+x.user.ID+`"]`),
	); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(admin, chromedp.Evaluate[int](`document.querySelectorAll('tr.user').length`)); err != nil || n != 1 {
		t.Fatalf("search found %d rows: %v", n, err)
	}
	if err := chromedp.Do(admin,
		follow(chromedp.Click(chromedp.CSS(`tr.user a`)), `a.danger[href$="/disable"]`),
		follow(chromedp.Click(chromedp.CSS(`a.danger[href$="/disable"]`)), `#confirm`),
		follow(chromedp.Click(chromedp.CSS(`#confirm`)), `p.notice`),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(admin, t); !strings.Contains(body, "La cuenta se deshabilitó") {
		t.Fatalf("after disabling: %q", body)
	}
	if x.userinfo(at) != 401 || x.introspect(at) || x.refresh(rt, webApp, "web-secret") == 200 {
		t.Fatal("the disabled user's tokens still work")
	}
	// The panel's events page shows what happened.
	if err := chromedp.Do(admin,
		chromedp.Navigate(x.issuer+"/admin/events"),
		chromedp.WaitVisible(chromedp.CSS(`tr.event`)),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(admin, t); !strings.Contains(body, "user.disabled") || !strings.Contains(body, "login.succeeded") {
		t.Fatalf("events page: %q", body)
	}
}
