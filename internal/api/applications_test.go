package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/api"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/postgres"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/testenv"
	"github.com/multinexo/auth/internal/token"
)

// appEnv is the auth_clients and tokens resources with the real provider
// (token endpoint and bearer verification) on a real SQLite store.
type appEnv struct {
	t        *testing.T
	db       *sqlstore.DB
	accounts *account.Service
	mux      *httpx.Routes
	routes   []api.RouteNeed
}

// The operator's client used to log users in with the password grant.
const (
	opClient = "operator-app"
	opSecret = "operator-secret"
	ccClient = "service"
	ccSecret = "service-secret"
)

func newAppEnv(t *testing.T) *appEnv {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newAppEnvOn(t, db)
}

// forEachStore runs f on a SQLite and (when MULTINEXO_TEST_POSTGRES is set,
// else it skips loudly) a PostgreSQL store.
func forEachStore(t *testing.T, f func(t *testing.T, e *appEnv)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newAppEnv(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, err := postgres.Open(t.Context(), testenv.PostgresSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		f(t, newAppEnvOn(t, db))
	})
}

func newAppEnvOn(t *testing.T, db *sqlstore.DB) *appEnv {
	t.Helper()
	ctx := t.Context()
	var err error
	t.Cleanup(func() { db.Close() })
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
	for _, c := range []*store.Client{
		{ID: opClient, Name: "Operador", Type: store.ClientConfidential, SecretHash: store.HashToken(opSecret),
			Grants: []string{store.GrantPassword, store.GrantRefreshToken}, Scopes: []string{"openid", "profile", "email"}},
		{ID: ccClient, Name: "Servicio", Type: store.ClientConfidential, SecretHash: store.HashToken(ccSecret),
			Grants: []string{store.GrantClientCredentials}, Scopes: []string{"voucher"}},
	} {
		if err := db.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	mux := httpx.NewRoutes(httpx.RoutesConfig{})
	prov.Mount(mux)
	users := api.NewUsers(accounts, db, prov, api.UsersConfig{Log: log})
	authClients := api.NewAuthClients(db, prov, api.Config{Log: log})
	tokens := api.NewTokens(db, prov, api.Config{Log: log})
	users.Mount(mux)
	authClients.Mount(mux)
	tokens.Mount(mux)
	return &appEnv{t: t, db: db, accounts: accounts, mux: mux, routes: api.RouteNeeds(users, authClients, tokens)}
}

func (e *appEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// do sends a JSON:API request with a bearer token.
func (e *appEnv) do(method, path, tok, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequestWithContext(e.t.Context(), method, path, nil)
	} else {
		r = httptest.NewRequestWithContext(e.t.Context(), method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", api.MediaType)
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return e.serve(r)
}

type tokenResp struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

// tokenEndpoint posts a form to the real token endpoint.
func (e *appEnv) tokenEndpoint(form url.Values) (int, tokenResp) {
	e.t.Helper()
	r := httptest.NewRequestWithContext(e.t.Context(), "POST", "/auth/v1/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := e.serve(r)
	var tr tokenResp
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		e.t.Fatalf("token endpoint: %d %s", w.Code, w.Body)
	}
	return w.Code, tr
}

// login registers a user and logs in with the operator's password client.
func (e *appEnv) login(email string) (*store.User, tokenResp) {
	e.t.Helper()
	u, err := e.accounts.Register(e.t.Context(), account.RegisterInput{Email: email, Password: "caballo correcto", FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		e.t.Fatal(err)
	}
	code, tr := e.tokenEndpoint(url.Values{"grant_type": {"password"}, "username": {email}, "password": {"caballo correcto"},
		"client_id": {opClient}, "client_secret": {opSecret}, "scope": {"openid profile account"}})
	if code != 200 || tr.AccessToken == "" || tr.RefreshToken == "" {
		e.t.Fatalf("login %s: %d %+v", email, code, tr)
	}
	return u, tr
}

// authorize gives client the user's consent the way the authorization
// endpoint does — an authorization code in the store — and redeems it at the
// real token endpoint with the client's credentials.
func (e *appEnv) authorize(u *store.User, clientID, secret, redirect string) tokenResp {
	e.t.Helper()
	return e.authorizeScopes(u, clientID, secret, redirect, "openid", "profile")
}

// authorizeScopes is authorize for the consented scopes.
func (e *appEnv) authorizeScopes(u *store.User, clientID, secret, redirect string, scopes ...string) tokenResp {
	e.t.Helper()
	code := token.NewOpaque(token.PrefixCode)
	now := time.Now()
	if err := e.db.CreateAuthCode(e.t.Context(), &store.AuthCode{Hash: store.HashToken(code), ClientID: clientID, UserID: u.ID,
		RedirectURI: redirect, Scopes: scopes, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.SaveConsent(e.t.Context(), &store.Consent{UserID: u.ID, ClientID: clientID, Scopes: scopes, CreatedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	st, tr := e.tokenEndpoint(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {clientID}, "client_secret": {secret}})
	if st != 200 || tr.AccessToken == "" || tr.RefreshToken == "" {
		e.t.Fatalf("code exchange: %d %+v", st, tr)
	}
	return tr
}

func (e *appEnv) refresh(clientID, secret, rt string) (int, tokenResp) {
	e.t.Helper()
	return e.tokenEndpoint(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "client_secret": {secret}})
}

// me reports the status of GET /v1/users/me with tok.
func (e *appEnv) me(tok string) int { return e.do("GET", "/v1/users/me", tok, "").Code }

// events lists the recorded event types.
func (e *appEnv) events() []string {
	e.t.Helper()
	evs, _, err := e.db.ListEvents(e.t.Context(), store.ListOptions{Sort: "time", Page: store.Page{Size: 100}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

type resourceDoc struct {
	Data struct {
		Type          string                     `json:"type"`
		ID            string                     `json:"id"`
		Attributes    map[string]json.RawMessage `json:"attributes"`
		Relationships map[string]struct {
			Data struct{ Type, ID string } `json:"data"`
		} `json:"relationships"`
	} `json:"data"`
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != api.MediaType {
		t.Errorf("Content-Type %q", ct)
	}
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return v
}

func attr[T any](t *testing.T, d resourceDoc, name string) T {
	t.Helper()
	var v T
	raw, ok := d.Data.Attributes[name]
	if !ok {
		t.Fatalf("no attribute %q in %v", name, d.Data.Attributes)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("attribute %q: %v", name, err)
	}
	return v
}

func clientDoc(attrs string) string {
	return `{"data":{"type":"auth_clients","attributes":{` + attrs + `}}}`
}

const redirect = "https://app.example.com/cb"

func TestAuthClientsLifecycle(t *testing.T) {
	e := newAppEnv(t)
	ana, anaTok := e.login("ana@example.com")
	bob, bobTok := e.login("bob@example.com")

	// Create: 201, Location, the secret once, the default grants.
	w := e.do("POST", "/v1/auth_clients", anaTok.AccessToken,
		clientDoc(`"name":"Mi tienda","redirect":"`+redirect+`\nhttp://127.0.0.1:8765/cb"`))
	created := decode[resourceDoc](t, w, 201)
	id := created.Data.ID
	secret := attr[string](t, created, "secret")
	if id == "" || created.Data.Type != "auth_clients" || len(secret) < 43 || attr[string](t, created, "uid") != id {
		t.Fatalf("created %s", w.Body)
	}
	if w.Header().Get("Location") != "/v1/auth_clients/"+id || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", w.Header())
	}
	if got := attr[string](t, created, "redirect"); got != redirect+"\nhttp://127.0.0.1:8765/cb" {
		t.Errorf("redirect %q", got)
	}
	if got := attr[[]string](t, created, "grant_types"); !slices.Equal(got, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("grant_types %v", got)
	}
	if !attr[bool](t, created, "confidential") || attr[bool](t, created, "revoked") {
		t.Errorf("attributes %s", w.Body)
	}
	if a := created.Data.Relationships["author"].Data; a.Type != "users" || a.ID != ana.ID {
		t.Errorf("author %+v", a)
	}
	for _, hidden := range []string{"secret_hash", "SecretHash", "client_secret"} {
		if strings.Contains(w.Body.String(), hidden) {
			t.Errorf("%s in %s", hidden, w.Body)
		}
	}

	// GET shows it without the secret; the list has it.
	w = e.do("GET", "/v1/auth_clients/"+id, anaTok.AccessToken, "")
	got := decode[resourceDoc](t, w, 200)
	if _, ok := got.Data.Attributes["secret"]; ok || strings.Contains(w.Body.String(), secret) {
		t.Errorf("secret shown again: %s", w.Body)
	}
	list := decode[listDoc](t, e.do("GET", "/v1/auth_clients", anaTok.AccessToken, ""), 200)
	if list.Meta.Total != 1 || len(list.Data) != 1 || list.Data[0].ID != id {
		t.Errorf("list %+v", list)
	}
	if l := decode[listDoc](t, e.do("GET", "/v1/auth_clients", bobTok.AccessToken, ""), 200); l.Meta.Total != 0 || len(l.Data) != 0 {
		t.Errorf("bob sees %+v", l)
	}

	// Another user: 404 everywhere, nothing changes.
	for _, m := range []struct{ method, path, body string }{
		{"GET", "/v1/auth_clients/" + id, ""},
		{"PATCH", "/v1/auth_clients/" + id, clientDoc(`"name":"Mía"`)},
		{"PATCH", "/v1/auth_clients/" + id, clientDoc(`"revoked":true`)},
		{"DELETE", "/v1/auth_clients/" + id, ""},
		{"POST", "/v1/auth_clients/" + id + "/secret", ""},
		{"GET", "/v1/auth_clients/" + opClient, ""}, // the operator's: no owner
		{"GET", "/v1/auth_clients/nope", ""},
	} {
		wantError(t, e.do(m.method, m.path, bobTok.AccessToken, m.body), 404, "not_found", "")
	}

	// Bob authorizes Ana's application; the secret works.
	appTok := e.authorize(bob, id, secret, redirect)
	if e.me(appTok.AccessToken) != 200 {
		t.Fatal("app token refused")
	}

	// PATCH name and redirect (as a JSON array).
	w = e.do("PATCH", "/v1/auth_clients/"+id, anaTok.AccessToken,
		`{"data":{"type":"auth_clients","id":"`+id+`","attributes":{"name":"Tienda","redirect":["`+redirect+`","com.example.app:/cb"]}}}`)
	got = decode[resourceDoc](t, w, 200)
	if attr[string](t, got, "name") != "Tienda" || attr[string](t, got, "redirect") != redirect+"\ncom.example.app:/cb" {
		t.Errorf("patched %s", w.Body)
	}
	if _, ok := got.Data.Attributes["secret"]; ok {
		t.Error("secret on PATCH")
	}

	// Rotation: the new secret once; the old one fails at the token endpoint at once.
	w = e.do("POST", "/v1/auth_clients/"+id+"/secret", anaTok.AccessToken, "")
	rotated := decode[resourceDoc](t, w, 200)
	newSecret := attr[string](t, rotated, "secret")
	if newSecret == "" || newSecret == secret {
		t.Fatalf("rotated %s", w.Body)
	}
	if st, tr := e.refresh(id, secret, appTok.RefreshToken); st < 400 || tr.Error != "invalid_client" {
		t.Errorf("old secret: %d %+v", st, tr)
	}
	st, tr := e.refresh(id, newSecret, appTok.RefreshToken)
	if st != 200 {
		t.Fatalf("new secret: %d %+v", st, tr)
	}
	appTok = tr

	// Delete: 204, then every token issued to it dies.
	if w := e.do("DELETE", "/v1/auth_clients/"+id, anaTok.AccessToken, ""); w.Code != 204 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if c := e.me(appTok.AccessToken); c != 401 {
		t.Errorf("access token after delete: %d", c)
	}
	if st, tr := e.refresh(id, newSecret, appTok.RefreshToken); st == 200 {
		t.Errorf("refresh after delete: %d %+v", st, tr)
	}
	wantError(t, e.do("GET", "/v1/auth_clients/"+id, anaTok.AccessToken, ""), 404, "not_found", "")

	evs := e.events()
	for _, want := range []string{"client.created", "client.secret_rotated", "client.deleted"} {
		if !slices.Contains(evs, want) {
			t.Errorf("event %s missing from %v", want, evs)
		}
	}
}

func TestAuthClientsRevoke(t *testing.T) {
	e := newAppEnv(t)
	_, anaTok := e.login("ana@example.com")
	bob, _ := e.login("bob@example.com")
	created := decode[resourceDoc](t, e.do("POST", "/v1/auth_clients", anaTok.AccessToken, clientDoc(`"name":"App","redirect":"`+redirect+`"`)), 201)
	id, secret := created.Data.ID, attr[string](t, created, "secret")
	appTok := e.authorize(bob, id, secret, redirect)
	if resp := e.do("GET", "/v1/users/me", appTok.AccessToken, ""); resp.Code != 200 {
		t.Fatalf("the app's access token before revocation: %d", resp.Code)
	}

	got := decode[resourceDoc](t, e.do("PATCH", "/v1/auth_clients/"+id, anaTok.AccessToken, clientDoc(`"revoked":true`)), 200)
	// Revoking the application revokes its grants: the access token it
	// already holds stops working at once.
	if resp := e.do("GET", "/v1/users/me", appTok.AccessToken, ""); resp.Code != 401 {
		t.Errorf("the app's access token after revocation: %d, want 401", resp.Code)
	}
	if !attr[bool](t, got, "revoked") {
		t.Errorf("not revoked: %v", got.Data.Attributes)
	}
	// A revoked client cannot authenticate: its refresh tokens are useless.
	if st, tr := e.refresh(id, secret, appTok.RefreshToken); st < 400 || tr.Error != "invalid_client" {
		t.Errorf("refresh with a revoked client: %d %+v", st, tr)
	}
	wantError(t, e.do("PATCH", "/v1/auth_clients/"+id, anaTok.AccessToken, clientDoc(`"revoked":false`)), 422, "cannot_unrevoke", "/data/attributes/revoked")
	wantError(t, e.do("POST", "/v1/auth_clients/"+id+"/secret", anaTok.AccessToken, ""), 422, "revoked", "")
	// Still listed, as revoked.
	if got := decode[resourceDoc](t, e.do("GET", "/v1/auth_clients/"+id, anaTok.AccessToken, ""), 200); !attr[bool](t, got, "revoked") {
		t.Error("revoked lost")
	}
}

// A developer may choose the algorithm of the application's ID tokens
// (id_token_signed_response_alg); the token endpoint signs with it, and ""
// returns to the server default (RS256).
func TestAuthClientsIDTokenAlg(t *testing.T) {
	e := newAppEnv(t)
	ana, anaTok := e.login("ana@example.com")
	at := anaTok.AccessToken
	d := decode[resourceDoc](t, e.do("POST", "/v1/auth_clients", at, clientDoc(`"name":"Rápida","redirect":"`+redirect+`","id_token_signed_response_alg":"ES256"`)), 201)
	if got := attr[string](t, d, "id_token_signed_response_alg"); got != "ES256" {
		t.Fatalf("id_token_signed_response_alg %q", got)
	}
	secret := attr[string](t, d, "secret")
	headerAlg := func(jwt string) string {
		t.Helper()
		h, _, _ := strings.Cut(jwt, ".")
		raw, err := base64.RawURLEncoding.DecodeString(h)
		var hdr struct{ Alg, Typ string }
		if err != nil || json.Unmarshal(raw, &hdr) != nil || hdr.Typ != "JWT" {
			t.Fatalf("ID token header %q", raw)
		}
		return hdr.Alg
	}
	tr := e.authorize(ana, d.Data.ID, secret, redirect)
	if got := headerAlg(tr.IDToken); got != "ES256" {
		t.Errorf("code exchange ID token alg %s, want ES256", got)
	}
	st, tr := e.refresh(d.Data.ID, secret, tr.RefreshToken)
	if st != 200 || headerAlg(tr.IDToken) != "ES256" {
		t.Errorf("refresh: %d, ID token alg %s, want ES256", st, headerAlg(tr.IDToken))
	}
	d = decode[resourceDoc](t, e.do("PATCH", "/v1/auth_clients/"+d.Data.ID, at, clientDoc(`"id_token_signed_response_alg":""`)), 200)
	if got := attr[string](t, d, "id_token_signed_response_alg"); got != "" {
		t.Fatalf("after PATCH: %q", got)
	}
	if st, tr = e.refresh(d.Data.ID, secret, tr.RefreshToken); st != 200 || headerAlg(tr.IDToken) != "RS256" {
		t.Errorf("refresh after PATCH: %d, ID token alg %s, want the default RS256", st, headerAlg(tr.IDToken))
	}
	wantError(t, e.do("PATCH", "/v1/auth_clients/"+d.Data.ID, at, clientDoc(`"id_token_signed_response_alg":"PS256"`)), 422, "invalid", "/data/attributes/id_token_signed_response_alg")
}

func TestAuthClientsCreateRefusals(t *testing.T) {
	e := newAppEnv(t)
	_, anaTok := e.login("ana@example.com")
	at := anaTok.AccessToken
	for _, c := range []struct {
		name, body string
		status     int
		code, ptr  string
	}{
		{"password grant", clientDoc(`"name":"x","redirect":"` + redirect + `","grant_types":["password"]`), 422, "grant_not_allowed", "/data/attributes/grant_types"},
		{"client credentials", clientDoc(`"name":"x","redirect":"` + redirect + `","grant_types":["authorization_code","client_credentials"]`), 422, "grant_not_allowed", "/data/attributes/grant_types"},
		{"no name", clientDoc(`"redirect":"` + redirect + `"`), 422, "invalid", "/data/attributes/name"},
		{"no redirect", clientDoc(`"name":"x"`), 422, "invalid", "/data/attributes/redirect"},
		{"bad redirect", clientDoc(`"name":"x","redirect":"http://evil.example.com/cb"`), 422, "invalid", "/data/attributes/redirect"},
		{"redirect number", clientDoc(`"name":"x","redirect":5`), 422, "invalid_type", "/data/attributes/redirect"},
		{"confidential string", clientDoc(`"name":"x","redirect":"` + redirect + `","confidential":"yes"`), 422, "invalid_type", "/data/attributes/confidential"},
		{"bad client_type", clientDoc(`"name":"x","redirect":"` + redirect + `","client_type":"secret"`), 422, "invalid", "/data/attributes/client_type"},
		{"type disagreement", clientDoc(`"name":"x","redirect":"` + redirect + `","client_type":"public","confidential":true`), 422, "conflict", "/data/attributes/confidential"},
		{"secret sent", clientDoc(`"name":"x","redirect":"` + redirect + `","secret":"mine"`), 422, "read_only", "/data/attributes/secret"},
		{"revoked sent", clientDoc(`"name":"x","redirect":"` + redirect + `","revoked":true`), 422, "read_only", "/data/attributes/revoked"},
		{"unknown", clientDoc(`"name":"x","redirect":"` + redirect + `","legacy":true`), 422, "unknown_attribute", "/data/attributes/legacy"},
		{"symmetric id alg", clientDoc(`"name":"x","redirect":"` + redirect + `","id_token_signed_response_alg":"HS256"`), 422, "invalid", "/data/attributes/id_token_signed_response_alg"},
		{"id alg none", clientDoc(`"name":"x","redirect":"` + redirect + `","id_token_signed_response_alg":"none"`), 422, "invalid", "/data/attributes/id_token_signed_response_alg"},
		{"id alg number", clientDoc(`"name":"x","redirect":"` + redirect + `","id_token_signed_response_alg":256`), 422, "invalid_type", "/data/attributes/id_token_signed_response_alg"},
		{"author", `{"data":{"type":"auth_clients","attributes":{"name":"x","redirect":"` + redirect + `"},"relationships":{"author":{"data":{"type":"users","id":"someone"}}}}}`, 422, "unknown_relationship", "/data/relationships"},
		{"client id", `{"data":{"type":"auth_clients","id":"mine","attributes":{"name":"x","redirect":"` + redirect + `"}}}`, 403, "client_id_not_allowed", "/data/id"},
		{"wrong type", `{"data":{"type":"users","attributes":{"name":"x"}}}`, 409, "type_mismatch", "/data/type"},
		{"malformed", `{"data":`, 400, "malformed", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.do("POST", "/v1/auth_clients", at, c.body), c.status, c.code, c.ptr)
		})
	}
	if l := decode[listDoc](t, e.do("GET", "/v1/auth_clients", at, ""), 200); l.Meta.Total != 0 {
		t.Errorf("%d clients stored by refused requests", l.Meta.Total)
	}

	// A public client: no secret, PKCE later; confidential:false or client_type.
	for _, attrs := range []string{`"confidential":false`, `"client_type":"public"`} {
		w := e.do("POST", "/v1/auth_clients", at, clientDoc(`"name":"SPA","redirect":"`+redirect+`",`+attrs))
		d := decode[resourceDoc](t, w, 201)
		if _, ok := d.Data.Attributes["secret"]; ok || attr[bool](t, d, "confidential") || attr[string](t, d, "client_type") != "public" {
			t.Errorf("public client %s", w.Body)
		}
		wantError(t, e.do("POST", "/v1/auth_clients/"+d.Data.ID+"/secret", at, ""), 422, "no_secret", "")
		wantError(t, e.do("PATCH", "/v1/auth_clients/"+d.Data.ID, at, clientDoc(`"confidential":true`)), 422, "immutable", "/data/attributes/confidential")
		wantError(t, e.do("PATCH", "/v1/auth_clients/"+d.Data.ID, at, clientDoc(`"redirect":""`)), 422, "invalid", "/data/attributes/redirect")
		wantError(t, e.do("PATCH", "/v1/auth_clients/"+d.Data.ID, at, `{"data":{"type":"auth_clients","id":"other","attributes":{}}}`), 409, "id_mismatch", "/data/id")
	}
}

func TestApplicationsNeedAUserToken(t *testing.T) {
	e := newAppEnv(t)
	st, cc := e.tokenEndpoint(url.Values{"grant_type": {"client_credentials"}, "client_id": {ccClient}, "client_secret": {ccSecret}})
	if st != 200 {
		t.Fatalf("client credentials: %d %+v", st, cc)
	}
	for _, m := range []struct{ method, path, body string }{
		{"GET", "/v1/auth_clients", ""},
		{"POST", "/v1/auth_clients", clientDoc(`"name":"x","redirect":"` + redirect + `"`)},
		{"GET", "/v1/auth_clients/x", ""},
		{"PATCH", "/v1/auth_clients/x", clientDoc(`"name":"y"`)},
		{"DELETE", "/v1/auth_clients/x", ""},
		{"POST", "/v1/auth_clients/x/secret", ""},
		{"GET", "/v1/tokens", ""},
		{"GET", "/v1/tokens/x", ""},
		{"PATCH", "/v1/tokens/x", `{"data":{"type":"tokens","attributes":{"revoked":true}}}`},
	} {
		wantError(t, e.do(m.method, m.path, cc.AccessToken, m.body), 403, "user_token_required", "")
		w := e.do(m.method, m.path, "", m.body)
		wantError(t, w, 401, "unauthorized", "")
		if w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: no challenge", m.method, m.path)
		}
		wantError(t, e.do(m.method, m.path, "not-a-token", m.body), 401, "invalid_token", "")
	}
}

func TestTokens(t *testing.T) {
	e := newAppEnv(t)
	ana, anaTok := e.login("ana@example.com")
	bob, bobTok := e.login("bob@example.com")
	_ = ana
	created := decode[resourceDoc](t, e.do("POST", "/v1/auth_clients", anaTok.AccessToken, clientDoc(`"name":"Tienda de Ana","redirect":"`+redirect+`"`)), 201)
	appID, secret := created.Data.ID, attr[string](t, created, "secret")
	appTok := e.authorize(bob, appID, secret, redirect)

	// Bob's grants: his login with the operator's client and Ana's app.
	w := e.do("GET", "/v1/tokens?sort=name", bobTok.AccessToken, "")
	list := decode[listDoc](t, w, 200)
	if list.Meta.Total != 2 || len(list.Data) != 2 {
		t.Fatalf("tokens %s", w.Body)
	}
	var grantID string
	for _, d := range list.Data {
		if d.Type != "tokens" {
			t.Errorf("type %q", d.Type)
		}
		if d.Relationships["auth_client"].Data.ID == appID {
			grantID = d.ID
			var a struct {
				Name       string     `json:"name"`
				Revoked    bool       `json:"revoked"`
				ExpiresAt  *time.Time `json:"expires_at"`
				Scopes     []string   `json:"scopes"`
				LastUsedAt *time.Time `json:"last_used_at"`
			}
			if err := json.Unmarshal(d.Attributes, &a); err != nil {
				t.Fatal(err)
			}
			if a.Name != "Tienda de Ana" || a.Revoked || a.ExpiresAt != nil || !slices.Equal(a.Scopes, []string{"openid", "profile"}) || a.LastUsedAt == nil {
				t.Errorf("token attributes %+v", a)
			}
			if typ := d.Relationships["auth_client"].Data.Type; typ != "auth_clients" {
				t.Errorf("relationship type %q", typ)
			}
		}
	}
	if grantID == "" {
		t.Fatalf("no grant for the app in %s", w.Body)
	}
	if l := decode[listDoc](t, e.do("GET", "/v1/tokens", anaTok.AccessToken, ""), 200); l.Meta.Total != 1 {
		t.Errorf("ana has %d grants, want her login only", l.Meta.Total)
	}

	// One grant; another user's is 404 for GET and PATCH, and stays live.
	got := decode[resourceDoc](t, e.do("GET", "/v1/tokens/"+grantID, bobTok.AccessToken, ""), 200)
	if got.Data.ID != grantID || attr[string](t, got, "name") != "Tienda de Ana" {
		t.Errorf("token %+v", got)
	}
	revoke := `{"data":{"type":"tokens","id":"` + grantID + `","attributes":{"revoked":true}}}`
	wantError(t, e.do("GET", "/v1/tokens/"+grantID, anaTok.AccessToken, ""), 404, "not_found", "")
	wantError(t, e.do("PATCH", "/v1/tokens/"+grantID, anaTok.AccessToken, revoke), 404, "not_found", "")
	if e.me(appTok.AccessToken) != 200 {
		t.Fatal("another user's PATCH revoked the grant")
	}

	// Refusals.
	wantError(t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, `{"data":{"type":"tokens","attributes":{"name":"x"}}}`), 422, "read_only", "/data/attributes/name")
	wantError(t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, `{"data":{"type":"tokens","attributes":{"revoked":"yes"}}}`), 422, "invalid_type", "/data/attributes/revoked")
	wantError(t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, `{"data":{"type":"tokens","id":"other","attributes":{"revoked":true}}}`), 409, "id_mismatch", "/data/id")
	wantError(t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, `{"data":{"type":"auth_clients","attributes":{"revoked":true}}}`), 409, "type_mismatch", "/data/type")

	// Revoke: the access token fails at /v1/users/me and the refresh token at once.
	got = decode[resourceDoc](t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, revoke), 200)
	if !attr[bool](t, got, "revoked") {
		t.Errorf("not revoked: %v", got.Data.Attributes)
	}
	if c := e.me(appTok.AccessToken); c != 401 {
		t.Errorf("access token after revocation: %d", c)
	}
	if st, tr := e.refresh(appID, secret, appTok.RefreshToken); st != 400 || tr.Error != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %+v", st, tr)
	}
	if _, err := e.db.GetConsent(t.Context(), bob.ID, appID); err == nil {
		t.Error("consent kept after revocation: the app would get tokens again without asking")
	}
	if e.me(bobTok.AccessToken) != 200 {
		t.Error("revoking one grant ended another")
	}
	// Idempotent; cannot be undone; still listed, as revoked.
	decode[resourceDoc](t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, revoke), 200)
	wantError(t, e.do("PATCH", "/v1/tokens/"+grantID, bobTok.AccessToken, `{"data":{"type":"tokens","attributes":{"revoked":false}}}`), 422, "cannot_unrevoke", "/data/attributes/revoked")
	if l := decode[listDoc](t, e.do("GET", "/v1/tokens?filter[name][eq]=tienda%20de%20ana", bobTok.AccessToken, ""), 200); l.Meta.Total != 1 {
		t.Errorf("revoked grant not listed: %+v", l)
	}
	if !slices.Contains(e.events(), "consent.revoked") {
		t.Errorf("no consent.revoked event in %v", e.events())
	}
}

