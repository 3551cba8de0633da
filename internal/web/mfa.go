package web

import (
	"context"
	"errors"
	"html/template"
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

// SecondFactors is the second factor; *account.Service implements it.
type SecondFactors interface {
	MFAAvailable() bool
	BeginTOTP(ctx context.Context, userID string) (*account.TOTPEnrolment, error)
	PendingTOTP(ctx context.Context, userID string) (*account.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error)
	DisableTOTP(ctx context.Context, userID, password, code, ip string) error
	RegenerateRecoveryCodes(ctx context.Context, userID, code, ip string) ([]string, error)
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
	VerifySecondFactor(ctx context.Context, userID, code, ip string) (*store.User, error)
	PendingLogin(u *store.User) (string, time.Time, error)
	ResumeLogin(ctx context.Context, ticket string) (*store.User, error)
}

// Paths of the second factor.
const (
	PathLoginVerify = "/login/verify"
	PathMFA         = "/account/mfa"
)

// LoginCookie holds the pending-login ticket between the password and the
// code.
const LoginCookie = "mnx_login"

// maxCode bounds a typed code (a recovery code with separators is 19).
const maxCode = 64

func (w *Web) mountMFA(page func(string, handlerFunc)) {
	page("GET "+PathLoginVerify, w.verifyPage)
	page("POST "+PathLoginVerify, w.verifySubmit)
	page("GET "+PathMFA, w.mfaPage)
	page("POST "+PathMFA+"/setup", w.mfaSetup)
	page("POST "+PathMFA+"/confirm", w.mfaConfirm)
	page("POST "+PathMFA+"/disable", w.mfaDisable)
	page("POST "+PathMFA+"/recovery", w.mfaRecovery)
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
	w.render(rw, r, status, "login", &view{
		Lang: p.lang, Title: "login.title", Continue: cont, Email: p.loginHint,
		ClientName: p.clientName, Error: translate(p.lang, "mfa.verify.expired"), formAction: p.formAction,
	})
	return nil
}

func (w *Web) verifyView(p pending, cont string) *view {
	return &view{Lang: p.lang, Title: "mfa.verify.title", Continue: cont, ClientName: p.clientName, formAction: p.formAction}
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
		return badForm(err)
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
	if strings.TrimSpace(code) == "" || len(code) > maxCode {
		return again(http.StatusBadRequest, "mfa.required")
	}
	user, err := w.cfg.Accounts.VerifySecondFactor(r.Context(), u.ID, code, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case err == nil:
	case errors.Is(err, account.ErrInvalidCode):
		return again(http.StatusUnauthorized, "mfa.invalid")
	case errors.As(err, &te):
		setRetryAfter(rw, te.RetryAfter)
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

// mfaStatusData is the second-factor section of /account.
type mfaStatusData struct {
	Available, Enabled bool
	CodesLeft          int
}

func (w *Web) mfaStatus(r *http.Request, u *store.User) *mfaStatusData {
	d := &mfaStatusData{Available: w.cfg.Accounts.MFAAvailable(), Enabled: u.HasTOTP()}
	if d.Enabled {
		n, err := w.cfg.Accounts.RecoveryCodesLeft(r.Context(), u.ID)
		if err != nil {
			httpx.LogError(w.log, r, http.StatusInternalServerError, err)
		}
		d.CodesLeft = n
	}
	return d
}

// mfaData is the /account/mfa page: Mode "off" (offer to start), "setup"
// (the new secret and the code form) or "on" (recovery codes, disable).
type mfaData struct {
	Mode      string
	QR        template.URL // data:image/png;base64,... made here
	URI       template.URL // otpauth://totp/... made here
	Secret    string       // base32 in groups of four
	CodesLeft int
}

// mfaCodesData is the page that shows recovery codes, once.
type mfaCodesData struct {
	Codes []string
	Back  string
}

func setupData(e *account.TOTPEnrolment) *mfaData {
	// Both URLs are built by the account service from a random secret
	// and the account's email (query-escaped), never from the request.
	return &mfaData{Mode: "setup", QR: template.URL(e.QRDataURL()), URI: template.URL(e.URI), Secret: e.SecretGroups()}
}

func (w *Web) mfaView(r *http.Request, u *store.User, d *mfaData) *view {
	return &view{Lang: w.lang(r, ""), Title: "mfa.title", User: u, Data: d}
}

// mfaUser is signedIn for the second-factor pages: nil when it answered
// (a redirect to the login), or when second factors are unavailable.
func (w *Web) mfaUser(rw http.ResponseWriter, r *http.Request) (*store.User, error) {
	if !w.cfg.Accounts.MFAAvailable() {
		return nil, notFound()
	}
	_, user, err := w.signedIn(rw, r)
	return user, err
}

func (w *Web) mfaPage(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	d := &mfaData{Mode: "off"}
	if user.HasTOTP() {
		d.Mode = "on"
		if d.CodesLeft, err = w.cfg.Accounts.RecoveryCodesLeft(r.Context(), user.ID); err != nil {
			return err
		}
	}
	w.render(rw, r, http.StatusOK, "mfa", w.mfaView(r, user, d))
	return nil
}

func (w *Web) mfaSetup(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	e, err := w.cfg.Accounts.BeginTOTP(r.Context(), user.ID)
	if errors.Is(err, account.ErrMFAEnabled) {
		w.redirect(rw, r, PathMFA)
		return nil
	}
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "mfa", w.mfaView(r, user, setupData(e)))
	return nil
}

func (w *Web) mfaConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	code := r.PostForm.Get("code")
	if len(code) > maxCode {
		code = ""
	}
	codes, err := w.cfg.Accounts.ConfirmTOTP(r.Context(), user.ID, code)
	switch {
	case err == nil:
		// Turning the second factor on ended every session; this browser
		// gets a new one.
		if _, err := w.startSession(rw, r, user); err != nil {
			return err
		}
		return w.showCodes(rw, r, user, codes, PathAccount+"?saved=mfaon")
	case errors.Is(err, account.ErrInvalidCode):
		e, perr := w.cfg.Accounts.PendingTOTP(r.Context(), user.ID)
		if perr != nil {
			return perr
		}
		v := w.mfaView(r, user, setupData(e))
		v.Error = translate(v.Lang, "mfa.setup.invalid")
		w.render(rw, r, http.StatusUnprocessableEntity, "mfa", v)
		return nil
	case errors.Is(err, account.ErrNoEnrolment):
		v := w.mfaView(r, user, &mfaData{Mode: "off"})
		v.Error = translate(v.Lang, "mfa.setup.stale")
		w.render(rw, r, http.StatusConflict, "mfa", v)
		return nil
	case errors.Is(err, account.ErrMFAEnabled):
		w.redirect(rw, r, PathMFA)
		return nil
	}
	return err
}

func (w *Web) showCodes(rw http.ResponseWriter, r *http.Request, user *store.User, codes []string, back string) error {
	// Shown in this response only: no-store, like every page.
	w.render(rw, r, http.StatusOK, "mfa_codes", &view{
		Lang: w.lang(r, ""), Title: "mfa.codes.title", User: user, Data: &mfaCodesData{Codes: codes, Back: back},
	})
	return nil
}

// mfaError shows a refusal on the "on" page; false for errors that are not
// the person's to fix.
func (w *Web) mfaError(rw http.ResponseWriter, r *http.Request, user *store.User, err error) bool {
	v := w.mfaView(r, user, &mfaData{Mode: "on"})
	if n, cerr := w.cfg.Accounts.RecoveryCodesLeft(r.Context(), user.ID); cerr == nil {
		v.Data.(*mfaData).CodesLeft = n
	}
	var te *account.ThrottledError
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, account.ErrInvalidCode):
		v.Error = translate(v.Lang, "mfa.invalid")
	case errors.Is(err, account.ErrInvalidCredentials):
		v.Error = translate(v.Lang, "account.wrongcurrent")
	case errors.As(err, &te):
		setRetryAfter(rw, te.RetryAfter)
		status = http.StatusTooManyRequests
		v.Error = translate(v.Lang, "login.throttled")
	case errors.Is(err, account.ErrBusy):
		setRetryAfter(rw, time.Second)
		status = http.StatusServiceUnavailable
		v.Error = translate(v.Lang, "login.busy")
	default:
		return false
	}
	w.render(rw, r, status, "mfa", v)
	return true
}

func (w *Web) mfaDisable(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	code := r.PostForm.Get("code")
	if len(code) > maxCode {
		code = ""
	}
	err = w.cfg.Accounts.DisableTOTP(r.Context(), user.ID, r.PostForm.Get("password"), code, httpx.ClientIP(r))
	switch {
	case err == nil:
		if _, err := w.startSession(rw, r, user); err != nil {
			return err
		}
		w.redirect(rw, r, PathAccount+"?saved=mfaoff")
		return nil
	case errors.Is(err, account.ErrMFADisabled):
		w.redirect(rw, r, PathMFA)
		return nil
	case w.mfaError(rw, r, user, err):
		return nil
	}
	return err
}

func (w *Web) mfaRecovery(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	code := r.PostForm.Get("code")
	if len(code) > maxCode {
		code = ""
	}
	codes, err := w.cfg.Accounts.RegenerateRecoveryCodes(r.Context(), user.ID, code, httpx.ClientIP(r))
	switch {
	case err == nil:
		return w.showCodes(rw, r, user, codes, PathMFA)
	case errors.Is(err, account.ErrMFADisabled):
		w.redirect(rw, r, PathMFA)
		return nil
	case w.mfaError(rw, r, user, err):
		return nil
	}
	return err
}
