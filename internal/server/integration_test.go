package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/testenv"
)

type env struct {
	srv    *server.Server
	issuer string
}

// start builds a real server on db ("sqlite" or "postgres") listening on a
// loopback port, with the issuer set to that address.
func start(t *testing.T, backend string) *env {
	t.Helper()
	var db string
	switch backend {
	case "sqlite":
		db = "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	case "postgres":
		db = testenv.PostgresSchema(t)
	}
	return startDB(t, db)
}

func (e *env) client(t *testing.T, in clients.CreateInput) (id, secret string) {
	t.Helper()
	c, secret, err := clients.Create(t.Context(), e.srv.Store, in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

func (e *env) user(t *testing.T, email, password string) string {
	t.Helper()
	u, err := e.srv.Accounts.Register(t.Context(), account.RegisterInput{Email: email, Password: password, FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { f(t, start(t, b)) })
	}
}

// TestRealClients drives the server with golang.org/x/oauth2 and
// github.com/coreos/go-oidc/v3, as third-party applications do.
func TestRealClients(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		uid := e.user(t, "ana@example.com", "una contraseña larga")
		id, secret := e.client(t, clients.CreateInput{Name: "Mi app", Grants: []string{"password", "refresh_token", "client_credentials"},
			Scopes: []string{"openid", "profile", "email", "voucher"}})

		// Discovery and the ID token, verified by go-oidc against our JWKS.
		op, err := oidc.NewProvider(ctx, e.issuer)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
			cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: op.Endpoint().TokenURL, AuthStyle: style},
				Scopes: []string{"openid", "profile", "email", "voucher"}}
			tok, err := cfg.PasswordCredentialsToken(ctx, "ana@example.com", "una contraseña larga")
			if err != nil {
				t.Fatalf("password grant (style %d): %v", style, err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("uid") != uid || tok.Extra("first_name") != "Ana" || tok.Extra("last_name") != "Pérez" {
				t.Fatalf("token response lacks seed 000 fields: %+v uid=%v", tok, tok.Extra("uid"))
			}
			if ei, _ := tok.Extra("expires_in").(float64); ei != 900 {
				t.Fatalf("expires_in = %v, want 900", tok.Extra("expires_in"))
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := op.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("id token: %v", err)
			}
			if idt.Subject != uid {
				t.Fatalf("id token sub %q", idt.Subject)
			}
			// The access token is a JWT signed by a key in our JWKS.
			if _, err := oidc.NewRemoteKeySet(ctx, e.issuer+"/auth/v1/jwks").VerifySignature(ctx, tok.AccessToken); err != nil {
				t.Fatalf("access token signature: %v", err)
			}
			// Userinfo through go-oidc.
			ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || ui.Subject != uid || ui.Email != "ana@example.com" {
				t.Fatalf("userinfo: %+v %v", ui, err)
			}
			// The API with the token, then a refresh through the library.
			get(t, cfg.Client(ctx, tok), e.issuer+"/v1/users/me", 200)
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := cfg.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
				t.Fatal("refresh did not rotate")
			}
			get(t, cfg.Client(ctx, fresh), e.issuer+"/v1/users/me", 200)
		}

		// client_credentials through the library.
		cc := &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.issuer + "/auth/v1/token", Scopes: []string{"voucher"}}
		ctok, err := cc.Token(ctx)
		if err != nil || ctok.RefreshToken != "" {
			t.Fatalf("client credentials: %+v %v", ctok, err)
		}
		// A client token is not a user's: /v1/users/me refuses it.
		get(t, cc.Client(ctx), e.issuer+"/v1/users/me", 403)

		// Wrong secret through the library: an error, no token.
		bad := &clientcredentials.Config{ClientID: id, ClientSecret: secret + "x", TokenURL: e.issuer + "/auth/v1/token"}
		if _, err := bad.Token(ctx); err == nil {
			t.Fatal("wrong secret accepted")
		}
	})
}

