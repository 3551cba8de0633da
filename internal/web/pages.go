package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// safeContinue returns where to go after logging in or registering: a
// local path to the authorization endpoint or the account pages, never
// another site (no open redirect). Anything else becomes /account.
func safeContinue(s string) string {
	if s == "" || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t ") {
		return PathAccount
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" {
		return PathAccount
	}
	switch {
	case u.Path == PathAuthorize, u.Path == PathAuthorization, u.Path == PathAccount, strings.HasPrefix(u.Path, PathAccount+"/"),
		u.Path == PathAdmin, strings.HasPrefix(u.Path, PathAdmin+"/"), u.Path == PathActivate:
		return s
	}
	return PathAccount
}

// afterLogin is the URL to go to once logged in: the continue URL, with an
// authorization request's prompt=login (and id_token_hint) dropped since
// the login it asked for just happened.
func afterLogin(cont string) string {
	u, err := url.Parse(cont)
	if err != nil || (u.Path != PathAuthorize && u.Path != PathAuthorization) {
		return cont
	}
	return u.Path + "?" + withoutLoginPrompt(u.Query(), true).Encode()
}

// pending describes the authorization request a login or registration page
// is part of, so the page can name the application, speak the language the
// request asked for, pre-fill login_hint and let its form's redirect chain
// reach the client.
type pending struct {
	lang       string
	clientName string
	// purpose says, when no application is asking, what signing in is
	// for (a message key): connecting a device from /activate.
	purpose    string
	loginHint  string
	formAction []string
}

// purposeText is the localized purpose, "" if none.
func (p pending) purposeText() string {
	if p.purpose == "" {
		return ""
	}
	return translate(p.lang, p.purpose)
}

func (w *Web) pendingFor(r *http.Request, cont string) pending {
	p := pending{lang: w.lang(r, "")}
	u, err := url.Parse(cont)
	if err == nil && u.Path == PathActivate {
		p.purpose = "login.for.device"
	}
	if err != nil || (u.Path != PathAuthorize && u.Path != PathAuthorization) {
		return p
	}
	q, err := w.parseAuthz(r.Context(), u.Query())
	if err != nil {
		// The request will fail again, as an error page or redirect, after
		// login; the login page itself needs nothing from it.
		var re *redirectError
		if errors.As(err, &re) {
			p.formAction = []string{formActionSource(re.uri)}
		}
		return p
	}
	p.lang = w.lang(r, q.UILocales)
	p.clientName = q.client.Name
	p.loginHint = q.LoginHint
	p.formAction = []string{formActionSource(q.redirectURI)}
	return p
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request) error {
	cont := safeContinue(r.URL.Query().Get("continue"))
	p := w.pendingFor(r, cont)
	_, user, err := w.session(r)
	if err != nil {
		return err
	}
	email := p.loginHint
	if email == "" {
		email = strings.TrimSpace(r.URL.Query().Get("email"))
	}
	v := &View{
		Lang: p.lang, Title: "login.title", User: user, Continue: cont,
		Email: email, ClientName: p.clientName, For: p.purposeText(), FormAction: p.formAction,
	}
	if r.URL.Query().Get("why") == "recent" {
		v.Notice = translate(p.lang, "login.recent")
	}
	w.renderLogin(rw, r, http.StatusOK, v)
	return nil
}

// renderLogin shows the login page, with the passkey button and the
// browser's passkey autofill when passkeys are on.
func (w *Web) renderLogin(rw http.ResponseWriter, r *http.Request, status int, v *View) {
	if w.passkeysOn() {
		v.Passkeys, v.Scripts = &PasskeySection{}, true
	}
	w.render(rw, r, status, "login", v)
}

