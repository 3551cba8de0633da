package server_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/store"
)

type page struct {
	status int
	body   string
}

func (e *mailEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func (e *mailEnv) form(c *http.Client, path string, v url.Values, hdr ...string) page {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.issuer+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(c, req)
}

func (e *mailEnv) get(c *http.Client, path string) page {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.issuer+path, nil)
	return e.do(c, req)
}

func (e *mailEnv) do(c *http.Client, req *http.Request) page {
	e.t.Helper()
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(b)}
}

// TestForgotPasswordPageAlike: the page answers a known and an unknown
// address alike, and a form from another site is refused.
func TestForgotPasswordPageAlike(t *testing.T) {
	e := startMail(t, "sqlite")
	e.register("ana@example.org")
	c := e.browser()
	known := e.form(c, "/forgot-password", url.Values{"email": {"ana@example.org"}})
	unknown := e.form(c, "/forgot-password", url.Values{"email": {"eva@example.org"}})
	if known.status != 200 || known.status != unknown.status ||
		strings.NewReplacer("ana@example.org", "X", "ana%40example.org", "X").Replace(known.body) !=
			strings.NewReplacer("eva@example.org", "X", "eva%40example.org", "X").Replace(unknown.body) ||
		!strings.Contains(known.body, "Si hay una cuenta con ese correo") {
		t.Fatalf("known %d / unknown %d:\n%s\n---\n%s", known.status, unknown.status, known.body, unknown.body)
	}
	cross := e.form(c, "/forgot-password", url.Values{"email": {"ana@example.org"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if cross.status != http.StatusForbidden {
		t.Fatalf("cross-site form: %d", cross.status)
	}
	l, _, _ := e.srv.Store.ListMail(t.Context(), store.ListOptions{Filters: []store.Filter{{Field: "kind", Op: "eq", Value: "reset"}}})
	if len(l) != 1 {
		t.Fatalf("%d reset messages queued, want 1 (the known address, once)", len(l))
	}
	if p := e.get(c, "/login"); !strings.Contains(p.body, `href="/forgot-password"`) {
		t.Fatal("the login page does not link to /forgot-password")
	}
}

// TestResetPageSecondFactorAndBadLinks: the page says a second factor
// stays; bad, used and unknown links say what to do.
func TestResetPageSecondFactorAndBadLinks(t *testing.T) {
	e := startMail(t, "sqlite")
	e.register("ana@example.org")
	_, key, _ := account.NormalizeEmail("ana@example.org")
	u, err := e.srv.Store.GetUserByEmailKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Store.SetPendingTOTP(t.Context(), u.ID, []byte("sealed"), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Store.EnableTOTP(t.Context(), u.ID, []byte("sealed"), 1, nil, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Accounts.SendReset(t.Context(), "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	var link string
	for _, m := range e.relay.WaitFor(2) {
		if l := linkIn(t, m); strings.Contains(l, "/reset-password") {
			link = l
		}
	}
	c := e.browser()
	lu, _ := url.Parse(link)
	p := e.get(c, lu.RequestURI())
	if p.status != 200 || !strings.Contains(p.body, `id="reset-totp"`) || !strings.Contains(p.body, "segundo factor") {
		t.Fatalf("reset page: %d\n%s", p.status, p.body)
	}
	if p := e.get(c, "/reset-password?token=nope"); p.status != 400 || !strings.Contains(p.body, "no es válido") || !strings.Contains(p.body, `href="/forgot-password"`) {
		t.Fatalf("bad link: %d\n%s", p.status, p.body)
	}
	for _, path := range []string{"/verify-email?token=nope", "/confirm-email?token=nope", "/confirm-email"} {
		if p := e.get(c, path); p.status != 400 || !strings.Contains(p.body, "no es válido") || strings.Contains(p.body, `id="link-submit"`) {
			t.Fatalf("%s: %d\n%s", path, p.status, p.body)
		}
	}
	tok := lu.Query().Get("token")
	if p := e.form(c, "/reset-password", url.Values{"token": {tok}, "new_password": {"una contraseña nueva"}}); p.status != 200 || !strings.Contains(p.body, "segundo factor") {
		t.Fatalf("reset: %d\n%s", p.status, p.body)
	}
	if p := e.form(c, "/reset-password", url.Values{"token": {tok}, "new_password": {"otra contraseña nueva"}}); p.status != 410 || !strings.Contains(p.body, "ya se usó") {
		t.Fatalf("used link: %d\n%s", p.status, p.body)
	}
	// Still the second factor: the password alone is not a login.
	if _, err := e.srv.Accounts.Authenticate(t.Context(), "ana@example.org", "una contraseña nueva", ""); !errors.Is(err, account.ErrSecondFactorRequired) {
		t.Fatalf("after the reset: %v", err)
	}
}

// TestAccountResendAndAdminMail: /account offers a new link to an
// unverified address; /admin/mail lists messages without their links.
func TestAccountResendAndAdminMail(t *testing.T) {
	e := startMail(t, "sqlite")
	if _, err := e.srv.Accounts.Register(t.Context(), account.RegisterInput{Email: "jefa@example.org", Password: "una contraseña larga",
		FirstName: "J", LastName: "A", Admin: true}); err != nil {
		t.Fatal(err)
	}
	c := e.browser()
	if p := e.form(c, "/login", url.Values{"email": {"jefa@example.org"}, "password": {"una contraseña larga"}}); p.status != 200 {
		t.Fatalf("login: %d", p.status)
	}
	p := e.get(c, "/account")
	if !strings.Contains(p.body, `id="resend-verification"`) {
		t.Fatalf("/account for an unverified address:\n%s", p.body)
	}
	if p := e.form(c, "/account/verification", url.Values{}); p.status != 200 || !strings.Contains(p.body, "Te enviamos un enlace nuevo") {
		t.Fatalf("resend: %d\n%s", p.status, p.body)
	}
	// Support sends a reset link from the user's page.
	ana, err := e.srv.Accounts.Register(t.Context(), account.RegisterInput{Email: "ana@example.org", Password: "una contraseña larga", FirstName: "A", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	if p := e.get(c, "/admin/users/"+ana.ID); !strings.Contains(p.body, `id="send-reset"`) {
		t.Fatalf("user page:\n%s", p.body)
	}
	if p := e.form(c, "/admin/users/"+ana.ID+"/send-reset", url.Values{}); p.status != 200 || !strings.Contains(p.body, "Se envió el enlace") {
		t.Fatalf("send-reset: %d\n%s", p.status, p.body)
	}
	l, _, _ := e.srv.Store.ListMail(t.Context(), store.ListOptions{Filters: []store.Filter{{Field: "kind", Op: "eq", Value: "reset"}}})
	if len(l) != 1 || l[0].Recipient != "ana@example.org" {
		t.Fatalf("queued %+v", l)
	}
	e.relay.Stop()
	e.deliver()
	p = e.get(c, "/admin/mail")
	if p.status != 200 || !strings.Contains(p.body, "retrying") || !strings.Contains(p.body, "jefa@example.org") ||
		strings.Contains(p.body, "token=") || strings.Contains(p.body, "verify-email") {
		t.Fatalf("/admin/mail: %d\n%s", p.status, p.body)
	}
}
