package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Attributes each scope shows of the users resource (README "What a token
// can do").
var (
	profileAttrs = []string{"activated", "avatar_url", "created_at", "first_name", "last_name", "status", "updated_at"}
	emailAttrs   = []string{"email", "email_verified"}
)

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wantAttrs lists what a token with scopes must see of the users resource
// (and of seed 004's plain view, which adds id and, with email, username).
func wantAttrs(scopes []string, plain bool) []string {
	var out []string
	all := slices.Contains(scopes, "account")
	if all || slices.Contains(scopes, "profile") {
		out = append(out, profileAttrs...)
	}
	if all || slices.Contains(scopes, "email") {
		out = append(out, emailAttrs...)
		if plain {
			out = append(out, "username")
		}
	}
	if plain {
		out = append(out, "id")
	}
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// routeRequest turns a route pattern into a request the route accepts when
// allowed: the ids are the person's own application and grant.
func routeRequest(pattern, appID, grantID string) (method, path, body string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	if strings.HasPrefix(path, "/v1/tokens/") {
		path = strings.ReplaceAll(path, "{id}", grantID)
	}
	path = strings.ReplaceAll(path, "{id}", appID)
	switch {
	case method == "PATCH" && path == "/v1/users/me":
		body = `{"data":{"type":"users","attributes":{"email":"attacker@evil.example","current_password":"caballo correcto"}}}`
	case method == "POST" && path == "/v1/auth_clients":
		body = clientDoc(`"name":"Intrusa","redirect":"` + redirect + `"`)
	case method == "PATCH" && strings.HasPrefix(path, "/v1/auth_clients/"):
		body = clientDoc(`"name":"Renombrada","revoked":true`)
	case method == "PATCH" && strings.HasPrefix(path, "/v1/tokens/"):
		body = `{"data":{"type":"tokens","attributes":{"revoked":true}}}`
	case method == "POST" && path == "/v1/users":
		body = `{"data":{"type":"users","attributes":{"email":"nueva@example.com","password":"caballo correcto"}}}`
	}
	return method, path, body
}

// wantInsufficientAccount checks the 403 of a route that needs the scope
// account (RFC 6750 §3.1 insufficient_scope, naming the scope).
func wantInsufficientAccount(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if w.Code != 403 {
		t.Errorf("%s: status %d, want 403: %s", what, w.Code, w.Body)
		return
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q on a refusal", what, w.Header().Get("Cache-Control"))
	}
	ch := w.Header().Get("WWW-Authenticate")
	if !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="account"`) {
		t.Errorf("%s: challenge %q", what, ch)
	}
	if !strings.Contains(w.Body.String(), `"insufficient_scope"`) || !strings.Contains(w.Body.String(), `account`) {
		t.Errorf("%s: body %s does not say which scope is missing", what, w.Body)
	}
}

// TestWhatATokenMayDo is the rule of README "What a token can do", route by
// route with real tokens: a third-party application sees what the person
// consented to and can change nothing; a first-party one needs account to
// change or delete the account or manage its applications and connections;
// every route that needs account refuses a token without it.
func TestWhatATokenMayDo(t *testing.T) { forEachStore(t, whatATokenMayDo) }

func whatATokenMayDo(t *testing.T, e *appEnv) {
	_, devTok := e.login("dev@example.com")
	ana, anaTok := e.login("ana@example.com")

	// A developer's application in Mis Aplicaciones: third party.
	created := decode[resourceDoc](t, e.do("POST", "/v1/auth_clients", devTok.AccessToken, clientDoc(`"name":"App de otro","redirect":"`+redirect+`"`)), 201)
	thirdID, thirdSecret := created.Data.ID, attr[string](t, created, "secret")
	// Ana's own application and a grant of hers, for the {id} routes.
	anaApp := decode[resourceDoc](t, e.do("POST", "/v1/auth_clients", anaTok.AccessToken, clientDoc(`"name":"Mía","redirect":"`+redirect+`"`)), 201).Data.ID
	grants := decode[listDoc](t, e.do("GET", "/v1/tokens", anaTok.AccessToken, ""), 200)
	if len(grants.Data) == 0 {
		t.Fatal("ana has no grant")
	}
	anaGrant := grants.Data[0].ID

	unchanged := func(t *testing.T, what string) {
		t.Helper()
		u, err := e.db.GetUser(t.Context(), ana.ID)
		if err != nil {
			t.Fatalf("%s: the account is gone: %v", what, err)
		}
		if u.Email != "ana@example.com" || u.FirstName != "Ana" {
			t.Fatalf("%s: the account changed: %+v", what, u)
		}
		c, err := e.db.GetClient(t.Context(), anaApp)
		if err != nil || c.Name != "Mía" || c.Disabled {
			t.Fatalf("%s: ana's application changed: %+v %v", what, c, err)
		}
		g, err := e.db.GetGrant(t.Context(), anaGrant)
		if err != nil || !g.RevokedAt.IsZero() {
			t.Fatalf("%s: ana's connection changed: %+v %v", what, g, err)
		}
	}

	check := func(t *testing.T, tok string, scopes []string) {
		t.Helper()
		// Reading: what the scopes allow.
		w := e.do("GET", "/v1/users/me", tok, "")
		me := decode[struct {
			Data struct {
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"data"`
		}](t, w, 200)
		if me.Data.ID != ana.ID {
			t.Errorf("id %q", me.Data.ID)
		}
		if got, want := keys(me.Data.Attributes), wantAttrs(scopes, false); !slices.Equal(got, want) {
			t.Errorf("scopes %v: /v1/users/me attributes %v, want %v", scopes, got, want)
		}
		w = e.do("GET", "/api/v1/users/me/", tok, "")
		var plain map[string]any
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &plain) != nil {
			t.Fatalf("seed 004 view: %d %s", w.Code, w.Body)
		}
		if got, want := keys(plain), wantAttrs(scopes, true); !slices.Equal(got, want) {
			t.Errorf("scopes %v: /api/v1/users/me/ keys %v, want %v", scopes, got, want)
		}
		// Changing anything: refused, route by route, and nothing changes.
		for _, rt := range e.routes {
			if !rt.NeedsAccount {
				continue
			}
			method, path, body := routeRequest(rt.Pattern, anaApp, anaGrant)
			wantInsufficientAccount(t, e.do(method, path, tok, body), rt.Pattern)
			unchanged(t, rt.Pattern)
		}
	}

	// A third party, with each combination of what the consent page offers.
	for _, scopes := range [][]string{
		{"openid"}, {"openid", "profile"}, {"openid", "email"}, {"openid", "profile", "email"},
		{"profile", "email", "voucher", "offline_access"},
	} {
		t.Run("third party "+strings.Join(scopes, "+"), func(t *testing.T) {
			tok := e.authorizeScopes(ana, thirdID, thirdSecret, redirect, scopes...)
			check(t, tok.AccessToken, scopes)
		})
	}

	// The first party without account: seed 000's scopes see everything
	// they saw before and change nothing.
	t.Run("first party without account", func(t *testing.T) {
		st, tr := e.tokenEndpoint(url.Values{"grant_type": {"password"}, "username": {"ana@example.com"}, "password": {"caballo correcto"},
			"client_id": {opClient}, "client_secret": {opSecret}, "scope": {"openid profile email"}})
		if st != 200 {
			t.Fatalf("login %d %+v", st, tr)
		}
		check(t, tr.AccessToken, []string{"openid", "profile", "email"})
	})

	// A token that carries account from a client that is no longer first
	// party: refused at once, not when it expires.
	t.Run("unmarked first party", func(t *testing.T) {
		now := time.Now()
		fp := &store.Client{ID: "portal", Name: "Portal", Type: store.ClientConfidential, SecretHash: store.HashToken("portal-secret"),
			Grants: []string{store.GrantAuthorizationCode, store.GrantRefreshToken}, RedirectURIs: []string{redirect},
			Scopes: []string{"openid", "profile", "email"}, FirstParty: true, CreatedAt: now, UpdatedAt: now}
		if err := e.db.CreateClient(t.Context(), fp); err != nil {
			t.Fatal(err)
		}
		tok := e.authorizeScopes(ana, fp.ID, "portal-secret", redirect, "openid", "account")
		if w := e.do("PATCH", "/v1/users/me", tok.AccessToken, body(`"first_name":"Ana"`)); w.Code != 200 {
			t.Fatalf("first party with account: %d %s", w.Code, w.Body)
		}
		if _, err := e.db.UpdateClient(t.Context(), fp.ID, store.ClientUpdate{FirstParty: new(false)}, now); err != nil {
			t.Fatal(err)
		}
		wantInsufficientAccount(t, e.do("PATCH", "/v1/users/me", tok.AccessToken, body(`"first_name":"Eva"`)), "unmarked")
		wantInsufficientAccount(t, e.do("DELETE", "/v1/users/me", tok.AccessToken, ""), "unmarked")
		unchanged(t, "unmarked")
	})

	// With account, the first party manages the account; an email change
	// needs the current password even then, and leaves the address
	// unverified.
	t.Run("first party with account", func(t *testing.T) {
		wantError(t, e.do("PATCH", "/v1/users/me", anaTok.AccessToken, body(`"email":"ana2@example.com"`)), 422, "required", "/data/attributes/current_password")
		unchanged(t, "email without current_password")
		w := e.do("PATCH", "/v1/users/me", anaTok.AccessToken, body(`"email":"ana2@example.com","current_password":"caballo correcto"`))
		d := decode[resourceDoc](t, w, 200)
		if attr[string](t, d, "email") != "ana2@example.com" || attr[bool](t, d, "email_verified") {
			t.Errorf("email change: %s", w.Body)
		}
		if w := e.do("DELETE", "/v1/users/me", anaTok.AccessToken, ""); w.Code != 204 {
			t.Fatalf("delete with account: %d %s", w.Code, w.Body)
		}
		if _, err := e.db.GetUser(t.Context(), ana.ID); err == nil {
			t.Error("the account survived its deletion")
		}
	})
}

