package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The real client libraries against the real server.
func TestRealClients(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	prov, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
		conf := &oauth2.Config{ClientID: e.pw.id, ClientSecret: e.pw.secret,
			Endpoint: oauth2.Endpoint{TokenURL: prov.Endpoint().TokenURL, AuthStyle: style},
			Scopes:   []string{oidc.ScopeOpenID, "profile", "email", "voucher"}}
		tok, err := conf.PasswordCredentialsToken(ctx, e.email, e.password)
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Extra("uid") != e.user.ID || tok.ExpiresIn != 900 {
			t.Fatalf("token %+v", tok)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := prov.Verifier(&oidc.Config{ClientID: e.pw.id, Now: e.clk.Now}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("id token: %v", err)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("at_hash: %v", err)
		}
		var claims struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		}
		if err := idt.Claims(&claims); err != nil || claims.Email != e.email || claims.Name != "Ana Núñez" {
			t.Fatalf("claims %+v %v", claims, err)
		}
		ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != e.user.ID || ui.Email != e.email {
			t.Fatalf("userinfo %+v %v", ui, err)
		}
		// Refresh through the library: an expired token is renewed with rotation.
		tok.Expiry = e.clk.Now().Add(-1)
		next, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
			t.Fatal("refresh did not rotate")
		}
		// The library surfaces our error codes.
		if _, err := conf.PasswordCredentialsToken(ctx, e.email, "wrong password!"); !isRetrieveError(err, "invalid_grant") {
			t.Fatalf("wrong password: %v", err)
		}
		bad := *conf
		bad.ClientSecret = "nope"
		if _, err := bad.PasswordCredentialsToken(ctx, e.email, e.password); !isRetrieveError(err, "invalid_client") {
			t.Fatalf("wrong secret: %v", err)
		}
	}

	cc := clientcredentials.Config{ClientID: e.cc.id, ClientSecret: e.cc.secret, TokenURL: e.issuer + PathToken, Scopes: []string{"voucher"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A resource handler protected by VerifyBearer, called through the
	// library's HTTP client.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, err := e.p.VerifyBearer(r)
		if err != nil {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(acc.ClientID))
	}))
	defer api.Close()
	res, err := cc.Client(ctx).Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("resource call: %d", res.StatusCode)
	}
	// Revoking the token ends it at the resource at once.
	if r := e.form(PathRevoke, url.Values{"token": {tok.AccessToken}}, "Authorization", basic(e.cc.id, e.cc.secret)); r.status != 200 {
		t.Fatal(r.raw)
	}
	res, err = oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)).Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("revoked token at the resource: %d", res.StatusCode)
	}
}

func isRetrieveError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
