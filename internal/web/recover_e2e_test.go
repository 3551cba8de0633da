package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/mail/mailtest"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
)

// These tests click through the mailed-link flows in Chromium against the
// whole server (server.New), whose mail goes to a real SMTP server in the
// test process; the links are read from what that server received.

type mailServer struct {
	srv    *server.Server
	relay  *mailtest.Server
	issuer string
}

func newMailServer(t *testing.T, requireVerified bool) *mailServer {
	chromiumPath(t)
	relay := mailtest.Start(t, mailtest.Options{TLS: "starttls"})
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(t.Context(), server.Config{
		Global: config.Global{DB: "sqlite:" + filepath.Join(t.TempDir(), "m.db"), Secret: strings.Repeat("s3cr3t-", 6), LogLevel: "info"},
		Serve: config.Serve{Issuer: issuer, AccessTTL: 900 * time.Second, AccessAlg: "ES256", IDAlg: "RS256",
			SMTPURL: relay.URL(), RequireVerifiedEmail: requireVerified},
		Log:     slog.New(slog.DiscardHandler),
		MailTLS: relay.ClientTLS,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &mailServer{srv: srv, relay: relay, issuer: issuer}
}

var mailLink = regexp.MustCompile(`https?://[^\s"<>]+\?token=[A-Za-z0-9_%-]+`)

// linkTo delivers the outbox and returns the link of the n-th message
// (1-based) that reached to.
func (m *mailServer) linkTo(t *testing.T, to string, n int) string {
	t.Helper()
	if _, err := m.srv.Mail.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []mailtest.Message
		for _, msg := range m.relay.Messages() {
			if msg.To == to {
				got = append(got, msg)
			}
		}
		if len(got) >= n {
			raw := strings.ReplaceAll(strings.ReplaceAll(got[n-1].Raw, "=\r\n", ""), "=3D", "=")
			if l := mailLink.FindString(raw); l != "" {
				return l
			}
			t.Fatalf("no link in the message to %s:\n%s", to, raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages to %s, want %d", len(got), to, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowserRegisterVerifyLogin: with --require-verified-email, a new
// account signs in only after following the mailed link.
func TestBrowserRegisterVerifyLogin(t *testing.T) {
	m := newMailServer(t, true)
	b := newBrowser(t)
	const email, pw = "lucia@example.org", "una frase larga y fácil"
	run(t, b, "register",
		chromedp.Navigate(m.issuer+"/register"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#first_name`), "Lucía"),
		chromedp.SendKeys(chromedp.CSS(`#last_name`), "Gómez"),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `#next`),
	)
	if s := text(b, t); !strings.Contains(s, "Te enviamos un enlace a "+email) {
		t.Fatalf("after registering: %s", s)
	}
	screenshot(t, b, "verify-sent.png")
	// Signing in before verifying is refused, saying what to do.
	run(t, b, "login before verifying",
		chromedp.Navigate(m.issuer+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `p.error`),
	)
	if s := text(b, t); !strings.Contains(s, "confirma tu correo") {
		t.Fatalf("unverified login: %s", s)
	}
	link := m.linkTo(t, email, 1)
	run(t, b, "open the link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#link-submit`)),
	)
	screenshot(t, b, "verify-email.png")
	run(t, b, "confirm", follow(chromedp.Click(chromedp.CSS(`#link-submit`)), `#next`))
	if s := text(b, t); !strings.Contains(s, "tu correo está verificado") {
		t.Fatalf("after verifying: %s", s)
	}
	// The same link again: used.
	run(t, b, "open the link again", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#next`)))
	if s := text(b, t); !strings.Contains(s, "ya se usó") {
		t.Fatalf("second use: %s", s)
	}
	run(t, b, "login",
		chromedp.Navigate(m.issuer+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `form[action="/account/profile"]`),
	)
	_, key, _ := account.NormalizeEmail(email)
	u, err := m.srv.Store.GetUserByEmailKey(t.Context(), key)
	if err != nil || !u.EmailVerified {
		t.Fatalf("stored %+v %v", u, err)
	}
}

// TestBrowserForgotPassword: forgot password → link → new password →
// sign in with it; the old one and the old session are gone.
func TestBrowserForgotPassword(t *testing.T) {
	m := newMailServer(t, false)
	const email, oldPW, newPW = "mario@example.org", "la contraseña de antes", "la contraseña de ahora"
	if _, err := m.srv.Accounts.Register(t.Context(), registerInput(email, oldPW)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	run(t, b, "login page",
		chromedp.Navigate(m.issuer+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#forgot-link`)),
		follow(chromedp.Click(chromedp.CSS(`#forgot-link`)), `#forgot-submit`),
	)
	screenshot(t, b, "forgot-password.png")
	run(t, b, "ask for a link",
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		follow(chromedp.Click(chromedp.CSS(`#forgot-submit`)), `p.notice`),
	)
	if s := text(b, t); !strings.Contains(s, "Si hay una cuenta con ese correo") {
		t.Fatalf("after asking: %s", s)
	}
	link := m.linkTo(t, email, 2) // the first is the registration's verification
	if !strings.Contains(link, "/reset-password?token=") {
		t.Fatalf("link %s", link)
	}
	run(t, b, "open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#new_password`)))
	screenshot(t, b, "reset-password.png")
	run(t, b, "too short",
		chromedp.SendKeys(chromedp.CSS(`#new_password`), "corta"),
		follow(chromedp.Click(chromedp.CSS(`#reset-submit`)), `#new_password`),
	)
	if s := text(b, t); !strings.Contains(s, "demasiado corta") {
		t.Fatalf("a short password: %s", s)
	}
	run(t, b, "new password",
		chromedp.SendKeys(chromedp.CSS(`#new_password`), newPW),
		follow(chromedp.Click(chromedp.CSS(`#reset-submit`)), `#next`),
	)
	screenshot(t, b, "reset-done.png")
	run(t, b, "login",
		follow(chromedp.Click(chromedp.CSS(`#next`)), `#password`),
		chromedp.SendKeys(chromedp.CSS(`#password`), newPW),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `form[action="/account/profile"]`),
	)
	// The notice reached the mailbox too.
	if _, err := m.srv.Mail.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, _, err := m.srv.Store.ListMail(t.Context(), store.ListOptions{Filters: []store.Filter{{Field: "kind", Op: "eq", Value: "password_changed"}}})
	if err != nil || len(l) != 1 || l[0].State != store.MailSent {
		t.Fatalf("notice: %+v %v", l, err)
	}
}

func registerInput(email, pw string) account.RegisterInput {
	return account.RegisterInput{Email: email, Password: pw, FirstName: "Mario", LastName: "Ruiz"}
}
