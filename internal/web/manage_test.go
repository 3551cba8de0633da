package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// "Mis Aplicaciones", connections and the admin panel, over HTTP against
// the real SQLite store and the real token, introspection and userinfo
// endpoints.

// newUser registers another person (password testPassword).
func (e *env) newUser(email string, admin bool) *store.User {
	e.t.Helper()
	u, err := e.accts.Register(e.t.Context(), accountInput(email))
	if err != nil {
		e.t.Fatal(err)
	}
	if admin {
		yes := true
		if u, err = e.st.UpdateUser(e.t.Context(), u.ID, store.UserUpdate{Admin: &yes}, e.clock.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

// as returns a browser signed in as email.
func (e *env) as(email string) *browser {
	e.t.Helper()
	b := e.browser()
	if r := b.post(web.PathLogin, url.Values{"email": {email}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return b
}

var (
	clientIDRE     = regexp.MustCompile(`id="client_id" type="text" readonly value="([^"]+)"`)
	clientSecretRE = regexp.MustCompile(`id="client_secret" type="text" readonly value="([^"]+)"`)
)

// credentials reads the client ID and secret off a credentials page.
func credentials(t *testing.T, body string) (id, secret string) {
	t.Helper()
	m := clientIDRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no client ID on the page: %s", body)
	}
	id = html.UnescapeString(m[1])
	if m := clientSecretRE.FindStringSubmatch(body); m != nil {
		secret = html.UnescapeString(m[1])
	}
	return id, secret
}

// createApp adds an application from "Mis Aplicaciones" and returns its
// credentials page.
func (b *browser) createApp(name, redirects, typ string) (r *resp, id, secret string) {
	b.e.t.Helper()
	r = b.post(web.PathApplications, url.Values{"name": {name}, "redirect_uris": {redirects}, "type": {typ}})
	if r.status != http.StatusOK {
		b.e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	id, secret = credentials(b.e.t, r.body)
	return r, id, secret
}

const devRedirect = "https://dev.example.com/callback"

// tokens runs the code flow for client (consenting) as b's user and returns
// the token response.
func (b *browser) tokens(clientID, secret, redirect, scope string) map[string]any {
	b.e.t.Helper()
	code := b.code(authzQuery("client_id", clientID, "redirect_uri", redirect, "scope", scope))
	status, m := b.e.token(exchange(code, "client_id", clientID, "client_secret", secret, "redirect_uri", redirect))
	if status != http.StatusOK {
		b.e.t.Fatalf("exchange: %d %v", status, m)
	}
	return m
}

// userinfo returns the status of a userinfo call with the access token.
func (e *env) userinfo(at string) int {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+"/auth/v1/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// introspect asks, as the fixture client web-app, whether a token is active.
func (e *env) introspect(tok string) bool {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+"/auth/v1/introspect", url.Values{"token": {tok}, "client_id": {webApp}, "client_secret": {"web-secret"}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var m map[string]any
	if res.StatusCode != http.StatusOK || json.Unmarshal(data, &m) != nil {
		e.t.Fatalf("introspect: %d %s", res.StatusCode, data)
	}
	return m["active"] == true
}

// refresh returns the status of a refresh-token grant.
func (e *env) refresh(rt, clientID, secret string) int {
	e.t.Helper()
	status, _ := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "client_secret": {secret}})
	return status
}

// events lists the recorded events of typ.
func (e *env) events(typ string) []*store.Event {
	e.t.Helper()
	evs, _, err := e.st.ListEvents(e.t.Context(), store.ListOptions{Page: store.Page{Number: 1, Size: 100},
		Filters: []store.Filter{{Field: "type", Op: "eq", Value: typ}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func wantPage(t *testing.T, r *resp, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	for _, s := range contains {
		if !strings.Contains(r.body, s) {
			t.Errorf("page lacks %q: %s", s, r.body)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
}

func TestApplicationsCreateShowsSecretOnce(t *testing.T) {
	e := withProvider(t)
	b := e.as(testEmail)
	wantPage(t, b.get(web.PathApplications), http.StatusOK, "Mis Aplicaciones", "Todavía no hay aplicaciones", "Agregar")

	// A developer sneaking operator-only grants in is ignored: the form has
	// no grant field and the page gives DeveloperGrants only.
	r := b.post(web.PathApplications, url.Values{
		"name": {"Mi Tienda"}, "redirect_uris": {devRedirect + "\r\nhttp://127.0.0.1:9000/cb"}, "type": {"confidential"},
		"grant": {"password", "client_credentials"},
	})
	wantPage(t, r, http.StatusOK, "Aplicación creada", "Mi Tienda", "única vez")
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("credentials page CSP %q", csp)
	}
	id, secret := credentials(t, r.body)
	if secret == "" {
		t.Fatal("no secret shown for a confidential application")
	}
	c, err := e.st.GetClient(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.OwnerID != e.user.ID || c.Type != store.ClientConfidential || !slices.Equal(c.Grants, clients.DeveloperGrants) ||
		!slices.Equal(c.RedirectURIs, []string{devRedirect, "http://127.0.0.1:9000/cb"}) {
		t.Fatalf("stored %+v", c)
	}
	if string(c.SecretHash) != string(store.HashToken(secret)) {
		t.Fatal("the stored hash is not the shown secret's")
	}
	// Never again: not in the list, not on the application's page.
	for _, p := range []string{web.PathApplications, web.PathApplications + "/" + id} {
		r := b.get(p)
		wantPage(t, r, http.StatusOK, id, "Mi Tienda")
		if strings.Contains(r.body, secret) {
			t.Fatalf("%s shows the secret again", p)
		}
	}
	if evs := e.events("client.created"); len(evs) != 1 || evs[0].UserID != e.user.ID || evs[0].ClientID != id {
		t.Fatalf("events %+v", evs)
	}
	// The credentials work in a real code flow.
	m := b.tokens(id, secret, devRedirect, "openid profile")
	if e.userinfo(m["access_token"].(string)) != http.StatusOK {
		t.Fatal("userinfo refused the new application's token")
	}

	t.Run("public", func(t *testing.T) {
		r, id, secret := b.createApp("Mi SPA", "http://localhost:5173/cb", "public")
		if secret != "" || !strings.Contains(r.body, "PKCE") {
			t.Fatalf("public app page: secret %q", secret)
		}
		if c, err := e.st.GetClient(t.Context(), id); err != nil || c.Type != store.ClientPublic || c.SecretHash != nil {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("invalid input is shown, nothing stored", func(t *testing.T) {
		for _, f := range []url.Values{
			{"name": {"Mala"}, "redirect_uris": {"http://evil.example/cb"}, "type": {"confidential"}},
			{"name": {"Mala"}, "redirect_uris": {"https://x.example/cb#frag"}, "type": {"confidential"}},
			{"name": {"Mala"}, "redirect_uris": {""}, "type": {"confidential"}},
			{"name": {""}, "redirect_uris": {devRedirect}, "type": {"confidential"}},
			{"name": {"Mala"}, "redirect_uris": {devRedirect}, "type": {"legacy"}},
			{"name": {strings.Repeat("x", 101)}, "redirect_uris": {devRedirect}},
			{"name": {"Mala"}, "redirect_uris": {devRedirect}, "type": {"confidential"}, "id_token_alg": {"HS256"}},
		} {
			r := b.post(web.PathApplications, f)
			wantPage(t, r, http.StatusUnprocessableEntity, `class="error"`, "<details class=\"add\" open>")
		}
		_, n, err := e.st.ListClients(t.Context(), e.user.ID, store.ListOptions{})
		if err != nil || n != 2 {
			t.Fatalf("%d applications, %v", n, err)
		}
	})
	t.Run("English", func(t *testing.T) {
		r := b.get(web.PathApplications, "Accept-Language", "en-US,en;q=0.9")
		wantPage(t, r, http.StatusOK, "My applications", "Add an application")
	})
	t.Run("ID-token algorithm", func(t *testing.T) {
		r := b.post(web.PathApplications, url.Values{"name": {"Rápida"}, "redirect_uris": {devRedirect}, "type": {"confidential"}, "id_token_alg": {"ES256"}})
		wantPage(t, r, http.StatusOK, "Aplicación creada")
		id, _ := credentials(t, r.body)
		if c, err := e.st.GetClient(t.Context(), id); err != nil || c.IDTokenAlg != "ES256" {
			t.Fatalf("stored %+v %v", c, err)
		}
		wantPage(t, b.get(web.PathApplications+"/"+id), http.StatusOK, "Firma de los ID tokens", "<code>ES256</code>", `<option value="ES256" selected>`)
		// The edit form sends the choice back; the default is "".
		b.post(web.PathApplications+"/"+id, url.Values{"name": {"Rápida"}, "redirect_uris": {devRedirect}, "id_token_alg": {""}})
		if c, err := e.st.GetClient(t.Context(), id); err != nil || c.IDTokenAlg != "" {
			t.Fatalf("after edit %+v %v", c, err)
		}
	})
}

// TestApplicationPagesShowEndpoints: next to the client ID, the
// credentials page and the application's page say where to point the
// application (issuer, discovery URL, token endpoint), and they are the
// ones the discovery document at that URL names.
func TestApplicationPagesShowEndpoints(t *testing.T) {
	e := withProvider(t)
	b := e.as(testEmail)
	created, id, _ := b.createApp("Con Endpoints", devRedirect, "confidential")
	res, err := http.Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var disc struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(res.Body).Decode(&disc); err != nil || disc.Token == "" {
		t.Fatalf("discovery: %v %+v", err, disc)
	}
	for name, r := range map[string]*resp{"credentials": created, "application": b.get(web.PathApplications + "/" + id)} {
		wantPage(t, r, http.StatusOK, "Emisor (issuer)", "URL de descubrimiento", "Endpoint de token",
			`id="issuer">`+disc.Issuer+`<`, `id="discovery">`+e.issuer+`/.well-known/openid-configuration<`,
			`id="token_endpoint">`+disc.Token+`<`, disc.Authorization)
		if i, j := strings.Index(r.body, `id="client_id"`), strings.Index(r.body, `id="issuer"`); i < 0 || j < i {
			t.Errorf("%s page: the issuer is not next to the client ID", name)
		}
	}
	r := b.get(web.PathApplications+"/"+id, "Accept-Language", "en")
	wantPage(t, r, http.StatusOK, "Issuer", "Discovery URL", "Token endpoint")
}

func TestApplicationsOnlyTheOwner(t *testing.T) {
	e := withProvider(t)
	owner := e.as(testEmail)
	_, id, secret := owner.createApp("Privada", devRedirect, "confidential")
	e.newUser("intrusa@example.com", false)
	other := e.as("intrusa@example.com")

	for _, p := range []string{"/" + id, "/" + id + "/rotate", "/" + id + "/delete", "/web-app", "/no-such-app", "/" + strings.Repeat("z", 300)} {
		wantPage(t, other.get(web.PathApplications+p), http.StatusNotFound, "no existe")
	}
	for _, p := range []string{"", "/rotate", "/delete"} {
		r := other.post(web.PathApplications+"/"+id+p, url.Values{"name": {"Mía"}, "redirect_uris": {"https://evil.example/cb"}})
		wantPage(t, r, http.StatusNotFound, "no existe")
	}
	// Operator-created applications have no owner: nobody's either.
	wantPage(t, owner.get(web.PathApplications+"/"+webApp), http.StatusNotFound)
	if r := other.get(web.PathApplications); strings.Contains(r.body, id) {
		t.Fatal("another user's list shows the application")
	}
	c, err := e.st.GetClient(t.Context(), id)
	if err != nil || c.Name != "Privada" || string(c.SecretHash) != string(store.HashToken(secret)) {
		t.Fatalf("another user changed the application: %+v %v", c, err)
	}
	// No session: to the login page, and back afterwards.
	r := e.browser().get(web.PathApplications + "/" + id)
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin || r.loc.Query().Get("continue") != web.PathApplications+"/"+id {
		t.Fatalf("anonymous: %d %v", r.status, r.loc)
	}
	// A form posted from another site is refused before anything happens.
	r = owner.post(web.PathApplications+"/"+id+"/delete", url.Values{}, "Sec-Fetch-Site", "cross-site")
	wantPage(t, r, http.StatusForbidden)
	if _, err := e.st.GetClient(t.Context(), id); err != nil {
		t.Fatalf("a cross-site post deleted the application: %v", err)
	}
}

func TestApplicationsEdit(t *testing.T) {
	e := withProvider(t)
	b := e.as(testEmail)
	_, id, _ := b.createApp("Antes", devRedirect, "confidential")
	r := b.post(web.PathApplications+"/"+id, url.Values{"name": {"Después"}, "redirect_uris": {"https://new.example/cb\nhttps://new.example/cb2"}})
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathApplications+"/"+id {
		t.Fatalf("%d %v %s", r.status, r.loc, r.body)
	}
	wantPage(t, b.get(r.loc.RequestURI()), http.StatusOK, "Los cambios se guardaron", "Después", "https://new.example/cb2")
	// A bad redirect URI is refused and nothing changes.
	r = b.post(web.PathApplications+"/"+id, url.Values{"name": {"Otra"}, "redirect_uris": {"javascript:alert(1)"}})
	wantPage(t, r, http.StatusUnprocessableEntity, `class="error"`)
	// Authorization code needs a redirect URI.
	r = b.post(web.PathApplications+"/"+id, url.Values{"name": {"Otra"}, "redirect_uris": {" "}})
	wantPage(t, r, http.StatusUnprocessableEntity, `class="error"`)
	c, _ := e.st.GetClient(t.Context(), id)
	if c.Name != "Después" || !slices.Equal(c.RedirectURIs, []string{"https://new.example/cb", "https://new.example/cb2"}) {
		t.Fatalf("%+v", c)
	}
}

func TestApplicationsRotateSecret(t *testing.T) {
	e := withProvider(t)
	b := e.as(testEmail)
	_, id, old := b.createApp("Rotar", devRedirect, "confidential")
	m := b.tokens(id, old, devRedirect, "openid offline_access")

	// The confirmation page changes nothing.
	wantPage(t, b.get(web.PathApplications+"/"+id+"/rotate"), http.StatusOK, `action="/account/applications/`+id+`/rotate"`)
	if e.refresh(m["refresh_token"].(string), id, old) != http.StatusOK {
		t.Fatal("the secret stopped working before the rotation was confirmed")
	}
	r := b.post(web.PathApplications+"/"+id+"/rotate", url.Values{})
	wantPage(t, r, http.StatusOK, "Secreto de cliente nuevo", "ya no funciona")
	gotID, fresh := credentials(t, r.body)
	if gotID != id || fresh == "" || fresh == old {
		t.Fatalf("rotation page: id %q secret %q", gotID, fresh)
	}
	if strings.Contains(b.get(web.PathApplications+"/"+id).body, fresh) {
		t.Fatal("the new secret is shown again")
	}
	// The old secret fails at the token endpoint at once; the new one works.
	code := b.code(authzQuery("client_id", id, "redirect_uri", devRedirect))
	if status, m := e.token(exchange(code, "client_id", id, "client_secret", old, "redirect_uri", devRedirect)); (status != http.StatusUnauthorized && status != http.StatusBadRequest) || m["error"] != "invalid_client" {
		t.Fatalf("old secret: %d %v", status, m)
	}
	b.tokens(id, fresh, devRedirect, "openid")
	if len(e.events("client.secret_rotated")) != 1 {
		t.Fatal("no client.secret_rotated event")
	}
	// A public application has no secret to rotate.
	_, pub, _ := b.createApp("Pública", "http://localhost/cb", "public")
	wantPage(t, b.post(web.PathApplications+"/"+pub+"/rotate", url.Values{}), http.StatusBadRequest, "no tiene secreto de cliente")
}

func TestApplicationsDeleteKillsTokens(t *testing.T) {
	e := withProvider(t)
	b := e.as(testEmail)
	_, id, secret := b.createApp("Borrar", devRedirect, "confidential")
	// Another person authorized it too.
	e.newUser("cliente@example.com", false)
	m := e.as("cliente@example.com").tokens(id, secret, devRedirect, "openid offline_access")
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	if e.userinfo(at) != http.StatusOK || !e.introspect(at) {
		t.Fatal("the token does not work before deletion")
	}
	wantPage(t, b.get(web.PathApplications+"/"+id+"/delete"), http.StatusOK, "No se puede deshacer")
	r := b.post(web.PathApplications+"/"+id+"/delete", url.Values{})
	if r.status != http.StatusSeeOther || r.loc.RequestURI() != web.PathApplications+"?done=deleted" {
		t.Fatalf("%d %v", r.status, r.loc)
	}
	wantPage(t, b.get(r.loc.RequestURI()), http.StatusOK, "se eliminó")
	if _, err := e.st.GetClient(t.Context(), id); err == nil {
		t.Fatal("still stored")
	}
	if e.userinfo(at) != http.StatusUnauthorized || e.introspect(at) || e.introspect(rt) {
		t.Fatal("the deleted application's tokens still work")
	}
	if e.refresh(rt, id, secret) == http.StatusOK {
		t.Fatal("the refresh token of a deleted application works")
	}
	if evs := e.events("client.deleted"); len(evs) != 1 || evs[0].ClientID != id {
		t.Fatalf("events %+v", evs)
	}
	wantPage(t, b.post(web.PathApplications+"/"+id+"/delete", url.Values{}), http.StatusNotFound)
}

func TestConnectionsRevoke(t *testing.T) {
	e := withProvider(t)
	b := e.as(testEmail)
	wantPage(t, b.get(web.PathConnections), http.StatusOK, "Ninguna aplicación tiene acceso")
	m1 := b.tokens(webApp, "web-secret", webRedirect, "openid profile offline_access")
	m2 := b.tokens(webApp, "web-secret", webRedirect, "openid email")
	other := b.tokens("single", "s", "https://single.example/cb", "openid")

	r := b.get(web.PathConnections)
	wantPage(t, r, http.StatusOK, "Tienda Ejemplo", "Única", "Ver tu nombre", "Ver tu dirección de correo", "Mantener el acceso", `href="/account/connections/web-app/revoke"`)
	if strings.Count(r.body, `href="/account/connections/web-app/revoke"`) != 1 {
		t.Fatal("one application's grants are not grouped")
	}
	// The button on the list only asks: a page that names the application
	// and says what revoking does, whose form does it.
	r = b.get(web.PathConnections + "/" + webApp + "/revoke")
	wantPage(t, r, http.StatusOK, "Revocar el acceso: Tienda Ejemplo", "Tienda Ejemplo dejará de acceder a tu cuenta",
		`action="/account/connections/web-app/revoke"`, `href="/account/connections"`)
	if e.userinfo(m1["access_token"].(string)) != http.StatusOK {
		t.Fatal("asking revoked the connection")
	}
	// Only for an application the person is connected to.
	for _, c := range []string{"nadie", strings.Repeat("x", 300)} {
		if r := b.get(web.PathConnections + "/" + c + "/revoke"); r.status != http.StatusNotFound {
			t.Fatalf("confirm %q: %d", c, r.status)
		}
	}

	r = b.post(web.PathConnections+"/"+webApp+"/revoke", url.Values{})
	if r.status != http.StatusSeeOther || r.loc.RequestURI() != web.PathConnections+"?done=revoked&client=web-app" {
		t.Fatalf("%d %v", r.status, r.loc)
	}
	for _, m := range []map[string]any{m1, m2} {
		at := m["access_token"].(string)
		if e.userinfo(at) != http.StatusUnauthorized || e.introspect(at) {
			t.Fatal("an access token of a revoked connection still works")
		}
	}
	if e.introspect(m1["refresh_token"].(string)) || e.refresh(m1["refresh_token"].(string), webApp, "web-secret") == http.StatusOK {
		t.Fatal("the refresh token of a revoked connection still works")
	}
	// The other application keeps its access.
	if e.userinfo(other["access_token"].(string)) != http.StatusOK {
		t.Fatal("revoking one application revoked another")
	}
	r = b.get(r.loc.RequestURI())
	wantPage(t, r, http.StatusOK, "Se revocó el acceso de Tienda Ejemplo.", "Única")
	if strings.Count(r.body, "Tienda Ejemplo") != 1 || strings.Contains(r.body, `href="/account/connections/web-app/revoke"`) {
		t.Fatal("the revoked application is still listed")
	}
	// The notice names only an application this person revoked and no
	// longer uses: a link cannot make it name another.
	for _, c := range []string{"single", "e2e-nope", "<b>x</b>"} {
		r := b.get(web.PathConnections + "?" + url.Values{"done": {"revoked"}, "client": {c}}.Encode())
		wantPage(t, r, http.StatusOK, "Se revocó el acceso. Los tokens")
		if strings.Contains(r.body, "Se revocó el acceso de") {
			t.Fatalf("client %q: the notice names an application: %s", c, r.body)
		}
	}
	// The consent is forgotten: the next authorization asks again.
	if r := b.authorize(authzQuery("scope", "openid")); r.status != http.StatusOK || !strings.Contains(r.body, `action="/consent"`) {
		t.Fatalf("no consent page after revoking: %d %v", r.status, r.loc)
	}
	if evs := e.events("consent.revoked"); len(evs) != 1 || evs[0].UserID != e.user.ID || evs[0].ClientID != webApp {
		t.Fatalf("events %+v", evs)
	}
	// Revoking what is not granted, or nonsense, changes nothing and is no error.
	for _, c := range []string{"nadie", "web-app", url.PathEscape("%00'\""), strings.Repeat("x", 300)} {
		if r := b.post(web.PathConnections+"/"+c+"/revoke", url.Values{}); r.status != http.StatusSeeOther && r.status != http.StatusNotFound {
			t.Fatalf("revoke %q: %d", c, r.status)
		}
	}
	// Someone else cannot revoke my grants: they revoke their own (none).
	e.newUser("otro@example.com", false)
	e.as("otro@example.com").post(web.PathConnections+"/single/revoke", url.Values{})
	if e.userinfo(other["access_token"].(string)) != http.StatusOK {
		t.Fatal("another user revoked my connection")
	}
	if r := e.browser().post(web.PathConnections+"/single/revoke", url.Values{}); r.status != http.StatusSeeOther || r.loc.Path != web.PathLogin {
		t.Fatalf("anonymous revoke: %d %v", r.status, r.loc)
	}
}

func TestAdminIsInvisibleToOthers(t *testing.T) {
	e := withProvider(t)
	target := e.newUser("victima@example.com", false)
	b := e.as(testEmail) // not an admin
	if strings.Contains(b.get(web.PathAccount).body, `href="/admin"`) {
		t.Fatal("the account page links the admin panel for a non-admin")
	}
	for _, p := range []string{"/admin", "/admin/users/" + target.ID, "/admin/users/" + target.ID + "/disable", "/admin/applications", "/admin/events"} {
		wantPage(t, b.get(p), http.StatusNotFound, "no existe")
	}
	for _, p := range []string{"/admin/users/" + target.ID + "/disable", "/admin/applications", "/admin/applications/web-app/disable"} {
		wantPage(t, b.post(p, url.Values{"name": {"x"}, "grant": {"password"}, "scope": {"openid"}}), http.StatusNotFound, "no existe")
	}
	if u, _ := e.st.GetUser(t.Context(), target.ID); u.Disabled {
		t.Fatal("a non-admin disabled a user")
	}
	if c, _ := e.st.GetClient(t.Context(), webApp); c.Disabled {
		t.Fatal("a non-admin disabled an application")
	}
	// Without a session: log in, then back to the panel.
	e.newUser("jefa@example.com", true)
	anon := e.browser()
	r := anon.get("/admin/events?type=login.failed")
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("anonymous: %d %v", r.status, r.loc)
	}
	cont := r.loc.Query().Get("continue")
	r = anon.post(web.PathLogin, url.Values{"email": {"jefa@example.com"}, "password": {testPassword}, "continue": {cont}})
	if r.status != http.StatusSeeOther || r.loc.RequestURI() != "/admin/events?type=login.failed" {
		t.Fatalf("after login: %d %v", r.status, r.loc)
	}
	wantPage(t, anon.get(r.loc.RequestURI()), http.StatusOK, "Eventos de seguridad")
}

func TestAdminDisableUser(t *testing.T) {
	e := withProvider(t)
	admin := e.newUser("jefa@example.com", true)
	a := e.as("jefa@example.com")
	if !strings.Contains(a.get(web.PathAccount).body, `href="/admin"`) {
		t.Fatal("no link to the panel for an admin")
	}
	victim := e.as(testEmail)
	m := victim.tokens(webApp, "web-secret", webRedirect, "openid offline_access")
	at, rt := m["access_token"].(string), m["refresh_token"].(string)

	r := a.get("/admin/users/" + e.user.ID)
	wantPage(t, r, http.StatusOK, testEmail, "Tienda Ejemplo", "Deshabilitar la cuenta")
	wantPage(t, a.get("/admin/users/"+e.user.ID+"/disable"), http.StatusOK, `action="/admin/users/`+e.user.ID+`/disable"`)
	r = a.post("/admin/users/"+e.user.ID+"/disable", url.Values{})
	if r.status != http.StatusSeeOther {
		t.Fatalf("%d %s", r.status, r.body)
	}
	wantPage(t, a.get(r.loc.RequestURI()), http.StatusOK, "La cuenta se deshabilitó", "deshabilitado")
	if e.userinfo(at) != http.StatusUnauthorized || e.introspect(at) || e.refresh(rt, webApp, "web-secret") == http.StatusOK {
		t.Fatal("the disabled user's tokens still work")
	}
	if r := victim.get(web.PathAccount); r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("the disabled user's session still works: %d", r.status)
	}
	if evs := e.events("user.disabled"); len(evs) != 1 || evs[0].UserID != e.user.ID || !strings.Contains(evs[0].Detail, admin.ID) {
		t.Fatalf("events %+v", evs)
	}
	// Enable again: the person can log in; what was revoked stays revoked.
	if r := a.post("/admin/users/"+e.user.ID+"/enable", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.status)
	}
	e.as(testEmail)
	if e.userinfo(at) != http.StatusUnauthorized {
		t.Fatal("enabling brought a revoked token back")
	}

	t.Run("not yourself", func(t *testing.T) {
		wantPage(t, a.get("/admin/users/"+admin.ID+"/disable"), http.StatusBadRequest, "propia cuenta")
		wantPage(t, a.post("/admin/users/"+admin.ID+"/disable", url.Values{}), http.StatusBadRequest, "propia cuenta")
		if u, _ := e.st.GetUser(t.Context(), admin.ID); u.Disabled {
			t.Fatal("an admin disabled themself")
		}
		if r := a.get("/admin/users/" + admin.ID); strings.Contains(r.body, "/disable\"") {
			t.Fatal("the panel offers disabling yourself")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		wantPage(t, a.post("/admin/users/nadie/disable", url.Values{}), http.StatusNotFound)
		wantPage(t, a.get("/admin/users/"+strings.Repeat("9", 500)), http.StatusNotFound)
	})
}

func TestAdminApplications(t *testing.T) {
	e := withProvider(t)
	e.newUser("jefa@example.com", true)
	a := e.as("jefa@example.com")
	owner := e.as(testEmail)
	owner.createApp("De Ana", devRedirect, "confidential")

	r := a.get("/admin/applications")
	wantPage(t, r, http.StatusOK, "De Ana", testEmail, "Tienda Ejemplo", "Resource owner password-based")

	// Seed 004: a confidential client with the password grant.
	r = a.post("/admin/applications", url.Values{
		"name": {"Backend 004"}, "type": {"confidential"}, "grant": {"password", "refresh_token"},
		"scope": {"openid", "profile"}, "redirect_uris": {""},
	})
	wantPage(t, r, http.StatusOK, "Aplicación creada")
	id, secret := credentials(t, r.body)
	c, err := e.st.GetClient(t.Context(), id)
	if err != nil || c.OwnerID != "" || !slices.Equal(c.Grants, []string{"password", "refresh_token"}) || !slices.Equal(c.Scopes, []string{"openid", "profile"}) {
		t.Fatalf("%+v %v", c, err)
	}
	password := func() int {
		status, _ := e.token(url.Values{"grant_type": {"password"}, "username": {testEmail}, "password": {testPassword},
			"client_id": {id}, "client_secret": {secret}})
		return status
	}
	if status := password(); status != http.StatusOK {
		t.Fatalf("password grant with the new client: %d", status)
	}
	// client_credentials too.
	r = a.post("/admin/applications", url.Values{"name": {"M2M"}, "type": {"confidential"}, "grant": {"client_credentials"}, "scope": {"voucher"}})
	wantPage(t, r, http.StatusOK, "Aplicación creada")
	// An operator may choose ES256 ID tokens too.
	wantPage(t, a.get("/admin/applications"), http.StatusOK, `name="id_token_alg"`)
	r = a.post("/admin/applications", url.Values{"name": {"Rápida"}, "type": {"confidential"}, "grant": {"password"}, "scope": {"openid"}, "id_token_alg": {"ES256"}})
	wantPage(t, r, http.StatusOK, "Aplicación creada")
	if fast, _ := credentials(t, r.body); fast != "" {
		if c, err := e.st.GetClient(t.Context(), fast); err != nil || c.IDTokenAlg != "ES256" {
			t.Fatalf("admin ES256 client: %+v %v", c, err)
		}
	}

	// Disable: no more tokens; enable: back.
	if r := a.post("/admin/applications/"+id+"/disable", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.status)
	}
	wantPage(t, a.get("/admin/applications?done=disabled"), http.StatusOK, "se deshabilitó")
	if status := password(); status == http.StatusOK {
		t.Fatalf("a disabled client got tokens: %d", status)
	}
	if r := a.post("/admin/applications/"+id+"/enable", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.status)
	}
	if status := password(); status != http.StatusOK {
		t.Fatalf("an enabled client: %d", status)
	}
	if len(e.events("client.disabled")) != 1 || len(e.events("client.enabled")) != 1 {
		t.Fatal("admin actions not recorded")
	}
	// Refusals are shown with what was typed.
	for _, f := range []url.Values{
		{"name": {"Sin flujo"}, "type": {"confidential"}, "scope": {"openid"}},
		{"name": {"Sin alcance"}, "type": {"confidential"}, "grant": {"password"}},
		{"name": {"Pública m2m"}, "type": {"public"}, "grant": {"client_credentials"}, "scope": {"openid"}},
		{"name": {"Código sin URI"}, "type": {"confidential"}, "grant": {"authorization_code"}, "scope": {"openid"}},
		{"name": {"Flujo raro"}, "type": {"confidential"}, "grant": {"implicit'--"}, "scope": {"openid"}},
		{"name": {"Alcance raro"}, "type": {"confidential"}, "grant": {"password"}, "scope": {"admin"}},
	} {
		r := a.post("/admin/applications", f)
		wantPage(t, r, http.StatusUnprocessableEntity, `class="error"`, html.EscapeString(f.Get("name")))
	}
	wantPage(t, a.post("/admin/applications/nada/disable", url.Values{}), http.StatusNotFound)
}

// TestAdminFirstParty: the operator marks an application first party on
// creation or later, and unmarks it; the scope account follows.
func TestAdminFirstParty(t *testing.T) {
	e := withProvider(t)
	e.newUser("jefa@example.com", true)
	a := e.as("jefa@example.com")
	// The form offers the mark, and does not tick account by default.
	r := a.get("/admin/applications")
	wantPage(t, r, http.StatusOK, `name="first_party"`, "Aplicación de primera parte")
	if strings.Contains(r.body, `name="scope" value="account" checked`) {
		t.Error("account ticked by default")
	}
	// account for a third party is refused, with what was typed kept.
	r = a.post("/admin/applications", url.Values{"name": {"Ajena"}, "type": {"confidential"}, "grant": {"client_credentials"}, "scope": {"voucher", "account"}})
	wantPage(t, r, http.StatusUnprocessableEntity, "primera parte", "Ajena")
	r = a.post("/admin/applications", url.Values{"name": {"Portal"}, "type": {"confidential"}, "grant": {"authorization_code", "refresh_token"},
		"scope": {"openid", "profile", "account"}, "redirect_uris": {"https://portal.example/cb"}, "first_party": {"on"}})
	wantPage(t, r, http.StatusOK, "Aplicación creada")
	id, _ := credentials(t, r.body)
	if c, err := e.st.GetClient(t.Context(), id); err != nil || !c.FirstParty {
		t.Fatalf("created %+v %v", c, err)
	}
	wantPage(t, a.get("/admin/applications"), http.StatusOK, `<span class="tag first">Primera parte</span>`)
	if r := a.post("/admin/applications/"+id+"/third-party", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("unmark: %d", r.status)
	}
	if c, _ := e.st.GetClient(t.Context(), id); c.FirstParty {
		t.Error("still first party")
	}
	if r := a.post("/admin/applications/"+id+"/first-party", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("mark: %d", r.status)
	}
	if c, _ := e.st.GetClient(t.Context(), id); !c.FirstParty {
		t.Error("not first party")
	}
	if len(e.events("client.first_party")) != 1 || len(e.events("client.third_party")) != 1 {
		t.Error("marks not recorded")
	}
	wantPage(t, a.post("/admin/applications/nada/first-party", url.Values{}), http.StatusNotFound)
	// Not for anyone but an admin.
	if r := e.as(testEmail).post("/admin/applications/"+id+"/third-party", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("non-admin: %d", r.status)
	}
}

// TestAdminEventsFilterMatchesPart: the events filter finds part of a
// type, as the JSON:API filters do ("refresh" finds refresh.reused), not
// only the exact type.
func TestAdminEventsFilterMatchesPart(t *testing.T) {
	e := withProvider(t)
	e.newUser("jefa@example.com", true)
	a := e.as("jefa@example.com")
	for _, typ := range []string{"refresh.reused", "client.created"} {
		if err := e.st.RecordEvent(t.Context(), &store.Event{Time: e.clock.Now(), Type: typ, UserID: e.user.ID, IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(body string) int { return strings.Count(body, `<tr class="event">`) }
	for q, want := range map[string]int{"refresh": 1, "REUSED": 1, "refresh.reused": 1, "login.succeeded": 1, "login": 1, "client": 1, "nada": 0} {
		r := a.get("/admin/events?" + url.Values{"type": {q}}.Encode())
		wantPage(t, r, http.StatusOK)
		if n := rows(r.body); n != want {
			t.Errorf("type %q: %d rows, want %d: %s", q, n, want, r.body)
		}
	}
	r := a.get("/admin/events?" + url.Values{"type": {"refresh"}}.Encode())
	if !strings.Contains(r.body, "<code>refresh.reused</code>") || strings.Contains(r.body, "<code>client.created</code>") {
		t.Fatalf("filter refresh: %s", r.body)
	}
}

func TestAdminListsNeverFail(t *testing.T) {
	e := withProvider(t)
	e.newUser("jefa@example.com", true)
	for i := range 25 {
		e.newUser(fmt.Sprintf("persona%02d@example.com", i), false)
	}
	a := e.as("jefa@example.com")
	// A failed login is an event.
	e.browser().post(web.PathLogin, url.Values{"email": {testEmail}, "password": {"mala"}})

	rows := func(body, class string) int { return strings.Count(body, `<tr class="`+class+`">`) }
	r := a.get("/admin")
	wantPage(t, r, http.StatusOK, "Total: 27", `rel="next"`)
	if n := rows(r.body, "user"); n != 20 {
		t.Fatalf("page 1 has %d users", n)
	}
	r = a.get("/admin?page=2")
	if n := rows(r.body, "user"); n != 7 || !strings.Contains(r.body, `rel="prev"`) || strings.Contains(r.body, `rel="next"`) {
		t.Fatalf("page 2 has %d users", n)
	}
	r = a.get("/admin?" + url.Values{"q": {"PERSONA1"}}.Encode())
	if n := rows(r.body, "user"); n != 10 {
		t.Fatalf("search found %d", n)
	}
	r = a.get("/admin?" + url.Values{"q": {"Otra"}, "field": {"first_name"}}.Encode())
	if !strings.Contains(r.body, "Total: 26") {
		t.Fatalf("first-name search: %s", r.body)
	}
	r = a.get("/admin/events?type=login.failed")
	if n := rows(r.body, "event"); n != 1 || !strings.Contains(r.body, testEmail) {
		t.Fatalf("login.failed events: %d %s", n, r.body)
	}

	odd := []string{"%", "_", `\`, "%_%", "'; DROP TABLE users; --", "\x00", "\xff\xfe", strings.Repeat("ñ", 5000), "<script>", "a\u202eb"}
	pages := []string{"-1", "0", "abc", "99999999999999999999", "1e9", "2147483648", " 2"}
	for _, path := range []string{"/admin", "/admin/applications", "/admin/events"} {
		for _, s := range odd {
			for _, k := range []string{"q", "type", "user", "field"} {
				r := a.get(path + "?" + url.Values{k: {s}}.Encode())
				// Invalid UTF-8 and NUL are refused at the edge (issue 11),
				// with a page, not a failure.
				want := http.StatusOK
				if !httpx.ValidText(s) {
					want = http.StatusBadRequest
				}
				wantPage(t, r, want)
				if strings.Contains(r.body, "<script>") {
					t.Fatal("unescaped input on the page")
				}
			}
		}
		for _, p := range pages {
			wantPage(t, a.get(path+"?page="+url.QueryEscape(p)), http.StatusOK)
		}
	}
	// The owner's lists take odd pages too.
	for _, p := range pages {
		wantPage(t, a.get(web.PathApplications+"?page="+url.QueryEscape(p)), http.StatusOK)
	}
}

// TestNotFoundPage: an address nothing serves is a page with the header
// (its links for a signed-in person) and a way back, in the person's
// language; addresses that exist for other methods still answer 405, and
// the protocol and JSON:API addresses keep a plain 404.
func TestNotFoundPage(t *testing.T) {
	e := withProvider(t)
	anon := e.browser()
	r := anon.get("/no-existe")
	wantPage(t, r, http.StatusNotFound, "Página no encontrada", "La página que buscas no existe.", `class="brand"`, `href="/account">Ir a Mi cuenta</a>`)
	if strings.Contains(r.body, `href="/logout"`) {
		t.Fatal("links for a signed-in person on an anonymous page")
	}
	r = anon.get("/no-existe", "Accept-Language", "en")
	wantPage(t, r, http.StatusNotFound, "Page not found", "Go to My account")
	b := e.as(testEmail)
	for _, p := range []string{"/no-existe", web.PathApplications + "/no-existe"} {
		wantPage(t, b.get(p), http.StatusNotFound, "Página no encontrada", `href="/logout"`, "Ir a Mi cuenta")
	}
	// Other error pages have the way back too.
	wantPage(t, b.get(web.PathAuthorize+"?client_id=nadie&response_type=code"), http.StatusBadRequest, "Ir a Mi cuenta", `href="/logout"`)

	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/auth/v1/token", http.StatusMethodNotAllowed, "POST"},
		{"DELETE", web.PathLogin, http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET", "/auth/v1/nada", http.StatusNotFound, ""},
		{"GET", "/v1/nada", http.StatusNotFound, ""},
		{"GET", "/.well-known/nada", http.StatusNotFound, ""},
	} {
		r := anon.do(c.method, c.path, nil)
		if r.status != c.status || r.header.Get("Allow") != c.allow || strings.Contains(r.body, "<html") {
			t.Errorf("%s %s: %d Allow %q %s", c.method, c.path, r.status, r.header.Get("Allow"), r.body)
		}
	}
}
