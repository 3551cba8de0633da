package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/api"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
)

// fakeBearer maps tokens to what they grant; "boom" fails internally.
type fakeBearer map[string]*oauth.Access

func (f fakeBearer) VerifyBearer(r *http.Request) (*oauth.Access, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &oauth.BearerError{Status: http.StatusUnauthorized}
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil, &oauth.BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "not a bearer token"}
	}
	if tok == "boom" {
		return nil, errors.New("keystore exploded: secret=hunter2")
	}
	if a, ok := f[tok]; ok {
		return a, nil
	}
	return nil, &oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "unknown token"}
}

type env struct {
	st     store.Store
	svc    *account.Service
	mux    *httpx.Routes
	bearer fakeBearer
}

func newEnv(t *testing.T, cfg api.UsersConfig) *env {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &env{st: db, bearer: fakeBearer{}, mux: httpx.NewRoutes(httpx.RoutesConfig{})}
	e.svc = account.NewService(db, account.Config{})
	// The clients the fake tokens name: "app" is first party (the
	// operator's own), "third" is a developer's application.
	for _, c := range []*store.Client{
		{ID: "app", Name: "App", Type: store.ClientConfidential, FirstParty: true},
		{ID: "third", Name: "Otra", Type: store.ClientConfidential},
	} {
		if err := db.CreateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.RegisterLimit == 0 {
		cfg.RegisterLimit = 1000
	}
	cfg.Log = slog.New(slog.DiscardHandler)
	api.NewUsers(e.svc, db, e.bearer, cfg).Mount(e.mux)
	return e
}

func (e *env) do(t *testing.T, method, path, token, contentType string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), method, path, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

func (e *env) users(t *testing.T) int {
	t.Helper()
	n, err := e.st.CountUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// user registers a user and gives it a token of the first-party client
// "app" with seed 000's scopes and account.
func (e *env) user(t *testing.T, email, token string) *store.User {
	t.Helper()
	u, err := e.svc.Register(t.Context(), account.RegisterInput{Email: email, Password: "caballo correcto", FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	e.token(u, token, "app", "openid", "profile", "email", "voucher", "account")
	return u
}

// token gives u a token of clientID with scopes.
func (e *env) token(u *store.User, token, clientID string, scopes ...string) {
	e.bearer[token] = &oauth.Access{UserID: u.ID, ClientID: clientID, GrantID: "g-" + token, Scopes: scopes, ExpiresAt: time.Now().Add(time.Hour)}
}

type errDoc struct {
	Errors []struct {
		Status string `json:"status"`
		Code   string `json:"code"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Source *struct {
			Pointer string `json:"pointer"`
			Header  string `json:"header"`
		} `json:"source"`
	} `json:"errors"`
}

// wantError checks status, media type and the first error object.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code, pointer string) errDoc {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != api.MediaType {
		t.Errorf("Content-Type %q", ct)
	}
	var d errDoc
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || len(d.Errors) == 0 {
		t.Fatalf("not an error document: %s", w.Body)
	}
	o := d.Errors[0]
	if o.Code != code || o.Status != itoa(status) {
		t.Errorf("error %+v, want code %q status %d", o, code, status)
	}
	got := ""
	if o.Source != nil {
		got = o.Source.Pointer
	}
	if got != pointer {
		t.Errorf("pointer %q, want %q", got, pointer)
	}
	if o.Title == "" || o.Detail == "" {
		t.Errorf("error without title or detail: %+v", o)
	}
	return d
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func body(attrs string) string {
	return `{"data":{"type":"users","attributes":{` + attrs + `}}}`
}

const good = `"email":"nueva@example.com","password":"caballo correcto","first_name":"Ana","last_name":"Pérez"`

func TestRegisterRefusals(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	e.user(t, "ocupada@example.com", "t0")
	base := e.users(t)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		pointer     string
	}{
		{"text/plain", "text/plain", body(good), 415, "unsupported_media_type", ""},
		{"form", "application/x-www-form-urlencoded", "email=a@b.co", 415, "unsupported_media_type", ""},
		{"no content type", "", body(good), 415, "unsupported_media_type", ""},
		{"jsonapi with a charset parameter", api.MediaType + "; charset=utf-8", body(good), 415, "unsupported_media_type", ""},
		{"malformed", api.MediaType, `{"data":{"type":"users",`, 400, "malformed", ""},
		{"trailing garbage", api.MediaType, body(good) + `}`, 400, "malformed", ""},
		{"two documents", api.MediaType, body(good) + body(good), 400, "malformed", ""},
		{"invalid utf-8", api.MediaType, body(`"email":"a\xff@example.com","password":"caballo correcto"`), 400, "malformed", ""},
		{"empty body", api.MediaType, ``, 400, "malformed", ""},
		{"array", api.MediaType, `[]`, 400, "invalid_document", ""},
		{"no data", api.MediaType, `{}`, 400, "invalid_document", "/data"},
		{"null data", api.MediaType, `{"data":null}`, 400, "invalid_document", "/data"},
		{"data is a list", api.MediaType, `{"data":[{"type":"users"}]}`, 400, "invalid_document", "/data"},
		{"unknown top-level member", api.MediaType, `{"data":{"type":"users","attributes":{` + good + `}},"admin":true}`, 400, "invalid_document", "/admin"},
		{"no type", api.MediaType, `{"data":{"attributes":{` + good + `}}}`, 400, "invalid_document", "/data/type"},
		{"null type", api.MediaType, `{"data":{"type":null,"attributes":{` + good + `}}}`, 400, "invalid_document", "/data/type"},
		{"numeric type", api.MediaType, `{"data":{"type":1,"attributes":{` + good + `}}}`, 400, "invalid_document", "/data/type"},
		{"wrong type", api.MediaType, `{"data":{"type":"auth_clients","attributes":{` + good + `}}}`, 409, "type_mismatch", "/data/type"},
		{"type in other case", api.MediaType, `{"data":{"type":"Users","attributes":{` + good + `}}}`, 409, "type_mismatch", "/data/type"},
		{"client id", api.MediaType, `{"data":{"type":"users","id":"mine","attributes":{` + good + `}}}`, 403, "client_id_not_allowed", "/data/id"},
		{"attributes not an object", api.MediaType, `{"data":{"type":"users","attributes":[1]}}`, 400, "invalid_document", "/data/attributes"},
		{"unknown member of data", api.MediaType, `{"data":{"type":"users","admin":true,"attributes":{` + good + `}}}`, 400, "invalid_document", "/data/admin"},
		{"relationships", api.MediaType, `{"data":{"type":"users","attributes":{` + good + `},"relationships":{"groups":{"data":[]}}}}`, 422, "unknown_relationship", "/data/relationships"},
		{"no attributes", api.MediaType, `{"data":{"type":"users"}}`, 422, "required", "/data/attributes/email"},
		{"no email", api.MediaType, body(`"password":"caballo correcto"`), 422, "required", "/data/attributes/email"},
		{"empty email", api.MediaType, body(`"email":"  ","password":"caballo correcto"`), 422, "required", "/data/attributes/email"},
		{"no password", api.MediaType, body(`"email":"b@example.com"`), 422, "required", "/data/attributes/password"},
		{"admin", api.MediaType, body(good + `,"admin":true`), 422, "read_only", "/data/attributes/admin"},
		{"activated", api.MediaType, body(good + `,"activated":true`), 422, "read_only", "/data/attributes/activated"},
		{"status", api.MediaType, body(good + `,"status":"active"`), 422, "read_only", "/data/attributes/status"},
		{"id attribute", api.MediaType, body(good + `,"id":"x"`), 422, "read_only", "/data/attributes/id"},
		{"Admin in other case", api.MediaType, body(good + `,"Admin":true`), 422, "unknown_attribute", "/data/attributes/Admin"},
		{"EMAIL in other case", api.MediaType, body(`"EMAIL":"b@example.com","password":"caballo correcto"`), 422, "unknown_attribute", "/data/attributes/EMAIL"},
		{"unknown attribute", api.MediaType, body(good + `,"nickname":"x"`), 422, "unknown_attribute", "/data/attributes/nickname"},
		{"email not a string", api.MediaType, body(`"email":42,"password":"caballo correcto"`), 422, "invalid_type", "/data/attributes/email"},
		{"null password", api.MediaType, body(`"email":"b@example.com","password":null`), 422, "invalid_type", "/data/attributes/password"},
		{"invalid email", api.MediaType, body(`"email":"no es un correo","password":"caballo correcto"`), 422, "invalid", "/data/attributes/email"},
		{"email without domain dot", api.MediaType, body(`"email":"ana@localhost","password":"caballo correcto"`), 422, "invalid", "/data/attributes/email"},
		{"email over 254 bytes", api.MediaType, body(`"email":"` + strings.Repeat("a", 60) + "@" + strings.Repeat("b", 200) + `.com","password":"caballo correcto"`), 422, "too_long", "/data/attributes/email"},
		{"first name over 100", api.MediaType, body(`"email":"b@example.com","password":"caballo correcto","first_name":"` + strings.Repeat("ñ", 101) + `"`), 422, "too_long", "/data/attributes/first_name"},
		{"last name over 100", api.MediaType, body(`"email":"b@example.com","password":"caballo correcto","last_name":"` + strings.Repeat("x", 101) + `"`), 422, "too_long", "/data/attributes/last_name"},
		{"short password", api.MediaType, body(`"email":"b@example.com","password":"corta"`), 422, "too_short", "/data/attributes/password"},
		{"common password", api.MediaType, body(`"email":"b@example.com","password":"Password1"`), 422, "common", "/data/attributes/password"},
		{"common password, other case", api.MediaType, body(`"email":"b@example.com","password":"QWERTYUIOP"`), 422, "common", "/data/attributes/password"},
		{"password over 1024 bytes", api.MediaType, body(`"email":"b@example.com","password":"` + strings.Repeat("k", 1025) + `"`), 422, "too_long", "/data/attributes/password"},
		{"password is the email", api.MediaType, body(`"email":"bruno.diaz@example.com","password":"bruno.diaz@example.com"`), 422, "same_as_email", "/data/attributes/password"},
		{"taken email", api.MediaType, body(`"email":"ocupada@example.com","password":"caballo correcto"`), 409, "email_taken", "/data/attributes/email"},
		{"taken email, other case", "application/json", body(`"email":"OCUPADA@Example.com","password":"caballo correcto"`), 409, "email_taken", "/data/attributes/email"},
		{"taken email, fullwidth", api.MediaType, body(`"email":"ｏｃｕｐａｄａ@example.com","password":"caballo correcto"`), 409, "email_taken", "/data/attributes/email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, "POST", "/v1/users", "", tt.contentType, strings.NewReader(tt.body))
			wantError(t, w, tt.status, tt.code, tt.pointer)
			if w.Header().Get("Location") != "" {
				t.Errorf("Location on a refusal")
			}
			if n := e.users(t); n != base {
				t.Errorf("%d users, want %d: a refused request wrote a row", n, base)
			}
		})
	}
}

func TestRegisterSeveralErrors(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	w := e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(body(`"email":"x","password":"y","first_name":"`+strings.Repeat("z", 101)+`"`)))
	d := wantError(t, w, 422, "invalid", "/data/attributes/email")
	var got []string
	for _, o := range d.Errors {
		got = append(got, o.Code+" "+o.Source.Pointer)
	}
	want := []string{"invalid /data/attributes/email", "too_short /data/attributes/password", "too_long /data/attributes/first_name"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	// Privileged and unknown attributes together: each reported.
	w = e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(body(good+`,"admin":true,"status":"active","zzz":1`)))
	d = wantError(t, w, 422, "read_only", "/data/attributes/admin")
	if len(d.Errors) != 3 {
		t.Errorf("%d errors: %s", len(d.Errors), w.Body)
	}
	if e.users(t) != 0 {
		t.Errorf("rows written")
	}
}

func TestRegisterTooLarge(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	big := body(`"email":"b@example.com","password":"caballo correcto","first_name":"` + strings.Repeat("x", 1<<20) + `"`)
	// With a Content-Length: refused before reading.
	w := e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(big))
	wantError(t, w, 413, "too_large", "")
	// Chunked, no Content-Length: refused when the limit is crossed.
	w = e.do(t, "POST", "/v1/users", "", api.MediaType, struct{ io.Reader }{strings.NewReader(big)})
	wantError(t, w, 413, "too_large", "")
	if e.users(t) != 0 {
		t.Errorf("rows written")
	}
}

func TestRegister(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	for _, ct := range []string{api.MediaType, "application/json", "application/json; charset=utf-8", api.MediaType + `; profile="https://example.com/p"`} {
		email := "ana" + itoa(e.users(t)) + "@example.com"
		w := e.do(t, "POST", "/v1/users", "", ct, strings.NewReader(body(`"email":" `+strings.ToUpper(email)+`","password":"caballo correcto","first_name":"Ana","last_name":"Pérez"`)))
		if w.Code != 201 {
			t.Fatalf("%s: %d %s", ct, w.Code, w.Body)
		}
		if got := w.Header().Get("Content-Type"); got != api.MediaType {
			t.Errorf("Content-Type %q", got)
		}
		var d struct {
			Data struct {
				Type       string         `json:"type"`
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
				Links      map[string]string
			} `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.Data.Type != "users" || d.Data.ID == "" || w.Header().Get("Location") != "/v1/users/"+d.Data.ID || d.Data.Links["self"] != "/v1/users/"+d.Data.ID {
			t.Errorf("resource %+v, Location %q", d.Data, w.Header().Get("Location"))
		}
		a := d.Data.Attributes
		delete(a, "created_at")
		delete(a, "updated_at")
		// A self-registered address is unproven: email_verified false.
		want := map[string]any{"email": strings.ToUpper(email), "email_verified": false, "first_name": "Ana", "last_name": "Pérez", "activated": true, "status": "active", "avatar_url": nil}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Errorf("attributes (-want +got):\n%s", diff)
		}
		if strings.Contains(w.Body.String(), "caballo") || strings.Contains(w.Body.String(), "argon2") {
			t.Errorf("the password shows: %s", w.Body)
		}
		u, err := e.st.GetUser(t.Context(), d.Data.ID)
		if err != nil || u.Admin || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("stored %+v %v", u, err)
		}
		if _, err := e.svc.Authenticate(t.Context(), email, "caballo correcto", ""); err != nil {
			t.Errorf("cannot log in: %v", err)
		}
	}
	if e.users(t) != 4 {
		t.Errorf("%d users", e.users(t))
	}
}

func TestRegisterLanguage(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	req := body(`"email":"b@example.com","password":"corta"`)
	es := wantError(t, e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(req)), 422, "too_short", "/data/attributes/password")
	en := wantError(t, e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(req), "Accept-Language", "en-GB,en;q=0.9,es;q=0.5"), 422, "too_short", "/data/attributes/password")
	esToo := wantError(t, e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(req), "Accept-Language", "es-AR,en;q=0.8"), 422, "too_short", "/data/attributes/password")
	if !strings.Contains(es.Errors[0].Detail, "al menos 8 caracteres") || !strings.Contains(en.Errors[0].Detail, "at least 8 characters") || esToo.Errors[0].Detail != es.Errors[0].Detail {
		t.Errorf("es %q, en %q, es-AR %q", es.Errors[0].Detail, en.Errors[0].Detail, esToo.Errors[0].Detail)
	}
	w := e.do(t, "POST", "/v1/users", "", "text/plain", strings.NewReader(req), "Accept-Language", "en")
	if d := wantError(t, w, 415, "unsupported_media_type", ""); !strings.Contains(d.Errors[0].Detail, "Content-Type: application/vnd.api+json") {
		t.Errorf("415 detail %q", d.Errors[0].Detail)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	e := newEnv(t, api.UsersConfig{RegisterLimit: 2, RegisterWindow: time.Hour})
	send := func(email, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(t.Context(), "POST", "/v1/users", strings.NewReader(body(`"email":"`+email+`","password":"caballo correcto"`)))
		r.Header.Set("Content-Type", api.MediaType)
		r.RemoteAddr = addr + ":4000"
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		return w
	}
	// Refused bodies do not count.
	for range 3 {
		if w := send("mal", "192.0.2.1"); w.Code != 422 {
			t.Fatal(w.Code)
		}
	}
	if w := send("a@example.com", "192.0.2.1"); w.Code != 201 {
		t.Fatal(w.Code, w.Body)
	}
	if w := send("a@example.com", "192.0.2.1"); w.Code != 409 { // probing a taken address counts
		t.Fatal(w.Code, w.Body)
	}
	w := send("b@example.com", "192.0.2.1")
	wantError(t, w, 429, "rate_limited", "")
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if w := send("b@example.com", "192.0.2.2"); w.Code != 201 {
		t.Errorf("another address: %d", w.Code)
	}
	if e.users(t) != 2 {
		t.Errorf("%d users", e.users(t))
	}
}

func TestRegisterBusy(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// One hash at a time, none may wait: concurrent registrations beyond the
	// first are refused with 503 and Retry-After, never queued without bound.
	svc := account.NewService(db, account.Config{MaxConcurrentHashes: 1, MaxQueuedHashes: -1})
	mux := httpx.NewRoutes(httpx.RoutesConfig{})
	api.NewUsers(svc, db, fakeBearer{}, api.UsersConfig{RegisterLimit: -1, Log: slog.New(slog.DiscardHandler)}).Mount(mux)
	const n = 8
	codes := make(chan *httptest.ResponseRecorder, n)
	for i := range n {
		go func() {
			r := httptest.NewRequestWithContext(t.Context(), "POST", "/v1/users", strings.NewReader(body(`"email":"u`+itoa(i)+`@example.com","password":"caballo correcto"`)))
			r.Header.Set("Content-Type", api.MediaType)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			codes <- w
		}()
	}
	created, busy := 0, 0
	for range n {
		w := <-codes
		switch w.Code {
		case 201:
			created++
		case 503:
			busy++
			wantError(t, w, 503, "busy", "")
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		default:
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
	}
	if created < 1 || created+busy != n {
		t.Errorf("created %d, busy %d", created, busy)
	}
	if c, _ := db.CountUsers(t.Context()); c != created {
		t.Errorf("%d rows, %d created", c, created)
	}
}

func TestMeAuthentication(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	e.user(t, "ana@example.com", "t1")
	e.bearer["cc"] = &oauth.Access{ClientID: "svc", GrantID: "g", ExpiresAt: time.Now().Add(time.Hour)}
	e.bearer["ghost"] = &oauth.Access{UserID: "no-such-user", ClientID: "app", GrantID: "g"}
	for _, route := range []struct{ method, path, ct, body string }{
		{"GET", "/v1/users/me", "", ""},
		{"PATCH", "/v1/users/me", api.MediaType, body(`"first_name":"X"`)},
		{"DELETE", "/v1/users/me", "", ""},
	} {
		t.Run(route.method, func(t *testing.T) {
			do := func(token string) *httptest.ResponseRecorder {
				return e.do(t, route.method, route.path, token, route.ct, strings.NewReader(route.body))
			}
			w := do("")
			wantError(t, w, 401, "unauthorized", "")
			if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="multinexo"` {
				t.Errorf("challenge %q", got)
			}
			w = do("wrong")
			wantError(t, w, 401, "invalid_token", "")
			if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("challenge %q", got)
			}
			wantError(t, do("cc"), 403, "user_token_required", "")
			wantError(t, do("ghost"), 401, "invalid_token", "")
			w = do("boom")
			wantError(t, w, 500, "internal_error", "")
			if strings.Contains(w.Body.String(), "hunter2") || strings.Contains(w.Body.String(), "keystore") {
				t.Errorf("internal error text shown: %s", w.Body)
			}
		})
	}
	if e.users(t) != 1 {
		t.Errorf("users %d", e.users(t))
	}
}

func TestGetMe(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	u := e.user(t, "Ana@Example.com", "t1")
	other := e.user(t, "bea@example.com", "t2")
	w := e.do(t, "GET", "/v1/users/me", "t1", "", nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != api.MediaType || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	var d struct {
		Data struct {
			Type, ID   string
			Attributes map[string]any
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Data.Type != "users" || d.Data.ID != u.ID || d.Data.Attributes["email"] != "Ana@Example.com" || d.Data.Attributes["first_name"] != "Ana" {
		t.Errorf("%+v", d.Data)
	}
	if _, ok := d.Data.Attributes["password"]; ok || strings.Contains(w.Body.String(), "argon2") {
		t.Errorf("password shown")
	}
	if w := e.do(t, "GET", "/v1/users/"+u.ID, "t1", "", nil); w.Code != 200 {
		t.Errorf("own id: %d", w.Code)
	}
	wantError(t, e.do(t, "GET", "/v1/users/"+other.ID, "t1", "", nil), 404, "not_found", "")

	// Seed 004: plain JSON.
	for _, path := range []string{"/api/v1/users/me/", "/api/v1/users/me"} {
		w = e.do(t, "GET", path, "t1", "", nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
		var p map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p["id"] != u.ID || p["email"] != "Ana@Example.com" || p["first_name"] != "Ana" || p["last_name"] != "Pérez" || p["username"] != "Ana@Example.com" {
			t.Errorf("%s: %v", path, p)
		}
	}
	w = e.do(t, "GET", "/api/v1/users/me/", "", "", nil)
	if w.Code != 401 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v", w.Code, w.Header())
	}
	var pe map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &pe); err != nil || pe["detail"] == "" {
		t.Errorf("plain error %s", w.Body)
	}
	e.bearer["cc"] = &oauth.Access{ClientID: "svc"}
	if w := e.do(t, "GET", "/api/v1/users/me/", "cc", "", nil); w.Code != 403 {
		t.Errorf("client token: %d", w.Code)
	}
}

func TestPatchMe(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	u := e.user(t, "ana@example.com", "t1")
	e.user(t, "bea@example.com", "t2")
	patch := func(attrs string, extra ...string) *httptest.ResponseRecorder {
		return e.do(t, "PATCH", "/v1/users/me", "t1", api.MediaType, strings.NewReader(body(attrs)), extra...)
	}
	refusals := []struct {
		name, body    string
		status        int
		code, pointer string
	}{
		{"admin", `"admin":true`, 422, "read_only", "/data/attributes/admin"},
		{"status", `"first_name":"Eva","status":"disabled"`, 422, "read_only", "/data/attributes/status"},
		{"unknown", `"nickname":"x"`, 422, "unknown_attribute", "/data/attributes/nickname"},
		{"long name", `"first_name":"` + strings.Repeat("x", 101) + `"`, 422, "too_long", "/data/attributes/first_name"},
		{"bad email", `"email":"sin-arroba"`, 422, "invalid", "/data/attributes/email"},
		{"taken email", `"email":"BEA@example.com","current_password":"caballo correcto"`, 409, "email_taken", "/data/attributes/email"},
		{"password without current", `"password":"batería grapa"`, 422, "required", "/data/attributes/current_password"},
		{"current alone", `"current_password":"caballo correcto"`, 422, "required", "/data/attributes/password"},
		{"wrong current", `"password":"batería grapa","current_password":"equivocada"`, 422, "incorrect", "/data/attributes/current_password"},
		{"email without current", `"email":"eva@example.com"`, 422, "required", "/data/attributes/current_password"},
		{"email with wrong current", `"email":"eva@example.com","current_password":"equivocada"`, 422, "incorrect", "/data/attributes/current_password"},
		{"common new password", `"password":"iloveyou","current_password":"caballo correcto"`, 422, "common", "/data/attributes/password"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, patch(tt.body), tt.status, tt.code, tt.pointer)
			got, _ := e.st.GetUser(t.Context(), u.ID)
			if got.FirstName != "Ana" || got.Email != "ana@example.com" || got.PasswordHash != u.PasswordHash || got.Admin || got.Disabled {
				t.Errorf("changed: %+v", got)
			}
		})
	}
	w := e.do(t, "PATCH", "/v1/users/me", "t1", api.MediaType, strings.NewReader(`{"data":{"type":"users","id":"someone-else","attributes":{"first_name":"X"}}}`))
	wantError(t, w, 409, "id_mismatch", "/data/id")
	wantError(t, e.do(t, "PATCH", "/v1/users/me", "t1", "text/plain", strings.NewReader(body(`"first_name":"X"`))), 415, "unsupported_media_type", "")
	wantError(t, e.do(t, "PATCH", "/v1/users/me", "t1", api.MediaType, strings.NewReader(`{"data":{"type":"clients","attributes":{}}}`)), 409, "type_mismatch", "/data/type")

	w = e.do(t, "PATCH", "/v1/users/me", "t1", api.MediaType, strings.NewReader(`{"data":{"type":"users","id":"`+u.ID+`","attributes":{"first_name":"Eva","last_name":"","email":"Eva@Example.com","current_password":"caballo correcto"}}}`))
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	got, _ := e.st.GetUser(t.Context(), u.ID)
	if got.FirstName != "Eva" || got.LastName != "" || got.Email != "Eva@Example.com" || got.EmailKey != account.EmailKey("eva@example.com") {
		t.Errorf("stored %+v", got)
	}
	if w := patch(`"password":"batería grapa","current_password":"caballo correcto"`); w.Code != 200 {
		t.Fatalf("password change: %d %s", w.Code, w.Body)
	}
	if _, err := e.svc.Authenticate(t.Context(), "eva@example.com", "batería grapa", ""); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestDeleteMe(t *testing.T) {
	e := newEnv(t, api.UsersConfig{})
	u := e.user(t, "ana@example.com", "t1")
	e.user(t, "bea@example.com", "t2")
	w := e.do(t, "DELETE", "/v1/users/me", "t1", "", nil)
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if _, err := e.st.GetUser(t.Context(), u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("still there: %v", err)
	}
	if e.users(t) != 1 {
		t.Errorf("%d users", e.users(t))
	}
	// The token of a deleted account no longer works here.
	wantError(t, e.do(t, "GET", "/v1/users/me", "t1", "", nil), 401, "invalid_token", "")
	if _, err := e.svc.Authenticate(t.Context(), "ana@example.com", "caballo correcto", ""); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Errorf("deleted account logs in: %v", err)
	}
	// The address is free again.
	if w := e.do(t, "POST", "/v1/users", "", api.MediaType, strings.NewReader(body(`"email":"ana@example.com","password":"caballo correcto"`))); w.Code != 201 {
		t.Errorf("re-register: %d", w.Code)
	}
}
