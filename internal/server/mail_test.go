package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/mail/mailtest"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mailEnv is a server whose mail goes to an in-process relay.
type mailEnv struct {
	t      *testing.T
	relay  *mailtest.Server
	clock  *fakeClock
	db     string
	issuer string
	ts     *httptest.Server
	srv    *server.Server
	opts   []func(*server.Config)
}

func startMail(t *testing.T, backend string, opts ...func(*server.Config)) *mailEnv {
	t.Helper()
	e := &mailEnv{t: t, relay: mailtest.Start(t, mailtest.Options{TLS: "starttls", User: "relay", Password: "secreto"}),
		clock: &fakeClock{t: time.Now().UTC()}, db: newDB(t, backend), opts: opts}
	e.ts = httptest.NewUnstartedServer(nil)
	e.issuer = "http://" + e.ts.Listener.Addr().String()
	e.boot()
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// boot builds a new server on the same database (a restart).
func (e *mailEnv) boot() {
	e.srv = newServer(e.t, "", e.issuer, append([]func(*server.Config){func(c *server.Config) {
		c.Global.DB = e.db
		c.Serve.SMTPURL = e.relay.URL()
		c.MailTLS = e.relay.ClientTLS
		c.Now = e.clock.Now
	}}, e.opts...)...)
	e.ts.Config.Handler = e.srv.Handler()
}

func (e *mailEnv) deliver() {
	e.t.Helper()
	if _, err := e.srv.Mail.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *mailEnv) post(path, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.issuer+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.api+json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (e *mailEnv) register(email string) {
	e.t.Helper()
	res, body := e.post("/v1/users", `{"data":{"type":"users","attributes":{"email":"`+email+`","password":"una contraseña larga","first_name":"Ana","last_name":"P"}}}`)
	if res.StatusCode != 201 {
		e.t.Fatalf("register %s: %d %s", email, res.StatusCode, body)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+\?token=[A-Za-z0-9_%-]+`)

// linkIn returns the first link of a message (quoted-printable soft breaks
// undone).
func linkIn(t *testing.T, m mailtest.Message) string {
	t.Helper()
	raw := strings.ReplaceAll(strings.ReplaceAll(m.Raw, "=\r\n", ""), "=3D", "=")
	l := linkRE.FindString(raw)
	if l == "" {
		t.Fatalf("no link in\n%s", m.Raw)
	}
	return l
}

// TestOutboxSurvivesRelayAndServerRestart: messages queued while the relay
// is down, through a restart of the server, arrive once each when the
// relay comes back.
func TestOutboxSurvivesRelayAndServerRestart(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := startMail(t, backend)
			e.relay.Stop()
			addrs := []string{"uno@example.org", "dos@example.org", "tres@example.org"}
			for _, a := range addrs[:2] {
				e.register(a)
			}
			e.deliver() // the relay is gone: both wait for a retry
			l, _, err := e.srv.Store.ListMail(t.Context(), store.ListOptions{})
			if err != nil || len(l) != 2 || l[0].State != store.MailRetrying || l[0].LastError == "" {
				t.Fatalf("outbox with the relay down: %+v %v", l, err)
			}
			// A deliverer dies holding a claim (kill -9): the third message
			// is claimed and never marked.
			e.register(addrs[2])
			if c, err := e.srv.Store.ClaimMail(t.Context(), e.clock.Now(), 2*time.Minute, 10); err != nil || len(c) != 1 {
				t.Fatalf("claim: %v %v", c, err)
			}
			e.srv.Close()
			e.boot() // a new process on the same database
			e.relay.Restart()
			e.clock.Add(5 * time.Minute) // past the backoff and the lease
			e.deliver()
			e.deliver() // nothing left: nothing sent twice
			got := e.relay.WaitFor(3)
			seen := map[string]int{}
			for _, m := range got {
				seen[m.To]++
				if !m.TLS || m.User != "relay" {
					t.Errorf("delivered without STARTTLS or AUTH: %+v", m)
				}
			}
			for _, a := range addrs {
				if seen[a] != 1 {
					t.Errorf("%s got %d messages, want 1", a, seen[a])
				}
			}
			if len(got) != 3 {
				t.Fatalf("%d messages arrived, want 3", len(got))
			}
		})
	}
}

// TestPasswordResetAPI: the same 202 for known and unknown addresses, a
// link only to the known one.
func TestPasswordResetAPI(t *testing.T) {
	e := startMail(t, "sqlite")
	e.register("ana@example.org")
	e.deliver()
	e.relay.WaitFor(1)
	req := func(email string) (int, string) {
		res, body := e.post("/v1/password_resets", `{"data":{"type":"password_resets","attributes":{"email":"`+email+`"}}}`, "Accept-Language", "en")
		return res.StatusCode, body
	}
	s1, b1 := req("ana@example.org")
	s2, b2 := req("nadie@example.org")
	if s1 != 202 || s1 != s2 || b1 != b2 || !strings.Contains(b1, "If an account has that address") {
		t.Fatalf("known: %d %s\nunknown: %d %s", s1, b1, s2, b2)
	}
	e.deliver()
	got := e.relay.WaitFor(2)
	if len(got) != 2 || got[1].To != "ana@example.org" || !strings.Contains(linkIn(t, got[1]), "/reset-password?token=") {
		t.Fatalf("arrived %+v", got)
	}
	if res, body := e.post("/v1/password_resets", `{"data":{"type":"password_resets","attributes":{"mail":"x"}}}`); res.StatusCode != 422 {
		t.Fatalf("bad body: %d %s", res.StatusCode, body)
	}
}

// TestRequireVerifiedEmailPasswordGrant: 400 invalid_grant saying what to
// do, until the link is followed.
func TestRequireVerifiedEmailPasswordGrant(t *testing.T) {
	e := startMail(t, "sqlite", func(c *server.Config) { c.Serve.RequireVerifiedEmail = true })
	env := &env{srv: e.srv, issuer: e.issuer}
	id, secret := env.client(t, clients.CreateInput{Name: "App", Grants: []string{"password"}, Scopes: []string{"openid"}})
	e.register("ana@example.org")
	form := url.Values{"grant_type": {"password"}, "username": {"ana@example.org"}, "password": {"una contraseña larga"}}
	res, body := tokenRequest(t, e.issuer, id, secret, form)
	if res.StatusCode != 400 || !strings.Contains(body, `"invalid_grant"`) || !strings.Contains(body, "not verified") {
		t.Fatalf("unverified: %d %s", res.StatusCode, body)
	}
	e.deliver()
	link := linkIn(t, e.relay.WaitFor(1)[0])
	u, _ := url.Parse(link)
	if _, err := e.srv.Accounts.VerifyEmail(t.Context(), u.Query().Get("token"), ""); err != nil {
		t.Fatal(err)
	}
	if res, body := tokenRequest(t, e.issuer, id, secret, form); res.StatusCode != 200 {
		t.Fatalf("verified: %d %s", res.StatusCode, body)
	}
}

func tokenRequest(t *testing.T, issuer, id, secret string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", issuer+"/auth/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestEmailChangeAndResendAPI: PATCH email mails a link to the new address
// and a notice to the old; the address changes only when the link is
// followed; POST /v1/users/me/verification sends a new link, 409 once
// verified.
func TestEmailChangeAndResendAPI(t *testing.T) {
	e := startMail(t, "sqlite")
	env := &env{srv: e.srv, issuer: e.issuer}
	id, secret := env.client(t, clients.CreateInput{Name: "Portal", Grants: []string{"password"}, Scopes: []string{"openid", "email", "account"}, FirstParty: true})
	e.register("ana@example.org")
	form := url.Values{"grant_type": {"password"}, "username": {"ana@example.org"}, "password": {"una contraseña larga"}, "scope": {"openid email account"}}
	res, body := tokenRequest(t, e.issuer, id, secret, form)
	if res.StatusCode != 200 {
		t.Fatalf("token: %d %s", res.StatusCode, body)
	}
	at := regexp.MustCompile(`"access_token":"([^"]+)"`).FindStringSubmatch(body)[1]
	bearer := []string{"Authorization", "Bearer " + at}

	if res, body := e.post("/v1/users/me/verification", "", bearer...); res.StatusCode != 202 || !strings.Contains(body, "24") {
		t.Fatalf("resend: %d %s", res.StatusCode, body)
	}
	req, _ := http.NewRequest("PATCH", e.issuer+"/v1/users/me", strings.NewReader(
		`{"data":{"type":"users","attributes":{"email":"nueva@example.org","current_password":"una contraseña larga"}}}`))
	req.Header.Set("Content-Type", "application/vnd.api+json")
	req.Header.Set("Authorization", "Bearer "+at)
	pres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(pres.Body)
	pres.Body.Close()
	if pres.StatusCode != 200 || !strings.Contains(string(pb), `"email":"ana@example.org"`) || !strings.Contains(string(pb), `"email_change_pending":"nueva@example.org"`) {
		t.Fatalf("PATCH email: %d %s", pres.StatusCode, pb)
	}
	e.deliver()
	got := e.relay.WaitFor(4) // registration, resend, confirmation, notice
	var confirm string
	notices := 0
	for _, m := range got {
		switch {
		case m.To == "nueva@example.org":
			confirm = linkIn(t, m)
		case m.To == "ana@example.org" && strings.Contains(decodeHeader(m.Header.Get("Subject")), "Se pidió cambiar"):
			notices++
		}
	}
	if confirm == "" || notices != 1 || !strings.Contains(confirm, "/confirm-email?token=") {
		t.Fatalf("confirmation %q, %d notices to the old address", confirm, notices)
	}
	u, _ := url.Parse(confirm)
	fres, err := http.PostForm(e.issuer+"/confirm-email", url.Values{"token": {u.Query().Get("token")}})
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := io.ReadAll(fres.Body)
	fres.Body.Close()
	if fres.StatusCode != 200 || !strings.Contains(string(fb), "correo nuevo") {
		t.Fatalf("confirm: %d %s", fres.StatusCode, fb)
	}
	// The address changed: sign in with the new one.
	res, body = tokenRequest(t, e.issuer, id, secret, url.Values{"grant_type": {"password"}, "username": {"nueva@example.org"},
		"password": {"una contraseña larga"}, "scope": {"openid email account"}})
	if res.StatusCode != 200 {
		t.Fatalf("sign in with the new address: %d %s", res.StatusCode, body)
	}
	at2 := regexp.MustCompile(`"access_token":"([^"]+)"`).FindStringSubmatch(body)[1]
	if res, body := e.post("/v1/users/me/verification", "", "Authorization", "Bearer "+at2); res.StatusCode != 409 {
		t.Fatalf("resend when verified: %d %s", res.StatusCode, body)
	}
}

func decodeHeader(h string) string {
	s, err := new(mime.WordDecoder).DecodeHeader(h)
	if err != nil {
		return h
	}
	return s
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMailWithoutRelayGoesToTheLog: with no --smtp-url a registration's
// link is a JSON log line a developer can follow.
func TestMailWithoutRelayGoesToTheLog(t *testing.T) {
	var logs syncBuffer
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv := newServer(t, "sqlite", issuer, func(c *server.Config) { c.Log = slog.New(slog.NewJSONHandler(&logs, nil)) })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	e := &mailEnv{t: t, issuer: issuer, srv: srv}
	e.register("ana@example.org")
	e.deliver()
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"mail"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	link, _ := line["link"].(string)
	if line["to"] != "ana@example.org" || line["subject"] != "Confirma tu correo" || !strings.HasPrefix(link, issuer+"/verify-email?token=") {
		t.Fatalf("log line %v in\n%s", line, logs.String())
	}
	u, _ := url.Parse(link)
	if _, err := srv.Accounts.VerifyEmail(t.Context(), u.Query().Get("token"), ""); err != nil {
		t.Fatalf("the logged link: %v", err)
	}
	if l, _, _ := srv.Store.ListMail(t.Context(), store.ListOptions{}); len(l) != 1 || l[0].State != store.MailSent {
		t.Fatalf("outbox: %+v", l)
	}
	res, err := http.Get(issuer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `multinexo_mail_attempts_total{result="sent"} 1`) {
		t.Fatalf("metrics lack the delivery:\n%s", b)
	}
}
