package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
)

// The second factor in the browser.
//
// Logging in: when the password is right for an account with TOTP, no
// session is created. The browser gets a pending-login ticket instead — a
// value sealed with the server secret (any instance reads it, nobody can
// forge or read it), valid five minutes, naming the user and ended by a
// change of password or second factor — in an HttpOnly, SameSite=Strict
// cookie scoped to /login, and is sent to /login/verify. The ticket grants
// nothing: every other page still sees no session. Only a right code
// (checked, throttled and consumed by the account service) starts the
// session, with a new id and secret as any login does.
//
// /account/mfa enrols (a new secret, shown as a QR code, an otpauth link
// and the base32 text; enabled only by a current code; ten recovery codes
// shown once), regenerates recovery codes and disables (password and a
// code). Every form is a POST behind CrossOriginProtection.

// Paths of the second factor.
const (
	PathLoginVerify = "/login/verify"
	PathMFA         = "/account/mfa"
)

// LoginCookie holds the pending-login ticket between the password and the
// code.
const LoginCookie = "mnx_login"

// MaxCode bounds a typed code (a recovery code with separators is 19).
const MaxCode = 64

func (w *Web) mountMFA(page func(string, HandlerFunc)) {
	page("GET "+PathLoginVerify, w.verifyPage)
	page("POST "+PathLoginVerify, w.verifySubmit)
}

func (w *Web) loginCookie(value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name:     LoginCookie,
		Value:    value,
		Path:     PathLogin,
		Expires:  expires,
		HttpOnly: true,
		Secure:   w.https,
		SameSite: http.SameSiteStrictMode,
	}
	if value == "" {
		c.Expires, c.MaxAge = time.Unix(0, 0), -1
	} else {
		c.MaxAge = int(account.PendingLoginTTL / time.Second)
	}
	return c
}

// startSecondStep answers a right password for an account with a second
// factor: the ticket cookie, and on to the code page.
func (w *Web) startSecondStep(rw http.ResponseWriter, r *http.Request, u *store.User, cont string) error {
	ticket, exp, err := w.cfg.Accounts.PendingLogin(u)
	if err != nil {
		return err
	}
	http.SetCookie(rw, w.loginCookie(ticket, exp))
	w.redirect(rw, r, PathLoginVerify+"?"+url.Values{"continue": {cont}}.Encode())
	return nil
}

// pendingUser returns the user of the browser's pending login, or nil.
func (w *Web) pendingUser(r *http.Request) (*store.User, error) {
	c, err := r.Cookie(LoginCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	u, err := w.cfg.Accounts.ResumeLogin(r.Context(), c.Value)
	if errors.Is(err, account.ErrLoginExpired) || errors.Is(err, account.ErrMFAUnavailable) {
		return nil, nil
	}
	return u, err
}

// loginAgain sends a browser whose pending login is gone back to the
// password, saying why.
func (w *Web) loginAgain(rw http.ResponseWriter, r *http.Request, cont string, p pending) error {
	http.SetCookie(rw, w.loginCookie("", time.Time{}))
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusUnauthorized
	}
	w.render(rw, r, status, "login", &View{
		Lang: p.lang, Title: "login.title", Continue: cont, Email: p.loginHint,
		ClientName: p.clientName, Error: translate(p.lang, "mfa.verify.expired"), FormAction: p.formAction,
	})
	return nil
}

func (w *Web) verifyView(p pending, cont string) *View {
	return &View{Lang: p.lang, Title: "mfa.verify.title", Continue: cont, ClientName: p.clientName, FormAction: p.formAction}
}

func (w *Web) verifyPage(rw http.ResponseWriter, r *http.Request) error {
	cont := safeContinue(r.URL.Query().Get("continue"))
	p := w.pendingFor(r, cont)
	u, err := w.pendingUser(r)
	if err != nil {
		return err
	}
	if u == nil {
		return w.loginAgain(rw, r, cont, p)
	}
	w.render(rw, r, http.StatusOK, "login_verify", w.verifyView(p, cont))
	return nil
}

func (w *Web) verifySubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return BadForm(err)
	}
	cont := safeContinue(r.PostForm.Get("continue"))
	p := w.pendingFor(r, cont)
	u, err := w.pendingUser(r)
	if err != nil {
		return err
	}
	if u == nil {
		return w.loginAgain(rw, r, cont, p)
	}
	again := func(status int, msg string) error {
		v := w.verifyView(p, cont)
		v.Error = translate(p.lang, msg)
		w.render(rw, r, status, "login_verify", v)
		return nil
	}
	code := r.PostForm.Get("code")
	if strings.TrimSpace(code) == "" || len(code) > MaxCode {
		return again(http.StatusBadRequest, "mfa.required")
	}
	user, err := w.cfg.Accounts.VerifySecondFactor(r.Context(), u.ID, code, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case err == nil:
	case errors.Is(err, account.ErrInvalidCode):
		return again(http.StatusUnauthorized, "mfa.invalid")
	case errors.As(err, &te):
		SetRetryAfter(rw, te.RetryAfter)
		return again(http.StatusTooManyRequests, "login.throttled")
	case errors.Is(err, account.ErrInvalidCredentials):
		return w.loginAgain(rw, r, cont, p)
	default:
		return err
	}
	http.SetCookie(rw, w.loginCookie("", time.Time{}))
	if _, err := w.startSession(rw, r, user); err != nil {
		return err
	}
	w.redirect(rw, r, afterLogin(cont))
	return nil
}