func (w *Web) loginSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	cont := safeContinue(r.PostForm.Get("continue"))
	p := w.pendingFor(r, cont)
	email, password := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("password")
	again := func(status int, msg string) error {
		w.renderLogin(rw, r, status, &View{
			Lang: p.lang, Title: "login.title", Continue: cont, Email: email,
			ClientName: p.clientName, For: p.purposeText(), Error: translate(p.lang, msg), FormAction: p.formAction,
		})
		return nil
	}
	if email == "" || password == "" {
		return again(http.StatusBadRequest, "login.required")
	}
	user, err := w.cfg.Accounts.Authenticate(r.Context(), email, password, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case err == nil:
	case errors.Is(err, account.ErrInvalidCredentials):
		// One message whatever was wrong: no account enumeration.
		return again(http.StatusUnauthorized, "login.invalid")
	case errors.As(err, &te):
		SetRetryAfter(rw, te.RetryAfter)
		return again(http.StatusTooManyRequests, "login.throttled")
	case errors.Is(err, account.ErrBusy):
		SetRetryAfter(rw, time.Second)
		return again(http.StatusServiceUnavailable, "login.busy")
	case errors.Is(err, account.ErrSecondFactorRequired):
		// No session yet: the second step (mfa.go) creates it.
		return w.startSecondStep(rw, r, user, cont)
	case errors.Is(err, account.ErrEmailNotVerified):
		return again(http.StatusForbidden, w.unverifiedLogin(r, user))
	default:
		return err
	}
	if _, err := w.startSession(rw, r, user, AMRPassword()); err != nil {
		return err
	}
	w.redirect(rw, r, afterLogin(cont))
	return nil
}

// SetRetryAfter says when to try again, in whole seconds rounded up.
func SetRetryAfter(rw http.ResponseWriter, d time.Duration) {
	rw.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
}

func (w *Web) registerPage(rw http.ResponseWriter, r *http.Request) error {
	cont := safeContinue(r.URL.Query().Get("continue"))
	p := w.pendingFor(r, cont)
	w.render(rw, r, http.StatusOK, "register", &View{
		Lang: p.lang, Title: "register.title", Continue: cont, Email: p.loginHint,
		ClientName: p.clientName, For: p.purposeText(), FormAction: p.formAction,
	})
	return nil
}

func registerKey(ip string) string { return "register:ip:" + ip } // shared with POST /v1/users

func (w *Web) registerSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	f := r.PostForm
	cont := safeContinue(f.Get("continue"))
	p := w.pendingFor(r, cont)
	v := &View{
		Lang: p.lang, Title: "register.title", Continue: cont, ClientName: p.clientName, For: p.purposeText(), FormAction: p.formAction,
		Email: strings.TrimSpace(f.Get("email")), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
	}
	ctx := r.Context()
	ip := httpx.ClientIP(r)
	limited := w.cfg.RegisterLimit > 0
	now := w.now()
	start := now.Truncate(w.cfg.RegisterWindow)
	end := start.Add(w.cfg.RegisterWindow)
	if limited {
		n, err := w.cfg.Store.Count(ctx, registerKey(ip), start)
		if err != nil {
			return err
		}
		if n >= w.cfg.RegisterLimit {
			SetRetryAfter(rw, end.Sub(now))
			v.Error = translate(p.lang, "register.limited")
			w.render(rw, r, http.StatusTooManyRequests, "register", v)
			return nil
		}
	}
	user, err := w.cfg.Accounts.Register(ctx, account.RegisterInput{
		Email: f.Get("email"), Password: f.Get("password"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
		Lang: p.lang,
	})
	if limited && (err == nil || errors.Is(err, account.ErrEmailTaken)) {
		if _, herr := w.cfg.Store.Hit(ctx, registerKey(ip), start, end); herr != nil {
			httpx.LogError(w.log, r, http.StatusInternalServerError, herr)
		}
	}
	if err != nil {
		status, handled := w.accountErrors(rw, v, err)
		if !handled {
			return err
		}
		if errors.Is(err, account.ErrEmailTaken) {
			v.Error = translate(v.Lang, "register.taken")
		}
		w.render(rw, r, status, "register", v)
		return nil
	}
	if w.registeredUnverified(rw, r, user, p.lang) {
		return nil
	}
	if _, err := w.startSession(rw, r, user, AMRPassword()); err != nil {
		return err
	}
	w.redirect(rw, r, afterLogin(cont))
	return nil
}