type listDoc struct {
	Data []struct {
		Type          string          `json:"type"`
		ID            string          `json:"id"`
		Attributes    json.RawMessage `json:"attributes"`
		Relationships map[string]struct {
			Data struct{ Type, ID string } `json:"data"`
		} `json:"relationships"`
	} `json:"data"`
	Links map[string]*string `json:"links"`
	Meta  struct {
		Total int `json:"total"`
		Page  struct{ Number, Size, Last int }
	} `json:"meta"`
}

func (l listDoc) names(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, d := range l.Data {
		var a struct{ Name string }
		if err := json.Unmarshal(d.Attributes, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a.Name)
	}
	return out
}

// ownApps stores applications of u directly, named names, in order.
func (e *appEnv) ownApps(u *store.User, names ...string) {
	e.t.Helper()
	base := time.Now().Add(-time.Hour)
	for i, n := range names {
		if _, _, err := clients.Create(e.t.Context(), e.db, clients.CreateInput{Name: n, RedirectURIs: []string{redirect}, OwnerID: u.ID, SelfService: true}, base.Add(time.Duration(i)*time.Second)); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestListPagination(t *testing.T) {
	e := newAppEnv(t)
	ana, anaTok := e.login("ana@example.com")
	names := make([]string, 25)
	for i := range names {
		names[i] = fmt.Sprintf("app %02d", i)
	}
	e.ownApps(ana, names...)
	get := func(q string) *httptest.ResponseRecorder {
		return e.do("GET", "/v1/auth_clients"+q, anaTok.AccessToken, "")
	}

	l := decode[listDoc](t, get(""), 200)
	if l.Meta.Total != 25 || len(l.Data) != 20 || l.Meta.Page.Number != 1 || l.Meta.Page.Size != 20 || l.Meta.Page.Last != 2 {
		t.Errorf("default page: %d items, meta %+v", len(l.Data), l.Meta)
	}
	// The token as a query parameter (RFC 6750 §2.3) is never echoed in the links.
	w := e.do("GET", "/v1/auth_clients?page[number]=3&page[size]=10&sort=name&access_token="+anaTok.AccessToken, "", "")
	if strings.Contains(w.Body.String(), anaTok.AccessToken) {
		t.Errorf("access token echoed: %s", w.Body)
	}
	l = decode[listDoc](t, w, 200)
	if got := l.names(t); !slices.Equal(got, names[20:]) {
		t.Errorf("page 3: %v", got)
	}
	want := map[string]string{
		"self":  "/v1/auth_clients?sort=name&page[number]=3&page[size]=10",
		"first": "/v1/auth_clients?sort=name&page[number]=1&page[size]=10",
		"prev":  "/v1/auth_clients?sort=name&page[number]=2&page[size]=10",
		"last":  "/v1/auth_clients?sort=name&page[number]=3&page[size]=10",
	}
	for k, v := range want {
		if l.Links[k] == nil || *l.Links[k] != v {
			t.Errorf("links[%s] = %v, want %s", k, l.Links[k], v)
		}
	}
	if n, ok := l.Links["next"]; !ok || n != nil {
		t.Errorf("next on the last page: %v", n)
	}
	l = decode[listDoc](t, get("?page[size]=10&sort=-name"), 200)
	if got := l.names(t); got[0] != "app 24" || *l.Links["next"] != "/v1/auth_clients?sort=-name&page[number]=2&page[size]=10" || l.Links["prev"] != nil {
		t.Errorf("descending first page: %v %v", got, l.Links)
	}
	if l := decode[listDoc](t, get("?page[number]=9"), 200); len(l.Data) != 0 || l.Meta.Total != 25 {
		t.Errorf("past the end: %+v", l)
	}
	if l := decode[listDoc](t, get("?page[size]=100"), 200); len(l.Data) != 25 {
		t.Errorf("size 100: %d", len(l.Data))
	}
	if l := decode[listDoc](t, get("?page[size]=1"), 200); len(l.Data) != 1 || l.Meta.Page.Last != 25 {
		t.Errorf("size 1: %+v", l.Meta)
	}

	for _, q := range []struct{ query, param, code string }{
		{"page[number]=0", "page[number]", "invalid_page"},
		{"page[number]=-1", "page[number]", "invalid_page"},
		{"page[number]=x", "page[number]", "invalid_page"},
		{"page[number]=99999999999999999999", "page[number]", "invalid_page"},
		{"page[number]=1.5", "page[number]", "invalid_page"},
		{"page[size]=0", "page[size]", "invalid_page"},
		{"page[size]=101", "page[size]", "invalid_page"},
		{"page[size]=", "page[size]", "invalid_page"},
		{"page[size]=10&page[size]=20", "page[size]", "repeated_parameter"},
		{"page[offset]=10", "page[offset]", "unknown_parameter"},
		{"sort=secret", "sort", "invalid_sort"},
		{"sort=-redirect", "sort", "invalid_sort"},
		{"sort=", "sort", "invalid_sort"},
		{"sort=name,created_at", "sort", "unsupported_sort"},
		{"include=author", "include", "unsupported_include"},
		{"fields[auth_clients]=name", "fields[auth_clients]", "unknown_parameter"},
		{"limit=5", "limit", "unknown_parameter"},
	} {
		wantParamError(t, get("?"+q.query), q.code, q.param)
	}
	// Several mistakes: one error object each.
	var d struct{ Errors []json.RawMessage }
	w = get("?page[size]=0&page[number]=0&sort=x")
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || w.Code != 400 || len(d.Errors) != 3 {
		t.Errorf("several errors: %d %s", w.Code, w.Body)
	}
	// A query that cannot be parsed.
	wantParamError(t, get("?filter[name]=%zz"), "malformed_query", "")
}

// wantParamError checks a 400 JSON:API error about query parameter param.
func wantParamError(t *testing.T, w *httptest.ResponseRecorder, code, param string) {
	t.Helper()
	var d struct {
		Errors []struct {
			Status, Code, Title, Detail string
			Source                      *struct{ Parameter string }
		}
	}
	if w.Code != 400 || w.Header().Get("Content-Type") != api.MediaType || json.Unmarshal(w.Body.Bytes(), &d) != nil || len(d.Errors) == 0 {
		t.Errorf("want 400 %s (%s), got %d %s", code, param, w.Code, w.Body)
		return
	}
	o := d.Errors[0]
	got := ""
	if o.Source != nil {
		got = o.Source.Parameter
	}
	if o.Status != "400" || o.Code != code || got != param || o.Title == "" || o.Detail == "" {
		t.Errorf("want %s at %q, got %+v source %q", code, param, o, got)
	}
	if strings.Contains(strings.ToLower(w.Body.String()), "sql") || strings.Contains(w.Body.String(), "store:") {
		t.Errorf("database error shown: %s", w.Body)
	}
}

func TestListFilters(t *testing.T) {
	e := newAppEnv(t)
	ana, anaTok := e.login("ana@example.com")
	bob, _ := e.login("bob@example.com")
	e.ownApps(ana, "Alfa", "Beta", "alfa beta", "Gamma_1", "Gamma%2", "Delta")
	e.ownApps(bob, "Alfa de Bob")
	get := func(q string) *httptest.ResponseRecorder {
		return e.do("GET", "/v1/auth_clients?sort=created_at&"+q, anaTok.AccessToken, "")
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"filter[name]=alfa", []string{"Alfa", "alfa beta"}}, // contains, the default; case-insensitive
		{"filter[name][contains]=BETA", []string{"Beta", "alfa beta"}},
		{"filter[name][eq]=alfa", []string{"Alfa"}},
		{"filter[name][ne]=alfa", []string{"Beta", "alfa beta", "Gamma_1", "Gamma%2", "Delta"}},
		{"filter[name][nc]=a%20b", []string{"Alfa", "Beta", "Gamma_1", "Gamma%2", "Delta"}},
		{"filter[name][like]=gamma_1", []string{"Gamma_1"}},
		{"filter[name][like]=%25ta", []string{"Beta", "alfa beta", "Delta"}},
		{"filter[name][like]=G_mma%25", []string{"Gamma_1", "Gamma%2"}},
		{"filter[name][contains]=_", []string{"Gamma_1"}},   // contains is literal
		{"filter[name][contains]=%25", []string{"Gamma%2"}}, // even for %
		{"filter[name][nc]=a&filter[name][nc]=e", nil},
		{"filter[name][contains]=a&filter[name][nc]=beta", []string{"Alfa", "Gamma_1", "Gamma%2", "Delta"}},
		{"filter[name][eq]=Alfa%20de%20Bob", nil}, // another owner's
		{"filter[name]=", []string{"Alfa", "Beta", "alfa beta", "Gamma_1", "Gamma%2", "Delta"}},
		{"filter[name]=%27%20OR%201=1%20--", nil},
		{"filter[created_at][ne]=2000-01-01T00:00:00Z", []string{"Alfa", "Beta", "alfa beta", "Gamma_1", "Gamma%2", "Delta"}},
	} {
		w := get(c.query)
		l := decode[listDoc](t, w, 200)
		if got := l.names(t); !slices.Equal(got, c.want) || l.Meta.Total != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v", c.query, got, l.Meta.Total, c.want)
		}
	}
	// The links repeat the filters.
	l := decode[listDoc](t, get("filter[name][like]=%25ta&page[size]=2"), 200)
	if want := "/v1/auth_clients?filter[name][like]=%25ta&sort=created_at&page[number]=2&page[size]=2"; l.Links["next"] == nil || *l.Links["next"] != want {
		t.Errorf("next %v, want %s", l.Links["next"], want)
	} else if w := e.do("GET", *l.Links["next"], anaTok.AccessToken, ""); w.Code != 200 || !slices.Equal(decode[listDoc](t, w, 200).names(t), []string{"Delta"}) {
		t.Errorf("following next: %s", w.Body)
	}

	for _, q := range []struct{ query, param, code string }{
		{"filter[secret]=x", "filter[secret]", "unknown_filter_field"},
		{"filter[redirect][eq]=x", "filter[redirect][eq]", "unknown_filter_field"},
		{"filter[name][regex]=x", "filter[name][regex]", "unknown_filter_operator"},
		{"filter[name][EQ]=x", "filter[name][EQ]", "unknown_filter_operator"},
		{"filter[name][eq][x]=y", "filter[name][eq][x]", "invalid_filter"},
		{"filter[name]x=y", "filter[name]x", "invalid_filter"},
		{"filter[]=y", "filter[]", "invalid_filter"},
		{"filter[name][]=y", "filter[name][]", "invalid_filter"},
		{"filter[name=y", "filter[name", "invalid_filter"},
		{"filter=name", "filter", "invalid_filter"},
		{"filter[created_at]=yesterday", "filter[created_at]", "invalid_filter_value"},
		{"filter[created_at][like]=2024%25", "filter[created_at][like]", "unknown_filter_operator"},
		{"filter[name]=" + strings.Repeat("x", 300), "filter[name]", "invalid_filter_value"},
	} {
		wantParamError(t, get(q.query), q.code, q.param)
	}

	// The tokens list: same rules, its own fields.
	_, bobTok := e.login("carla@example.com")
	for _, q := range []struct{ query, param, code string }{
		{"filter[redirect]=x", "filter[redirect]", "unknown_filter_field"},
		{"filter[name][nope]=x", "filter[name][nope]", "unknown_filter_operator"},
		{"filter[name][eq][x]=y", "filter[name][eq][x]", "invalid_filter"},
		{"sort=revoked", "sort", "invalid_sort"},
		{"page[size]=101", "page[size]", "invalid_page"},
		{"filter[last_used_at][contains]=2024", "filter[last_used_at][contains]", "unknown_filter_operator"},
	} {
		wantParamError(t, e.do("GET", "/v1/tokens?"+q.query, bobTok.AccessToken, ""), q.code, q.param)
	}
	for _, q := range []string{"filter[name][eq]=operador", "filter[name][ne]=x", "filter[name][contains]=per", "filter[name][nc]=zzz", "filter[name][like]=op%25", "filter[client_id][eq]=" + opClient, "sort=-last_used_at"} {
		if l := decode[listDoc](t, e.do("GET", "/v1/tokens?"+q, bobTok.AccessToken, ""), 200); l.Meta.Total != 1 {
			t.Errorf("tokens %s: total %d", q, l.Meta.Total)
		}
	}
	for _, q := range []string{"filter[name][eq]=oper", "filter[name][ne]=Operador", "filter[name][nc]=per", "filter[name][like]=per%25"} {
		if l := decode[listDoc](t, e.do("GET", "/v1/tokens?"+q, bobTok.AccessToken, ""), 200); l.Meta.Total != 0 {
			t.Errorf("tokens %s: total %d", q, l.Meta.Total)
		}
	}
}