// TestRoutesDeclareWhatTheyNeed: every route of the JSON:API is listed with
// its need, and the list covers what is mounted: registration and password
// resets (which answer alike for every address) are the only public
// routes; every other route refuses a request without a token.
func TestRoutesDeclareWhatTheyNeed(t *testing.T) {
	e := newAppEnv(t)
	if len(e.routes) < 16 {
		t.Fatalf("only %d routes declared", len(e.routes))
	}
	for _, rt := range e.routes {
		method, path, body := routeRequest(rt.Pattern, "x", "y")
		w := e.do(method, path, "", body)
		if rt.Public {
			if rt.Pattern != "POST /v1/users" && rt.Pattern != "POST /v1/password_resets" {
				t.Errorf("%s is public", rt.Pattern)
			}
			continue
		}
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a token: %d %v", rt.Pattern, w.Code, w.Header())
		}
		if strings.HasPrefix(path, "/v1/auth_clients") || strings.HasPrefix(path, "/v1/tokens") ||
			(path == "/v1/users/me" && method != "GET") {
			if !rt.NeedsAccount {
				t.Errorf("%s does not need account", rt.Pattern)
			}
		}
	}
}

// TestAuthClientsOfflineAccessRequired: a developer chooses whether the
// application gets refresh tokens only with offline_access (OpenID Connect
// Core §11) at creation and later; anything but a boolean is refused.
func TestAuthClientsOfflineAccessRequired(t *testing.T) {
	e := newAppEnv(t)
	_, tok := e.login("dev@example.com")
	created := decode[resourceDoc](t, e.do("POST", "/v1/auth_clients", tok.AccessToken,
		clientDoc(`"name":"Estricta","redirect":"`+redirect+`","offline_access_required":true`)), 201)
	if !attr[bool](t, created, "offline_access_required") {
		t.Fatalf("created %+v", created.Data.Attributes)
	}
	id := created.Data.ID
	if c, err := e.db.GetClient(t.Context(), id); err != nil || !c.OfflineAccessRequired {
		t.Fatalf("stored %+v %v", c, err)
	}
	patched := decode[resourceDoc](t, e.do("PATCH", "/v1/auth_clients/"+id, tok.AccessToken, clientDoc(`"offline_access_required":false`)), 200)
	if attr[bool](t, patched, "offline_access_required") {
		t.Errorf("patched %+v", patched.Data.Attributes)
	}
	wantError(t, e.do("PATCH", "/v1/auth_clients/"+id, tok.AccessToken, clientDoc(`"offline_access_required":"yes"`)), 422, "invalid_type", "/data/attributes/offline_access_required")
}
