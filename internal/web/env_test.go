package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/token"
	"github.com/multinexo/auth/internal/web"
	"github.com/multinexo/auth/internal/web/console"
)

// clock is a settable clock shared by the store users in a test.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	live bool // follow the real clock (browser tests)
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		return time.Now()
	}
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recStore is the real SQLite store, recording every authorization code
// and grant written through it, so tests can check that a refused request
// issued nothing.
type recStore struct {
	*sqlstore.DB
	mu     sync.Mutex
	codes  []*store.AuthCode
	grants []*store.Grant
}

func (s *recStore) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	err := s.DB.CreateAuthCode(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.codes = append(s.codes, c)
		s.mu.Unlock()
	}
	return err
}

func (s *recStore) IssueGrant(ctx context.Context, g *store.Grant, rt *store.RefreshToken) error {
	err := s.DB.IssueGrant(ctx, g, rt)
	if err == nil {
		s.mu.Lock()
		s.grants = append(s.grants, g)
		s.mu.Unlock()
	}
	return err
}

func (s *recStore) issued() (codes, grants int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes), len(s.grants)
}

func (s *recStore) lastCode() *store.AuthCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.codes) == 0 {
		return nil
	}
	return s.codes[len(s.codes)-1]
}

const (
	testEmail    = "ana.perez@example.com"
	testPassword = "caballo correcto batería grapa"
	webApp       = "web-app"
	webRedirect  = "https://app.example.com/cb?tenant=1"
)

type env struct {
	t      *testing.T
	st     *recStore
	keys   *token.KeyManager
	accts  *account.Service
	clock  *clock
	srv    *httptest.Server
	issuer string
	user   *store.User
	mux    *httpx.Routes
}

