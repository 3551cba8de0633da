package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/web"
)

// TestBrowserThirdPartyCannotTakeTheAccount: a person consents, in a real
// browser, to another developer's application from Mis Aplicaciones for
// "openid" alone. With the token it gets, the application sees the
// person's id and nothing else, and can neither delete the account nor
// change its email; asking for account is refused before any consent page.
func TestBrowserThirdPartyCannotTakeTheAccount(t *testing.T) {
	x := newE2E(t, true)
	redirect := x.rp.srv.URL + "/cb"
	// A developer's application, created the way Mis Aplicaciones does.
	app, secret, err := clients.Create(t.Context(), x.st.DB, clients.CreateInput{
		Name: "App de un tercero", RedirectURIs: []string{redirect}, OwnerID: x.user.ID, SelfService: true,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	person := x.newUser("persona@example.com", false)
	conf := &oauth2.Config{
		ClientID: app.ID, ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: x.issuer + web.PathAuthorize, TokenURL: x.issuer + "/auth/v1/token"},
	}
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()

	// Asking for account: an error back to the application, no consent.
	greedy := *conf
	greedy.Scopes = []string{"openid", "account"}
	// Wait for the account page itself (its profile form), not for any h1:
	// the login page has one too, and navigating on while the login's
	// redirect is in flight aborts it.
	browserLogin(t, b, x.issuer, "persona@example.com", web.PathAccount, `form[action="/account/profile"]`)
	if err := chromedp.Do(b,
		chromedp.Navigate(greedy.AuthCodeURL("st-greedy", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		t.Fatal(err)
	}
	if got := x.rp.last(); got.Get("error") != "invalid_scope" || got.Get("code") != "" || got.Get("state") != "st-greedy" {
		t.Fatalf("asking for account: callback %v", got)
	}

	// openid alone: the consent page says just that.
	if err := chromedp.Do(b,
		chromedp.Navigate(conf.AuthCodeURL("st-openid", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	); err != nil {
		t.Fatal(err)
	}
	body := text(b, t)
	if !strings.Contains(body, "App de un tercero") || !strings.Contains(body, "Confirmar tu identidad") ||
		strings.Contains(body, "Administrar tu cuenta") || strings.Contains(body, "Ver tu dirección de correo") {
		t.Fatalf("consent page: %q", body)
	}
	if err := chromedp.Do(b,
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`),
	); err != nil {
		t.Fatal(err)
	}
	got := x.rp.last()
	if got.Get("state") != "st-openid" || got.Get("code") == "" {
		t.Fatalf("callback %v", got)
	}
	tok, err := conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := tok.Extra("scope").(string); s != "openid" {
		t.Fatalf("granted scope %q", s)
	}

	call := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, x.issuer+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/vnd.api+json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	// Reading: the id, nothing the person did not consent to.
	st, me, _ := call("GET", "/v1/users/me", "")
	var doc struct {
		Data struct {
			ID         string         `json:"id"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if st != 200 || json.Unmarshal([]byte(me), &doc) != nil || doc.Data.ID != person.ID || len(doc.Data.Attributes) != 0 {
		t.Errorf("GET /v1/users/me: %d %s", st, me)
	}
	// Re-emailing and deleting: refused, saying which scope is missing.
	for _, c := range []struct{ method, body string }{
		{"PATCH", `{"data":{"type":"users","attributes":{"email":"attacker@evil.example","current_password":"` + testPassword + `"}}}`},
		{"DELETE", ""},
	} {
		st, body, h := call(c.method, "/v1/users/me", c.body)
		if st != 403 || !strings.Contains(h.Get("WWW-Authenticate"), `scope="account"`) || !strings.Contains(body, "insufficient_scope") {
			t.Errorf("%s /v1/users/me: %d %s %v", c.method, st, body, h)
		}
	}
	u, err := x.st.GetUser(t.Context(), person.ID)
	if err != nil || u.Email != "persona@example.com" {
		t.Fatalf("the account after the attempts: %+v %v", u, err)
	}
	if _, err := x.accts.Authenticate(t.Context(), "persona@example.com", testPassword, ""); err != nil {
		t.Errorf("the person can no longer sign in: %v", err)
	}
	if n, _ := x.st.CountUsers(t.Context()); n < 2 {
		t.Errorf("%d users", n)
	}
}
