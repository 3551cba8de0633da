package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
)

// The pages of mailed links: forgot password, reset password, verify
// email, confirm a new email. A link opens a page whose button does the
// change (a POST): mail scanners that fetch links cannot use them up.

// Recovery is what the recovery pages need of the account service.
type Recovery interface {
	RequestPasswordReset(ctx context.Context, email, ip string) error
	CheckResetLink(ctx context.Context, secret string) (*store.User, error)
	ResetPassword(ctx context.Context, secret, password, ip string) (*store.User, error)
	VerifyEmail(ctx context.Context, secret, ip string) (*store.User, error)
	ConfirmEmailChange(ctx context.Context, secret, ip string) (*store.User, error)
	SendVerification(ctx context.Context, userID, ip string) error
	// CheckLink: whether a verification or email-change link works, and
	// the address it is about.
	CheckLink(ctx context.Context, purpose, secret string) (string, error)
	// RequireVerified: sign-ins need a verified address (serve
	// --require-verified-email).
	RequireVerified() bool
}

// Paths of the recovery pages.
const (
	PathForgotPassword = "/forgot-password"
	PathResetPassword  = account.PathResetPassword
	PathVerifyEmail    = account.PathVerifyEmail
	PathConfirmEmail   = account.PathConfirmEmail
)

func (w *Web) mountRecovery(page func(string, HandlerFunc)) {
	if w.cfg.Recovery == nil {
		return
	}
	page("GET "+PathForgotPassword, w.forgotPage)
	page("POST "+PathForgotPassword, w.forgotSubmit)
	page("GET "+PathResetPassword, w.resetPage)
	page("POST "+PathResetPassword, w.resetSubmit)
	page("GET "+PathVerifyEmail, w.linkPage("verify"))
	page("POST "+PathVerifyEmail, w.linkSubmit("verify"))
	page("GET "+PathConfirmEmail, w.linkPage("confirmemail"))
	page("POST "+PathConfirmEmail, w.linkSubmit("confirmemail"))
}

func (w *Web) forgotPage(rw http.ResponseWriter, r *http.Request) error {
	w.render(rw, r, http.StatusOK, "forgot", &View{Lang: w.lang(r, ""), Title: "forgot.title",
		Email: strings.TrimSpace(r.URL.Query().Get("email"))})
	return nil
}

func (w *Web) forgotSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return BadForm(err)
	}
	v := &View{Lang: w.lang(r, ""), Title: "forgot.title", Email: strings.TrimSpace(r.PostForm.Get("email"))}
	if v.Email == "" {
		v.Error = translate(v.Lang, "forgot.required")
		w.render(rw, r, http.StatusBadRequest, "forgot", v)
		return nil
	}
	// The same answer whether or not the address has an account.
	err := w.cfg.Recovery.RequestPasswordReset(r.Context(), v.Email, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case errors.As(err, &te):
		SetRetryAfter(rw, te.RetryAfter)
		v.Error = translate(v.Lang, "forgot.throttled")
		w.render(rw, r, http.StatusTooManyRequests, "forgot", v)
		return nil
	case err != nil:
		return err
	}
	v.Notice = translate(v.Lang, "forgot.sent")
	w.render(rw, r, http.StatusOK, "forgot", v)
	return nil
}

// resetData is what the reset page shows.
type resetData struct {
	Token string
	// TOTP: the account has a second factor, still needed after the
	// reset (a reset proves the mailbox, not the phone).
	TOTP bool
}

// linkFailed renders what a link that does not work says, and what to do.
func (w *Web) linkFailed(rw http.ResponseWriter, r *http.Request, title string, err error) error {
	v := &View{Lang: w.lang(r, ""), Title: title}
	var key string
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, account.ErrLinkExpired):
		key, status = "link.expired", http.StatusGone
	case errors.Is(err, account.ErrLinkUsed):
		key, status = "link.used", http.StatusGone
	case errors.Is(err, account.ErrLinkInvalid):
		key = "link.invalid"
	case errors.Is(err, account.ErrEmailTaken):
		key, status = "link.taken", http.StatusConflict
	default:
		return err
	}
	v.Error = translate(v.Lang, key)
	v.Data = doneData{Next: PathForgotPassword, NextKey: "link.newreset"}
	if title != "reset.title" {
		v.Data = doneData{Next: PathLogin, NextKey: "link.login"}
	}
	w.render(rw, r, status, "done", v)
	return nil
}

// doneData: where the done page leads next.
type doneData struct{ Next, NextKey string }

func (w *Web) resetPage(rw http.ResponseWriter, r *http.Request) error {
	secret := r.URL.Query().Get("token")
	u, err := w.cfg.Recovery.CheckResetLink(r.Context(), secret)
	if err != nil {
		return w.linkFailed(rw, r, "reset.title", err)
	}
	w.render(rw, r, http.StatusOK, "reset", &View{Lang: w.lang(r, ""), Title: "reset.title", Email: u.Email,
		Data: resetData{Token: secret, TOTP: u.HasTOTP()}})
	return nil
}