// tokens is the provider that mints the tokens the pages hand out (the
// implicit grant), on the env's recording store.
func (e *env) tokens(issuer string) web.Tokens {
	e.t.Helper()
	p, err := provider.New(provider.Config{Issuer: issuer, Store: e.st, Keys: e.keys, Now: e.clock.Now, AccessTTL: 900 * time.Second,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// newEnv starts an httptest server with the pages on a fresh SQLite store,
// real signing keys and the real account service, and registers the test
// clients and one user. mount, if given, adds more handlers (the token
// endpoint in end-to-end tests) once the issuer is known.
func newEnv(t *testing.T, mount func(e *env)) *env {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: &recStore{DB: db}, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, mux: httpx.NewRoutes(httpx.RoutesConfig{})}
	e.keys, err = token.NewKeyManager(db, token.KeyConfig{
		Secret: "test secret that is long enough for hkdf", MaxTokenTTL: 25 * time.Hour, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	e.accts = account.NewService(db, account.Config{Now: e.clock.Now, LockAfter: 4, SlowAfter: 100,
		Secret: "test secret that is long enough for hkdf"})
	e.user, err = e.accts.Register(ctx, account.RegisterInput{Email: testEmail, Password: testPassword, FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(e.mux)
	e.issuer = "http://" + e.srv.Listener.Addr().String()
	w, err := web.New(web.Config{
		Issuer: e.issuer, Store: e.st, Keys: e.keys, Tokens: e.tokens(e.issuer), Accounts: e.accts, Recovery: e.accts, Now: e.clock.Now,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	mountPages(t, e.mux, w, e.st, e.accts)
	if mount != nil {
		mount(e)
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)

	now := e.clock.Now()
	all := []string{"openid", "profile", "email", "voucher", "offline_access"}
	code := []string{store.GrantAuthorizationCode, store.GrantRefreshToken}
	for _, c := range []*store.Client{
		{ID: webApp, Name: "Tienda Ejemplo", Type: store.ClientConfidential, SecretHash: store.HashToken("web-secret"),
			RedirectURIs: []string{webRedirect, "https://app.example.com/other"}, PostLogoutRedirectURIs: []string{"https://app.example.com/bye"},
			Grants: code, Scopes: all},
		{ID: "spa", Name: "Panel SPA", Type: store.ClientPublic,
			RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/oauth2redirect"}, Grants: code, Scopes: all},
		{ID: "single", Name: "Única", Type: store.ClientConfidential, SecretHash: store.HashToken("s"),
			RedirectURIs: []string{"https://single.example/cb"}, Grants: code, Scopes: []string{"openid"}},
		{ID: "m2m", Name: "Máquina", Type: store.ClientConfidential, SecretHash: store.HashToken("m"),
			RedirectURIs: []string{"https://m2m.example/cb"}, Grants: []string{store.GrantClientCredentials}, Scopes: all},
		{ID: "legacy", Name: "Vieja", Type: store.ClientPublic, Legacy: true,
			RedirectURIs: []string{"https://legacy.example/cb"}, Grants: code, Scopes: all},
		{ID: "off", Name: "Apagada", Type: store.ClientConfidential, SecretHash: store.HashToken("o"), Disabled: true,
			RedirectURIs: []string{"https://off.example/cb"}, Grants: code, Scopes: all},
		// A client that follows OpenID Connect Core §11: refresh tokens only
		// with offline_access.
		{ID: "strict", Name: "Estricta", Type: store.ClientConfidential, SecretHash: store.HashToken("x"), OfflineAccessRequired: true,
			RedirectURIs: []string{"https://strict.example/cb"}, Grants: code, Scopes: all},
		// The operator's own web application: it may ask for account.
		{ID: "portal", Name: "Portal propio", Type: store.ClientConfidential, SecretHash: store.HashToken("p"), FirstParty: true,
			RedirectURIs: []string{"https://portal.example/cb"}, Grants: code, Scopes: all},
	} {
		c.CreatedAt, c.UpdatedAt = now, now
		if err := db.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// verifier is a fixed PKCE verifier and its S256 challenge.
const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challenge(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// authzQuery is a valid authorization request for webApp, changed by kv
// ("" value deletes the parameter).
func authzQuery(kv ...string) url.Values {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {webApp},
		"redirect_uri":          {webRedirect},
		"scope":                 {"openid profile"},
		"state":                 {"st-123"},
		"nonce":                 {"n-0S6_WzA2Mj"},
		"code_challenge":        {challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	status int
	header http.Header
	body   string
	loc    *url.URL
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) *resp {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.e.srv.URL + path
	}
	req, err := http.NewRequestWithContext(b.e.t.Context(), method, u, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r := &resp{status: res.StatusCode, header: res.Header, body: string(data)}
	if l := res.Header.Get("Location"); l != "" {
		r.loc, err = res.Request.URL.Parse(l)
		if err != nil {
			b.e.t.Fatalf("bad Location %q: %v", l, err)
		}
	}
	return r
}

func (b *browser) get(path string, hdr ...string) *resp {
	return b.do(http.MethodGet, path, nil, hdr...)
}
func (b *browser) post(path string, form url.Values, hdr ...string) *resp {
	return b.do(http.MethodPost, path, form, hdr...)
}

func (b *browser) authorize(q url.Values, hdr ...string) *resp {
	return b.get(web.PathAuthorize+"?"+q.Encode(), hdr...)
}

// login signs the browser in as the test user.
func (b *browser) login() {
	b.e.t.Helper()
	r := b.post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		b.e.t.Fatalf("login: status %d, body %s", r.status, r.body)
	}
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == web.CookieName {
			return c
		}
	}
	return nil
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the page's forms.
func hidden(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// consent answers the consent page in r with decision.
func (b *browser) consent(r *resp, decision string) *resp {
	b.e.t.Helper()
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="/consent"`) {
		b.e.t.Fatalf("not a consent page: status %d, body %s", r.status, r.body)
	}
	f := hidden(r.body)
	f.Set("decision", decision)
	return b.post(web.PathConsent, f)
}

// authorized runs a request through consent (allow) and returns the code
// response.
func (b *browser) authorized(q url.Values) *resp {
	b.e.t.Helper()
	r := b.authorize(q)
	if r.status == http.StatusOK {
		r = b.consent(r, "allow")
	}
	return r
}

// mountPages mounts the sign-in pages and the consoles, as server does.
func mountPages(t *testing.T, rs *httpx.Routes, w *web.Web, st console.Store, accts console.Accounts) {
	t.Helper()
	w.Mount(rs)
	c, err := console.New(console.Config{Pages: w, Store: st, Accounts: accts})
	if err != nil {
		t.Fatal(err)
	}
	c.Mount(rs)
}
