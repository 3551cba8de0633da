package web_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// The passkey endpoints without a browser: what binds a ceremony to the
// browser that began it, its single use and lifetime, the recent sign-in a
// deletion needs, and pages without passkeys when they are off.

// postJSON posts body as JSON and decodes the JSON answer.
func (b *browser) postJSON(path string, body any) (int, map[string]any) {
	b.e.t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(b.e.t.Context(), http.MethodPost, b.e.srv.URL+path, strings.NewReader(string(raw)))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		b.e.t.Fatalf("%s: status %d, not JSON: %v", path, res.StatusCode, err)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		b.e.t.Errorf("%s: Cache-Control %q", path, cc)
	}
	return res.StatusCode, out
}

func newPasskeyEnv(t *testing.T) *env {
	return newEnvWith(t, envOptions{localhost: true, passkeys: true}, nil)
}

// TestPasskeyCeremonyBoundToBrowser: a login ceremony's handle is worth
// nothing in another browser (the binding cookie is this browser's), is
// finished once, and not after its five minutes.
func TestPasskeyCeremonyBoundToBrowser(t *testing.T) {
	e := newPasskeyEnv(t)
	a, other := e.browser(), e.browser()
	begin := func(b *browser) string {
		t.Helper()
		status, got := b.postJSON(web.PathPasskeyLogin+"/begin", map[string]any{})
		h, _ := got["ceremony"].(string)
		opts, _ := got["options"].(map[string]any)
		pk, _ := opts["publicKey"].(map[string]any)
		if status != http.StatusOK || h == "" || pk["challenge"] == "" || pk["userVerification"] != "required" || pk["rpId"] != "localhost" {
			t.Fatalf("begin: %d %v", status, got)
		}
		return h
	}
	finish := func(b *browser, h string) (int, string) {
		t.Helper()
		status, got := b.postJSON(web.PathPasskeyLogin+"/finish", map[string]any{"ceremony": h, "credential": map[string]any{}})
		msg, _ := got["error"].(string)
		return status, msg
	}
	h := begin(a)
	begin(other) // the other browser has a binding cookie too, just not this one
	if status, msg := finish(other, h); status != http.StatusBadRequest || !strings.Contains(msg, "caducó") {
		t.Errorf("another browser finishing: %d %q", status, msg)
	}
	// Its own browser finishes it (the empty credential is refused as
	// unverifiable, after the ceremony was consumed) — once.
	if status, msg := finish(a, h); status != http.StatusUnauthorized || !strings.Contains(msg, "No pudimos verificar") {
		t.Errorf("own browser finishing: %d %q", status, msg)
	}
	if status, msg := finish(a, h); status != http.StatusBadRequest || !strings.Contains(msg, "caducó") {
		t.Errorf("finishing twice: %d %q", status, msg)
	}
	h = begin(a)
	e.clock.Add(5*time.Minute + time.Second)
	if status, msg := finish(a, h); status != http.StatusBadRequest || !strings.Contains(msg, "caducó") {
		t.Errorf("finishing after five minutes: %d %q", status, msg)
	}
	// Without any binding cookie: nothing to finish.
	if status, _ := finish(e.browser(), h); status != http.StatusBadRequest {
		t.Errorf("no binding cookie: %d", status)
	}
	// The second-factor ceremony needs a pending login; adding a passkey, a session.
	if status, got := e.browser().postJSON(web.PathPasskeyVerify+"/begin", map[string]any{}); status != http.StatusUnauthorized || got["error"] == "" {
		t.Errorf("second factor without a pending login: %d %v", status, got)
	}
	if status, got := e.browser().postJSON(web.PathAccountPasskeys+"/begin", map[string]any{}); status != http.StatusUnauthorized || got["error"] == "" {
		t.Errorf("adding without a session: %d %v", status, got)
	}
	// The register ceremony is bound to the session: another session of the
	// same person cannot finish it.
	a.login()
	status, got := a.postJSON(web.PathAccountPasskeys+"/begin", map[string]any{})
	h, _ = got["ceremony"].(string)
	if status != http.StatusOK || h == "" {
		t.Fatalf("register begin: %d %v", status, got)
	}
	b2 := e.browser()
	b2.login()
	if status, got := b2.postJSON(web.PathAccountPasskeys+"/finish", map[string]any{"ceremony": h, "credential": map[string]any{}}); status != http.StatusBadRequest {
		t.Errorf("another session finishing a registration: %d %v", status, got)
	}
}

