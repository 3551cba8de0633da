package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/passkey"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Passkeys in the browser.
//
// The pages call navigator.credentials from /static/passkey.js (no inline
// script: the CSP allows script-src 'self' only on these pages) and talk to
// small JSON endpoints, all POST and all behind CrossOriginProtection like
// every form: begin answers {"ceremony", "options"}, finish takes
// {"ceremony", "credential", ...} and answers {"redirect"} or {"error"}, a
// message in the page's language that says what to do.
//
// Each ceremony is bound to what only this browser holds: signing in, a
// random value in an HttpOnly, SameSite=Strict cookie scoped to /login
// (PasskeyCookie); the second factor, the pending-login ticket; adding a
// passkey, the session. A handle copied to another browser finishes
// nothing.

// Passkeys is passkey sign-in; *passkey.Service implements it (a nil
// *passkey.Service: passkeys off). Adding and removing passkeys is the
// console's (package console).
type Passkeys interface {
	Available() bool
	BeginLogin(ctx context.Context, binding []byte, conditional bool) (*passkey.Begun, error)
	FinishLogin(ctx context.Context, handle string, binding []byte, body []byte, ip string) (*passkey.Result, error)
	BeginSecondFactor(ctx context.Context, u *store.User, binding []byte) (*passkey.Begun, error)
	FinishSecondFactor(ctx context.Context, u *store.User, handle string, binding []byte, body []byte, ip string) (*passkey.Result, error)
	List(ctx context.Context, userID string) ([]*store.Passkey, error)
}

// Paths of passkeys.
const (
	PathPasskeyLogin    = "/login/passkey"        // + /begin, /finish
	PathPasskeyVerify   = "/login/passkey/verify" // + /begin, /finish: the second factor
	PathAccountPasskeys = "/account/passkeys"     // + /begin, /finish, /rename, /delete (package console)
)

// PasskeyCookie binds sign-in ceremonies to the browser.
const PasskeyCookie = "mnx_pk"

func (w *Web) passkeysOn() bool { return w.cfg.Passkeys != nil && w.cfg.Passkeys.Available() }

func (w *Web) mountPasskeys(page func(string, HandlerFunc)) {
	page("POST "+PathPasskeyLogin+"/begin", w.passkeyLoginBegin)
	page("POST "+PathPasskeyLogin+"/finish", w.passkeyLoginFinish)
	page("POST "+PathPasskeyVerify+"/begin", w.passkeyVerifyBegin)
	page("POST "+PathPasskeyVerify+"/finish", w.passkeyVerifyFinish)
}

// PasskeyRequest is the JSON body of the passkey endpoints.
type PasskeyRequest struct {
	Ceremony    string          `json:"ceremony"`
	Credential  json.RawMessage `json:"credential"`
	Continue    string          `json:"continue"`
	Name        string          `json:"name"`
	Conditional bool            `json:"conditional"`
}