func (w *Web) resetSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return BadForm(err)
	}
	secret := r.PostForm.Get("token")
	u, err := w.cfg.Recovery.ResetPassword(r.Context(), secret, r.PostForm.Get("new_password"), httpx.ClientIP(r))
	var ve *account.ValidationError
	switch {
	case errors.As(err, &ve) || errors.Is(err, account.ErrBusy):
		cur, cerr := w.cfg.Recovery.CheckResetLink(r.Context(), secret)
		if cerr != nil {
			return w.linkFailed(rw, r, "reset.title", cerr)
		}
		v := &View{Lang: w.lang(r, ""), Title: "reset.title", Email: cur.Email, Data: resetData{Token: secret, TOTP: cur.HasTOTP()}}
		status, handled := w.accountErrors(rw, v, err)
		if !handled {
			return err
		}
		w.render(rw, r, status, "reset", v)
		return nil
	case err != nil:
		return w.linkFailed(rw, r, "reset.title", err)
	}
	// Every session ended with the reset, this browser's too: sign in
	// again, with the second factor if there is one.
	w.endSession(rw, r)
	v := &View{Lang: w.lang(r, ""), Title: "reset.title", Notice: translate(w.lang(r, ""), "reset.done"),
		Data: doneData{Next: PathLogin + "?email=" + url.QueryEscape(u.Email), NextKey: "link.login"}}
	if u.HasTOTP() {
		v.Message = translate(v.Lang, "reset.totpafter")
	}
	w.render(rw, r, http.StatusOK, "done", v)
	return nil
}

// linkPage shows the button that follows a verification or email-change
// link (kind "verify" or "confirmemail").
func (w *Web) linkPage(kind string) HandlerFunc {
	purpose := store.TokenVerify
	if kind == "confirmemail" {
		purpose = store.TokenEmailChange
	}
	return func(rw http.ResponseWriter, r *http.Request) error {
		lang := w.lang(r, "")
		secret := r.URL.Query().Get("token")
		// Only looked at, not used: a link that no longer works says so
		// at once.
		email, err := w.cfg.Recovery.CheckLink(r.Context(), purpose, secret)
		if err != nil {
			return w.linkFailed(rw, r, kind+".title", err)
		}
		w.render(rw, r, http.StatusOK, "linkconfirm", &View{Lang: lang, Title: kind + ".title", Email: email,
			Message: strings.ReplaceAll(translate(lang, kind+".intro"), "{email}", email),
			Data:    linkData{Action: r.URL.Path, Token: secret, Button: kind + ".submit"}})
		return nil
	}
}

type linkData struct{ Action, Token, Button string }

func (w *Web) linkSubmit(kind string) HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return BadForm(err)
		}
		secret, ip := r.PostForm.Get("token"), httpx.ClientIP(r)
		var err error
		if kind == "verify" {
			_, err = w.cfg.Recovery.VerifyEmail(r.Context(), secret, ip)
		} else {
			_, err = w.cfg.Recovery.ConfirmEmailChange(r.Context(), secret, ip)
		}
		if err != nil {
			return w.linkFailed(rw, r, kind+".title", err)
		}
		lang := w.lang(r, "")
		next := doneData{Next: PathLogin, NextKey: "link.login"}
		if _, u, serr := w.session(r); serr == nil && u != nil {
			next = doneData{Next: PathAccount, NextKey: "link.account"}
		}
		w.render(rw, r, http.StatusOK, "done", &View{Lang: lang, Title: kind + ".title",
			Notice: translate(lang, kind+".done"), Data: next})
		return nil
	}
}

// unverifiedLogin answers a right password on an account whose address
// must be verified first (serve --require-verified-email): a new link is
// mailed (within the limits) and the page says so.
func (w *Web) unverifiedLogin(r *http.Request, u *store.User) string {
	if w.cfg.Recovery == nil || u == nil {
		return "login.unverified"
	}
	err := w.cfg.Recovery.SendVerification(r.Context(), u.ID, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case err == nil:
		return "login.unverifiedsent"
	case errors.As(err, &te):
		return "login.unverified"
	}
	w.log.ErrorContext(r.Context(), "sending a verification link", "error", err.Error())
	return "login.unverified"
}

// registeredUnverified answers a registration when sign-ins need a
// verified address: no session yet, a page that says where the link went.
func (w *Web) registeredUnverified(rw http.ResponseWriter, r *http.Request, u *store.User, lang string) bool {
	if w.cfg.Recovery == nil || !w.cfg.Recovery.RequireVerified() || u.EmailVerified {
		return false
	}
	w.render(rw, r, http.StatusCreated, "done", &View{Lang: lang, Title: "verify.title", Email: u.Email,
		Notice: strings.ReplaceAll(translate(lang, "register.checkmail"), "{email}", u.Email),
		Data:   doneData{Next: PathLogin + "?email=" + url.QueryEscape(u.Email), NextKey: "link.login"}})
	return true
}
