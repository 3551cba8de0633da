package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/api"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/token"
)

// TestWithRealTokens: register through the API, log in with the password
// grant of the real provider, read and delete the account with the real
// bearer verifier; the deleted account's token then stops working.
func TestWithRealTokens(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeyManager(db, token.KeyConfig{Secret: "a test secret of enough length", MaxTokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	accounts := account.NewService(db, account.Config{})
	prov, err := provider.New(provider.Config{Issuer: "http://localhost:8080", Store: db, Keys: keys, Accounts: accounts, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateClient(ctx, &store.Client{ID: "app", Name: "App", Type: store.ClientConfidential, SecretHash: store.HashToken("s3cret"),
		Grants: []string{store.GrantPassword, store.GrantRefreshToken}, Scopes: []string{"openid", "profile", "email"}}); err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRoutes(httpx.RoutesConfig{})
	prov.Mount(mux)
	api.NewUsers(accounts, db, prov, api.UsersConfig{Log: log}).Mount(mux)
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}

	r := httptest.NewRequestWithContext(ctx, "POST", "/v1/users", strings.NewReader(body(`"email":"Ana@Example.com","password":"caballo correcto","first_name":"Ana","last_name":"Pérez"`)))
	r.Header.Set("Content-Type", api.MediaType)
	if w := serve(r); w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}

	form := url.Values{"grant_type": {"password"}, "username": {"ana@example.com"}, "password": {"caballo correcto"},
		"client_id": {"app"}, "client_secret": {"s3cret"}, "scope": {"openid profile account"}}
	r = httptest.NewRequestWithContext(ctx, "POST", "/auth/v1/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(r)
	if w.Code != 200 {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		UID         string `json:"uid"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token response %s", w.Body)
	}
	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(ctx, "GET", path, nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return serve(r)
	}
	for _, p := range []string{"/v1/users/me", "/api/v1/users/me/", "/v1/users/" + tok.UID} {
		if w := get(p); w.Code != 200 || !strings.Contains(w.Body.String(), tok.UID) {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	r = httptest.NewRequestWithContext(ctx, "DELETE", "/v1/users/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if w := serve(r); w.Code != 204 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	w = get("/v1/users/me")
	wantError(t, w, 401, "invalid_token", "")
	if !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("challenge %q", w.Header().Get("WWW-Authenticate"))
	}
	if n, _ := db.CountUsers(ctx); n != 0 {
		t.Errorf("%d users", n)
	}
}
