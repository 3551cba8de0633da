package server_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/testenv"
)

// Issue 12: a lost database or a full disk is a 503 with Retry-After in
// each route class's own format, not a 500; /readyz says so too.

// startDB builds a real server on the database string db (as --db takes).
func startDB(t *testing.T, db string) *env {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv := newServer(t, "", issuer, func(c *server.Config) { c.Global.DB = db })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{srv: srv, issuer: issuer}
}

// outageFixture is a user, a password-grant client and the tokens a
// password grant gave them before the outage.
type outageFixture struct {
	id, secret     string
	access, refres string
}

func (e *env) outageFixture(t *testing.T) outageFixture {
	t.Helper()
	e.user(t, "ana@example.com", "una contraseña larga")
	id, secret := e.client(t, clients.CreateInput{Name: "Mi app", Grants: []string{"password", "refresh_token", "client_credentials"},
		Scopes: []string{"openid", "profile", "email"}, RedirectURIs: []string{"https://app.example/cb"}})
	res, body := postForm(t, e.issuer+"/auth/v1/token", url.Values{"grant_type": {"password"}, "username": {"ana@example.com"},
		"password": {"una contraseña larga"}, "scope": {"openid profile"}, "client_id": {id}, "client_secret": {secret}})
	if res.StatusCode != 200 {
		t.Fatalf("password grant before the outage: %d %s", res.StatusCode, body)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	return outageFixture{id: id, secret: secret, access: tok.AccessToken, refres: tok.RefreshToken}
}

func postForm(t *testing.T, u string, v url.Values) (*http.Response, []byte) {
	t.Helper()
	res, err := http.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func doGet(t *testing.T, u, bearer string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// want503 checks a 503 with Retry-After whose body contains each of want.
func want503(t *testing.T, what string, res *http.Response, body []byte, want ...string) {
	t.Helper()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503; body %s", what, res.StatusCode, body)
		return
	}
	if res.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			t.Errorf("%s: body lacks %q: %s", what, w, body)
		}
	}
}

// checkOutage sends a request of every route class while the database is
// unusable and expects 503 + Retry-After in each class's format. The OAuth
// answers are retried a few times: the first request after the loss may
// be the one that finds the pool's connection dead.
func checkOutage(t *testing.T, e *env, f outageFixture) {
	t.Helper()
	res, body := postForm(t, e.issuer+"/auth/v1/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {f.refres}, "client_id": {f.id}, "client_secret": {f.secret}})
	want503(t, "token (refresh_token)", res, body, `"error":"temporarily_unavailable"`)
	res, body = postForm(t, e.issuer+"/auth/v1/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {f.id}, "client_secret": {f.secret}})
	want503(t, "token (client_credentials)", res, body, `"error":"temporarily_unavailable"`)
	res, body = postForm(t, e.issuer+"/auth/v1/introspect", url.Values{"token": {f.access},
		"client_id": {f.id}, "client_secret": {f.secret}})
	want503(t, "introspect", res, body, `"error":"temporarily_unavailable"`)
	res, body = doGet(t, e.issuer+"/auth/v1/userinfo", f.access)
	want503(t, "userinfo", res, body, `"error":"temporarily_unavailable"`)
	res, body = doGet(t, e.issuer+"/v1/users/me", f.access)
	want503(t, "GET /v1/users/me", res, body, `"code":"temporarily_unavailable"`, `"status":"503"`)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.api+json") {
		t.Errorf("GET /v1/users/me: Content-Type %q", ct)
	}
	res, body = doGet(t, e.issuer+"/auth/v1/authorize?"+url.Values{"client_id": {f.id}, "response_type": {"code"},
		"redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}, "code_challenge": {strings.Repeat("a", 43)},
		"code_challenge_method": {"S256"}}.Encode(), "")
	want503(t, "authorize page", res, body, "no está disponible")
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("authorize page: Content-Type %q", ct)
	}
}

// tcpProxy forwards 127.0.0.1 connections to target until cut, which
// closes its listener and every connection: from then on the port is one
// where nothing listens (connection refused), as for a stopped database.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	})
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) cut() {
	p.ln.Close()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestPostgresDown: the server's PostgreSQL goes away (its port stops
// listening and its connections drop); every route class answers 503 with
// Retry-After and /readyz is 503 "unreachable".
func TestPostgresDown(t *testing.T) {
	u, err := url.Parse(testenv.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	e := startDB(t, u.String())
	f := e.outageFixture(t)

	proxy.cut()
	checkOutage(t, e, f)
	res, body := doGet(t, e.issuer+"/readyz", "")
	want503(t, "readyz", res, body, `"database":"unreachable"`)
}

// setMaxPages caps the SQLite database at its current size on the write
// connection (PRAGMA max_page_count): every write that needs a new page
// fails with SQLITE_FULL "database or disk is full", as on a full disk.
func setMaxPages(t *testing.T, e *env, pages string) {
	t.Helper()
	err := e.srv.SQL().WriteConn(t.Context(), func(c *sql.Conn) error {
		q := "PRAGMA max_page_count = " + pages
		if pages == "" {
			var n int
			if err := c.QueryRowContext(t.Context(), "PRAGMA page_count").Scan(&n); err != nil {
				return err
			}
			q = "PRAGMA max_page_count = " + strconv.Itoa(n)
		}
		_, err := c.ExecContext(t.Context(), q)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteDiskFull: writes fail with SQLITE_FULL. The protocol and API
// answer 503 + Retry-After, /readyz turns 503 "not_writable" (it said 200
// while every write failed), the write-ahead log is truncated to give the
// space back, and once space is back /readyz is 200 again.
func TestSQLiteDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	e := startDB(t, "sqlite:"+path)
	f := e.outageFixture(t)
	if res, body := doGet(t, e.issuer+"/readyz", ""); res.StatusCode != 200 {
		t.Fatalf("readyz before: %d %s", res.StatusCode, body)
	}

	setMaxPages(t, e, "")
	// Fill the last free pages: token requests until one fails (bounded).
	var res *http.Response
	var body []byte
	for i := 0; i < 500; i++ {
		res, body = postForm(t, e.issuer+"/auth/v1/token", url.Values{"grant_type": {"password"}, "username": {"ana@example.com"},
			"password": {"una contraseña larga"}, "scope": {"openid profile"}, "client_id": {f.id}, "client_secret": {f.secret}})
		if res.StatusCode != 200 {
			break
		}
	}
	want503(t, "password grant on a full disk", res, body, `"error":"temporarily_unavailable"`)
	res, body = doGet(t, e.issuer+"/readyz", "")
	want503(t, "readyz on a full disk", res, body, `"database":"not_writable"`)
	if _, body := doGet(t, e.issuer+"/metrics", ""); !strings.Contains(string(body), "\nmultinexo_store_writes_failing 1\n") {
		t.Errorf("metrics on a full disk lack multinexo_store_writes_failing 1")
	}

	// The log was truncated after the failure (a checkpoint(TRUNCATE)).
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.Stat(path + "-wal")
		if errors.Is(err, os.ErrNotExist) || err == nil && st.Size() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write-ahead log not truncated after the disk filled: %v %v", st.Size(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	setMaxPages(t, e, "1073741823")
	if res, body := doGet(t, e.issuer+"/readyz", ""); res.StatusCode != 200 {
		t.Fatalf("readyz after space came back: %d %s", res.StatusCode, body)
	}
	if _, body := doGet(t, e.issuer+"/metrics", ""); !strings.Contains(string(body), "\nmultinexo_store_writes_failing 0\n") {
		t.Errorf("metrics after space came back lack multinexo_store_writes_failing 0")
	}
}
