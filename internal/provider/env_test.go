package provider

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/token"
)

// clock is the injected time of a test environment.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testClient struct {
	id, secret string
}

// env is a real server: SQLite store, key manager, account service and the
// provider, behind an httptest server whose URL is the issuer.
type env struct {
	t      testing.TB
	ctx    context.Context
	st     *sqlstore.DB
	raw    *sql.DB // read-only view for row counts
	keys   *token.KeyManager
	acct   *account.Service
	p      *Provider
	srv    *httptest.Server
	clk    *clock
	issuer string
	path   string // the SQLite file

	user     *store.User
	email    string
	password string

	pw   testClient // confidential: password, refresh_token; all scopes
	cc   testClient // confidential: client_credentials; scope voucher
	pub  testClient // public: password (refresh implied)
	code testClient // confidential: authorization_code, refresh_token
	pkce testClient // public: authorization_code
}

const testSecret = "0123456789abcdef0123456789abcdef"

type envOption func(*Config, *account.Config)

func withGrace(d time.Duration) envOption {
	return func(c *Config, _ *account.Config) { c.RefreshGrace = d }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })

	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	keys, err := token.NewKeyManager(st, token.KeyConfig{Secret: testSecret, MaxTokenTTL: 2 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	log := slog.New(slog.DiscardHandler)
	cfg := Config{Issuer: issuer, Store: st, Keys: keys, Now: clk.Now, Log: log}
	acfg := account.Config{Now: clk.Now, Log: log, SlowAfter: 100, LockAfter: 100}
	for _, o := range opts {
		o(&cfg, &acfg)
	}
	acct := account.NewService(st, acfg)
	cfg.Accounts = acct
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRoutes(httpx.RoutesConfig{})
	p.Mount(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	e := &env{t: t, ctx: ctx, st: st, raw: raw, path: path, keys: keys, acct: acct, p: p, srv: srv, clk: clk, issuer: issuer,
		email: "ana@example.com", password: "correcto caballo bateria grapa"}
	e.user, err = acct.Register(ctx, account.RegisterInput{Email: e.email, Password: e.password, FirstName: "Ana", LastName: "Núñez"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(in clients.CreateInput) testClient {
		c, secret, err := clients.Create(ctx, st, in, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return testClient{c.ID, secret}
	}
	e.pw = mk(clients.CreateInput{Name: "seed", Grants: []string{store.GrantPassword, store.GrantRefreshToken}})
	e.cc = mk(clients.CreateInput{Name: "service", Grants: []string{store.GrantClientCredentials}, Scopes: []string{"voucher"}})
	e.pub = mk(clients.CreateInput{Name: "spa", Type: store.ClientPublic, Grants: []string{store.GrantPassword}})
	e.code = mk(clients.CreateInput{Name: "web", Grants: []string{store.GrantAuthorizationCode, store.GrantRefreshToken}, RedirectURIs: []string{"https://app.example.com/cb"}})
	e.pkce = mk(clients.CreateInput{Name: "native", Type: store.ClientPublic, Grants: []string{store.GrantAuthorizationCode}, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	return e
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r *resp) str(k string) string { s, _ := r.body[k].(string); return s }

func (e *env) do(req *http.Request) *resp {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &resp{status: res.StatusCode, header: res.Header, raw: string(b)}
	if len(b) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &out.body); err != nil {
			e.t.Fatalf("response %d is not JSON: %s", res.StatusCode, b)
		}
	}
	return out
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// form posts a form to path with optional extra headers (name, value pairs).
func (e *env) form(path string, v url.Values, hdr ...string) *resp {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

func (e *env) rawPost(path, contentType, body string, hdr ...string) *resp {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

// passwordLogin runs seed 000's request for client c and fails the test
// unless it succeeds.
func (e *env) passwordLogin(c testClient, scope string) *resp {
	e.t.Helper()
	v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password}, "client_id": {c.id}}
	if c.secret != "" {
		v.Set("client_secret", c.secret)
	}
	if scope != "" {
		v.Set("scope", scope)
	}
	r := e.form(PathToken, v)
	if r.status != 200 {
		e.t.Fatalf("password login: %d %s", r.status, r.raw)
	}
	return r
}

func (e *env) refresh(c testClient, rt, scope string) *resp {
	e.t.Helper()
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.id}}
	if c.secret != "" {
		v.Set("client_secret", c.secret)
	}
	if scope != "" {
		v.Set("scope", scope)
	}
	return e.form(PathToken, v)
}

// counts returns the number of grants and refresh tokens stored.
func (e *env) counts() [2]int {
	e.t.Helper()
	var out [2]int
	for i, table := range []string{"grants", "refresh_tokens"} {
		if err := e.raw.QueryRow("SELECT count(*) FROM " + table).Scan(&out[i]); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// bearer calls VerifyBearer with a request carrying the token in the header.
func (e *env) bearer(tok string) error {
	req := httptest.NewRequest(http.MethodGet, "/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_, err := e.p.VerifyBearer(req)
	return err
}

func (e *env) introspect(tok string) *resp {
	e.t.Helper()
	return e.form(PathIntrospect, url.Values{"token": {tok}}, "Authorization", basic(e.pw.id, e.pw.secret))
}

func wantOAuthError(t *testing.T, r *resp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if r.str("access_token") != "" || r.str("refresh_token") != "" {
		t.Errorf("token issued on an error: %s", r.raw)
	}
}

func (e *env) newClient(t testing.TB, name, typ string, grants []string) testClient {
	t.Helper()
	c, secret, err := clients.Create(e.ctx, e.st, clients.CreateInput{Name: name, Type: typ, Grants: grants, RedirectURIs: []string{"https://x.example.com/cb"}}, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return testClient{c.ID, secret}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