// accountErrors puts the account service's refusals on v, in v.Lang, and
// returns the status to answer with; handled is false for errors that are
// not the person's to fix (store failures), which become the 500 page.
func (w *Web) accountErrors(rw http.ResponseWriter, v *View, err error) (status int, handled bool) {
	var te *account.ThrottledError
	switch {
	case errors.Is(err, account.ErrEmailTaken):
		v.Error = translate(v.Lang, "account.taken")
		return http.StatusConflict, true
	case errors.Is(err, account.ErrInvalidCredentials):
		v.Error = translate(v.Lang, "account.wrongcurrent")
		return http.StatusBadRequest, true
	case errors.As(err, &te):
		SetRetryAfter(rw, te.RetryAfter)
		v.Error = translate(v.Lang, "login.throttled")
		return http.StatusTooManyRequests, true
	case errors.Is(err, account.ErrBusy):
		SetRetryAfter(rw, time.Second)
		v.Error = translate(v.Lang, "login.busy")
		return http.StatusServiceUnavailable, true
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var ve *account.ValidationError
		if !errors.As(e, &ve) {
			return 0, false
		}
		v.Errors = append(v.Errors, ve.Localized(v.Lang))
	}
	v.Error = translate(v.Lang, "register.fixerrors")
	return http.StatusUnprocessableEntity, true
}

// consentSubmit records the person's answer on the consent page. The
// request is validated again from its original parameters; the form's
// binding must name the browser's current session.
func (w *Web) consentSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	vals, err := url.ParseQuery(r.PostForm.Get("authz"))
	if err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	q, err := w.parseAuthz(r.Context(), vals)
	if err != nil {
		return err
	}
	sess, user, err := w.session(r)
	if err != nil {
		return q.fail(oauth.ServerError(err))
	}
	if sess == nil {
		// The session ended while the page was open: log in again.
		w.redirect(rw, r, PathLogin+"?"+url.Values{"continue": {authorizeURL(vals)}}.Encode())
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("binding")), []byte(binding(sess))) != 1 {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.sessionchanged", Lang: w.lang(r, q.UILocales)}
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		now := w.now().UTC()
		if err := w.cfg.Store.SaveConsent(r.Context(), &store.Consent{
			UserID: user.ID, ClientID: q.client.ID, Scopes: q.consentScopes(), Resources: q.Resources,
			CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return q.fail(oauth.ServerError(err))
		}
		w.event(r, "consent.given", user.ID, q.client.ID, oauth.FormatScope(q.consentScopes()))
		return w.answer(rw, r, q, sess, user)
	case "deny":
		w.event(r, "consent.denied", user.ID, q.client.ID, oauth.FormatScope(q.Scopes))
		// RFC 6749 §4.1.2.1 access_denied: "The resource owner or
		// authorization server denied the request."
		return q.fail(authzError(oauth.CodeAccessDenied, "el usuario denego el acceso"))
	}
	return PageErr(http.StatusBadRequest, "error.badrequest")
}

// signedIn returns the session's user, or redirects to the login page and
// returns nil. After logging in the browser comes back to the page it asked
// for (a GET); a form posted without a session goes back to /account.
func (w *Web) signedIn(rw http.ResponseWriter, r *http.Request) (*store.Session, *store.User, error) {
	sess, user, err := w.session(r)
	if err != nil || sess != nil {
		return sess, user, err
	}
	cont := PathAccount
	if r.Method == http.MethodGet {
		cont = safeContinue(r.URL.RequestURI())
	}
	w.redirect(rw, r, PathLogin+"?"+url.Values{"continue": {cont}}.Encode())
	return nil, nil, nil
}