// TestPasskeyCrossOrigin: the JSON endpoints are page routes: a request
// from another site is refused before any ceremony is begun.
func TestPasskeyCrossOrigin(t *testing.T) {
	e := newPasskeyEnv(t)
	r := e.browser().post(web.PathPasskeyLogin+"/begin", url.Values{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden {
		t.Errorf("cross-site begin: %d", r.status)
	}
}

// TestPasskeyDeleteNeedsRecentSignIn: a session older than ten minutes is
// sent to sign in again before a passkey goes; rename and delete touch
// only the person's own passkeys.
func TestPasskeyDeleteNeedsRecentSignIn(t *testing.T) {
	e := newPasskeyEnv(t)
	ctx := t.Context()
	other, err := e.accts.Register(ctx, accountInput("otro@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	mine := &store.Passkey{CredentialID: []byte("mine"), UserID: e.user.ID, PublicKey: []byte("k"), Name: "Teléfono", CreatedAt: e.clock.Now()}
	theirs := &store.Passkey{CredentialID: []byte("theirs"), UserID: other.ID, PublicKey: []byte("k"), Name: "Ajena", CreatedAt: e.clock.Now()}
	for _, p := range []*store.Passkey{mine, theirs} {
		if err := e.st.CreatePasskey(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login()
	r := b.get(web.PathAccount)
	if r.status != 200 || !strings.Contains(r.body, "Teléfono") || strings.Contains(r.body, "Ajena") || !strings.Contains(r.body, `id="passkey-add"`) ||
		!strings.Contains(r.body, "/static/passkey.js") || !strings.Contains(r.header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("account page: %d %s", r.status, r.body)
	}
	id := func(p *store.Passkey) string { return b64url(p.CredentialID) }

	r = b.post(web.PathAccountPasskeys+"/rename", url.Values{"id": {id(mine)}, "name": {"  Mi teléfono\x07 "}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	if p, _ := e.st.GetPasskey(ctx, mine.CredentialID); p.Name != "Mi teléfono" {
		t.Errorf("renamed to %q", p.Name)
	}
	if r := b.post(web.PathAccountPasskeys+"/rename", url.Values{"id": {id(theirs)}, "name": {"Mía"}}); r.status != http.StatusNotFound {
		t.Errorf("renaming another's passkey: %d", r.status)
	}

	e.clock.Add(11 * time.Minute)
	r = b.post(web.PathAccountPasskeys+"/delete", url.Values{"id": {id(mine)}})
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathLogin || r.loc.Query().Get("why") != "recent" {
		t.Fatalf("delete with an old sign-in: %d %v", r.status, r.loc)
	}
	if _, err := e.st.GetPasskey(ctx, mine.CredentialID); err != nil {
		t.Fatal("deleted without a recent sign-in")
	}
	if r := b.get(r.loc.RequestURI()); !strings.Contains(r.body, "vuelve a iniciar sesión para continuar") {
		t.Errorf("the login page does not say why: %s", r.body)
	}
	b.login()
	if r := b.post(web.PathAccountPasskeys+"/delete", url.Values{"id": {id(theirs)}}); r.status != http.StatusNotFound {
		t.Errorf("deleting another's passkey: %d", r.status)
	}
	r = b.post(web.PathAccountPasskeys+"/delete", url.Values{"id": {id(mine)}})
	if r.status != http.StatusSeeOther || r.loc.Query().Get("saved") != "pkdeleted" {
		t.Fatalf("delete: %d %v", r.status, r.loc)
	}
	if _, err := e.st.GetPasskey(ctx, mine.CredentialID); err == nil {
		t.Error("not deleted")
	}
	if _, err := e.st.GetPasskey(ctx, theirs.CredentialID); err != nil {
		t.Error("another's passkey deleted")
	}
}

// TestPasskeysOff: without passkeys the pages run no script and offer none.
func TestPasskeysOff(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	r := b.get(web.PathLogin)
	if strings.Contains(r.body, "passkey") || strings.Contains(r.body, "webauthn") || strings.Contains(r.header.Get("Content-Security-Policy"), "script-src") {
		t.Errorf("login page offers passkeys: %s", r.body)
	}
	b.login()
	if r := b.get(web.PathAccount); strings.Contains(r.body, "passkey") {
		t.Errorf("account page offers passkeys: %s", r.body)
	}
	status, got := b.postJSON(web.PathPasskeyLogin+"/begin", map[string]any{})
	if status != http.StatusNotFound || !strings.Contains(got["error"].(string), "no están disponibles") {
		t.Errorf("begin with passkeys off: %d %v", status, got)
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestPasskeyBeginLimited: an address may begin BeginLimit sign-in
// ceremonies a minute; the next gets 429 with Retry-After, and the next
// minute begins again.
func TestPasskeyBeginLimited(t *testing.T) {
	e := newPasskeyEnv(t)
	b := e.browser()
	for i := range web.BeginLimit {
		if status, got := b.postJSON(web.PathPasskeyLogin+"/begin", map[string]any{}); status != http.StatusOK {
			t.Fatalf("begin %d: %d %v", i, status, got)
		}
	}
	if status, got := b.postJSON(web.PathPasskeyLogin+"/begin", map[string]any{}); status != http.StatusTooManyRequests || got["error"] == "" {
		t.Errorf("begin over the limit: %d %v", status, got)
	}
	e.clock.Add(time.Minute)
	if status, _ := b.postJSON(web.PathPasskeyLogin+"/begin", map[string]any{}); status != http.StatusOK {
		t.Errorf("begin the next minute: %d", status)
	}
}