// ReadPasskeyRequest reads the JSON body of a passkey endpoint.
func ReadPasskeyRequest(r *http.Request) (*PasskeyRequest, error) {
	var req PasskeyRequest
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return &req, nil
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

func jsonError(rw http.ResponseWriter, status int, lang, key string) error {
	WriteJSON(rw, status, map[string]string{"error": translate(lang, key)})
	return nil
}

// PasskeyBegun answers a begun ceremony: {"ceremony", "options"}.
func PasskeyBegun(rw http.ResponseWriter, b *passkey.Begun) error {
	WriteJSON(rw, http.StatusOK, map[string]any{"ceremony": b.Handle, "options": b.Options})
	return nil
}

// PasskeyError answers, as {"error": message in lang}, a ceremony that did
// not finish; it returns the error when it is not the person's to fix.
func PasskeyError(rw http.ResponseWriter, lang string, err error) error {
	switch {
	case errors.Is(err, passkey.ErrCeremony):
		return jsonError(rw, http.StatusBadRequest, lang, "passkey.expired")
	case errors.Is(err, passkey.ErrUnknownPasskey):
		return jsonError(rw, http.StatusUnauthorized, lang, "passkey.unknown")
	case errors.Is(err, passkey.ErrCloned):
		return jsonError(rw, http.StatusForbidden, lang, "passkey.cloned")
	case errors.Is(err, passkey.ErrRefused):
		return jsonError(rw, http.StatusUnauthorized, lang, "passkey.refused")
	case errors.Is(err, passkey.ErrTaken):
		return jsonError(rw, http.StatusConflict, lang, "passkey.taken")
	case errors.Is(err, passkey.ErrNotFound):
		return jsonError(rw, http.StatusNotFound, lang, "passkey.none")
	case errors.Is(err, passkey.ErrUnavailable):
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	return err
}

// CeremonyBinding hashes what ties a ceremony of kind to this browser.
func CeremonyBinding(kind, secret string) []byte {
	return store.HashToken("mnx passkey binding\x00" + kind + "\x00" + secret)
}

// loginBinding returns the browser's sign-in binding, setting the cookie
// when create is set and the browser has none; nil when there is none.
func (w *Web) loginBinding(rw http.ResponseWriter, r *http.Request, create bool) []byte {
	if c, err := r.Cookie(PasskeyCookie); err == nil && token.HasOpaqueForm(c.Value, "mnxpk") {
		return CeremonyBinding(store.CeremonyLogin, c.Value)
	}
	if !create {
		return nil
	}
	v := token.NewOpaque("mnxpk")
	http.SetCookie(rw, &http.Cookie{
		Name: PasskeyCookie, Value: v, Path: PathLogin, HttpOnly: true, Secure: w.https,
		SameSite: http.SameSiteStrictMode, MaxAge: int(time.Hour / time.Second),
	})
	return CeremonyBinding(store.CeremonyLogin, v)
}

func (w *Web) passkeyLoginBegin(rw http.ResponseWriter, r *http.Request) error {
	lang := w.lang(r, "")
	if !w.passkeysOn() {
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	req, err := ReadPasskeyRequest(r)
	if err != nil {
		return jsonError(rw, http.StatusBadRequest, lang, "error.badrequest")
	}
	if wait, err := w.beginLimited(r); err != nil || wait > 0 {
		if err != nil {
			return err
		}
		SetRetryAfter(rw, wait)
		return jsonError(rw, http.StatusTooManyRequests, lang, "login.throttled")
	}
	b, err := w.cfg.Passkeys.BeginLogin(r.Context(), w.loginBinding(rw, r, true), req.Conditional)
	if err != nil {
		return PasskeyError(rw, lang, err)
	}
	return PasskeyBegun(rw, b)
}

func (w *Web) passkeyLoginFinish(rw http.ResponseWriter, r *http.Request) error {
	req, err := ReadPasskeyRequest(r)
	if err != nil {
		return jsonError(rw, http.StatusBadRequest, w.lang(r, ""), "error.badrequest")
	}
	cont := safeContinue(req.Continue)
	lang := w.pendingFor(r, cont).lang
	if !w.passkeysOn() {
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	binding := w.loginBinding(rw, r, false)
	if binding == nil {
		return jsonError(rw, http.StatusBadRequest, lang, "passkey.expired")
	}
	res, err := w.cfg.Passkeys.FinishLogin(r.Context(), req.Ceremony, binding, req.Credential, httpx.ClientIP(r))
	if err != nil {
		return PasskeyError(rw, lang, err)
	}
	if w.cfg.Recovery != nil && w.cfg.Recovery.RequireVerified() && !res.User.EmailVerified {
		// serve --require-verified-email: a passkey does not prove the
		// address either; a new link goes out, as after a password.
		return jsonError(rw, http.StatusForbidden, lang, w.unverifiedLogin(r, res.User))
	}
	// A passkey sign-in is complete: no password, no second step.
	http.SetCookie(rw, w.loginCookie("", time.Time{}))
	if _, err := w.startSession(rw, r, res.User, res.AMR); err != nil {
		return err
	}
	w.event(r, "login.succeeded", res.User.ID, "", "passkey")
	WriteJSON(rw, http.StatusOK, map[string]string{"redirect": afterLogin(cont)})
	return nil
}

// verifyBinding returns the binding of the browser's pending login and its
// user, or nils.
func (w *Web) verifyBinding(r *http.Request) ([]byte, *store.User, error) {
	c, err := r.Cookie(LoginCookie)
	if err != nil || c.Value == "" {
		return nil, nil, nil
	}
	u, err := w.pendingUser(r)
	if err != nil || u == nil {
		return nil, nil, err
	}
	return CeremonyBinding(store.CeremonySecondFactor, c.Value), u, nil
}

func (w *Web) passkeyVerifyBegin(rw http.ResponseWriter, r *http.Request) error {
	lang := w.lang(r, "")
	if !w.passkeysOn() {
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	binding, u, err := w.verifyBinding(r)
	if err != nil {
		return err
	}
	if u == nil {
		return jsonError(rw, http.StatusUnauthorized, lang, "mfa.verify.expired")
	}
	b, err := w.cfg.Passkeys.BeginSecondFactor(r.Context(), u, binding)
	if err != nil {
		return PasskeyError(rw, lang, err)
	}
	return PasskeyBegun(rw, b)
}

func (w *Web) passkeyVerifyFinish(rw http.ResponseWriter, r *http.Request) error {
	req, err := ReadPasskeyRequest(r)
	if err != nil {
		return jsonError(rw, http.StatusBadRequest, w.lang(r, ""), "error.badrequest")
	}
	cont := safeContinue(req.Continue)
	lang := w.pendingFor(r, cont).lang
	binding, u, err := w.verifyBinding(r)
	if err != nil {
		return err
	}
	if u == nil {
		return jsonError(rw, http.StatusUnauthorized, lang, "mfa.verify.expired")
	}
	res, err := w.cfg.Passkeys.FinishSecondFactor(r.Context(), u, req.Ceremony, binding, req.Credential, httpx.ClientIP(r))
	if err != nil {
		return PasskeyError(rw, lang, err)
	}
	http.SetCookie(rw, w.loginCookie("", time.Time{}))
	if _, err := w.startSession(rw, r, u, append([]string{"pwd"}, res.AMR...)); err != nil {
		return err
	}
	w.event(r, "login.succeeded", u.ID, "", "password and passkey")
	WriteJSON(rw, http.StatusOK, map[string]string{"redirect": afterLogin(cont)})
	return nil
}

// PasskeyView is one passkey as the pages show it.
type PasskeyView struct {
	ID, Name, Authenticator string
	Created, LastUsed       time.Time
	Synced                  bool
}

// PasskeySection is what the templates show of passkeys (View.Passkeys):
// on the login page an empty one (the button), on the second step and
// /account the person's passkeys.
type PasskeySection struct {
	List []PasskeyView
}

// PasskeyViews turns stored passkeys into what the pages show, with the
// authenticator's description in lang.
func PasskeyViews(list []*store.Passkey, lang string) []PasskeyView {
	out := make([]PasskeyView, 0, len(list))
	for _, p := range list {
		out = append(out, PasskeyView{ID: passkey.ID(p), Name: p.Name, Authenticator: passkey.Describe(p.AAGUID, lang),
			Created: p.CreatedAt, LastUsed: p.LastUsedAt, Synced: p.BackupEligible})
	}
	return out
}

// offerPasskey lets the second step of u's login take a passkey instead
// of a code, when u has one.
func (w *Web) offerPasskey(r *http.Request, v *View, u *store.User) {
	if !w.passkeysOn() {
		return
	}
	list, err := w.cfg.Passkeys.List(r.Context(), u.ID)
	if err != nil {
		w.log.ErrorContext(r.Context(), "listing passkeys", "error", err.Error())
		return
	}
	if len(list) > 0 {
		v.Passkeys, v.Scripts = &PasskeySection{List: PasskeyViews(list, v.Lang)}, true
	}
}

// passkeyBox is what the "passkeybox" template needs.
type passkeyBox struct{ Lang, Mode, Base, Continue string }

// BeginLimit bounds the sign-in ceremonies one client address may begin
// per minute: each is a row in the store until it expires, and beginning
// one needs no account.
const BeginLimit = 30

// beginLimited counts a sign-in ceremony begun from the request's address
// and returns how long to wait when the address is over BeginLimit.
func (w *Web) beginLimited(r *http.Request) (time.Duration, error) {
	now := w.now()
	start := now.Truncate(time.Minute)
	n, err := w.cfg.Store.Hit(r.Context(), "passkey:begin:ip:"+httpx.ClientIP(r), start, start.Add(time.Minute))
	if err != nil || n <= BeginLimit {
		return 0, err
	}
	return start.Add(time.Minute).Sub(now), nil
}