// TestSeed004 sends seed 004's requests byte for byte: a JSON body with a
// trailing comma and HTTP Basic client authentication.
func TestSeed004(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.user(t, "email@example.com", "una contraseña larga")
		id, secret := e.client(t, clients.CreateInput{Name: "Django", Grants: []string{"password", "refresh_token"}})
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
		post := func(body string) map[string]any {
			req, _ := http.NewRequest("POST", e.issuer+"/api/v1/auth/oauth/token/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", basic)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatal("token response without Cache-Control: no-store")
			}
			return out
		}
		tok := post("{\n \"grant_type\": \"password\",\n \"username\": \"email@example.com\",\n \"password\": \"una contraseña larga\",\n}")
		if tok["token_type"] != "Bearer" || tok["refresh_token"] == nil || tok["expires_in"] != float64(900) {
			t.Fatalf("seed 004 password response: %v", tok)
		}
		tok2 := post("{\n \"grant_type\": \"refresh_token\",\n \"refresh_token\": \"" + tok["refresh_token"].(string) + "\",\n}")
		req, _ := http.NewRequest("GET", e.issuer+"/api/v1/users/me/", nil)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok2["access_token"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var me map[string]any
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&me) != nil || me["email"] != "email@example.com" {
			t.Fatalf("GET /api/v1/users/me/: %d %v", resp.StatusCode, me)
		}
	})
}

// TestSeed000 sends seed 000's form request and checks the answer's fields;
// then revocation is seen at once by introspection and /v1/users/me.
func TestSeed000(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.user(t, "ana@example.com", "una contraseña larga")
		id, secret := e.client(t, clients.CreateInput{Name: "Seed", Grants: []string{"password", "refresh_token"}})
		form := url.Values{"grant_type": {"password"}, "scope": {"openid profile email voucher"}, "username": {"ana@example.com"},
			"password": {"una contraseña larga"}, "client_id": {id}, "client_secret": {secret}}
		resp, err := http.PostForm(e.issuer+"/auth/v1/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var tok map[string]any
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		for _, k := range []string{"access_token", "expires_in", "first_name", "last_name", "refresh_token", "token_type", "uid", "scope", "id_token"} {
			if _, ok := tok[k]; !ok {
				t.Errorf("seed 000 response lacks %q: %v", k, tok)
			}
		}
		if tok["scope"] != "openid profile email voucher" {
			t.Errorf("scope %v", tok["scope"])
		}
		at := tok["access_token"].(string)
		bearer := &http.Client{Transport: bearerRT(at)}
		get(t, bearer, e.issuer+"/v1/users/me", 200)
		get(t, http.DefaultClient, e.issuer+"/v1/users/me?access_token="+url.QueryEscape(at), 200)

		// Revoke the refresh token: its grant dies, so the access token does too.
		r, _ := http.PostForm(e.issuer+"/auth/v1/revoke", url.Values{"token": {tok["refresh_token"].(string)}, "client_id": {id}, "client_secret": {secret}})
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("revoke: %d", r.StatusCode)
		}
		r, _ = http.PostForm(e.issuer+"/auth/v1/introspect", url.Values{"token": {at}, "client_id": {id}, "client_secret": {secret}})
		var intro map[string]any
		json.NewDecoder(r.Body).Decode(&intro)
		r.Body.Close()
		if intro["active"] != false {
			t.Fatalf("introspection after revoke: %v", intro)
		}
		resp = get(t, bearer, e.issuer+"/v1/users/me", 401)
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("WWW-Authenticate: %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
}

type bearerRT string

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func get(t *testing.T, c *http.Client, u string, want int) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	return resp
}

// TestPagesMounted checks that the composed server serves the browser half
// (login page, authorization endpoint) next to the protocol endpoints, with
// the page defenses on.
func TestPagesMounted(t *testing.T) {
	e := start(t, "sqlite")
	resp := get(t, http.DefaultClient, e.issuer+"/login", 200)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("login CSP %q", csp)
	}
	// An unknown client is an error page, never a redirect.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp = get(t, noRedirect, e.issuer+"/auth/v1/authorize?response_type=code&client_id=nope&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", 400)
	if resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("unknown client: %v", resp.Header)
	}
}
