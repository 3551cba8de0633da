package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
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
// *passkey.Service: passkeys off).
type Passkeys interface {
	Available() bool
	BeginRegistration(ctx context.Context, u *store.User, binding []byte) (*passkey.Begun, error)
	FinishRegistration(ctx context.Context, u *store.User, handle string, binding []byte, name, lang string, body []byte, ip string) (*store.Passkey, error)
	BeginLogin(ctx context.Context, binding []byte, conditional bool) (*passkey.Begun, error)
	FinishLogin(ctx context.Context, handle string, binding []byte, body []byte, ip string) (*passkey.Result, error)
	BeginSecondFactor(ctx context.Context, u *store.User, binding []byte) (*passkey.Begun, error)
	FinishSecondFactor(ctx context.Context, u *store.User, handle string, binding []byte, body []byte, ip string) (*passkey.Result, error)
	List(ctx context.Context, userID string) ([]*store.Passkey, error)
	Rename(ctx context.Context, userID string, id []byte, name, ip string) error
	Delete(ctx context.Context, userID string, id []byte, ip string) error
}

// Paths of passkeys.
const (
	PathPasskeyLogin    = "/login/passkey"        // + /begin, /finish
	PathPasskeyVerify   = "/login/passkey/verify" // + /begin, /finish: the second factor
	PathAccountPasskeys = "/account/passkeys"     // + /begin, /finish, /rename, /delete
)

// PasskeyCookie binds sign-in ceremonies to the browser.
const PasskeyCookie = "mnx_pk"

// RecentLogin is how recent a sign-in must be to delete a passkey.
const RecentLogin = 10 * time.Minute

func (w *Web) passkeysOn() bool { return w.cfg.Passkeys != nil && w.cfg.Passkeys.Available() }

func (w *Web) mountPasskeys(page func(string, handlerFunc)) {
	page("POST "+PathPasskeyLogin+"/begin", w.passkeyLoginBegin)
	page("POST "+PathPasskeyLogin+"/finish", w.passkeyLoginFinish)
	page("POST "+PathPasskeyVerify+"/begin", w.passkeyVerifyBegin)
	page("POST "+PathPasskeyVerify+"/finish", w.passkeyVerifyFinish)
	page("POST "+PathAccountPasskeys+"/begin", w.passkeyAddBegin)
	page("POST "+PathAccountPasskeys+"/finish", w.passkeyAddFinish)
	page("POST "+PathAccountPasskeys+"/rename", w.passkeyRename)
	page("POST "+PathAccountPasskeys+"/delete", w.passkeyDelete)
}

// passkeyRequest is the JSON body of the endpoints.
type passkeyRequest struct {
	Ceremony    string          `json:"ceremony"`
	Credential  json.RawMessage `json:"credential"`
	Continue    string          `json:"continue"`
	Name        string          `json:"name"`
	Conditional bool            `json:"conditional"`
}

func readPasskeyRequest(r *http.Request) (*passkeyRequest, error) {
	var req passkeyRequest
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

// writeJSON answers a passkey endpoint.
func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// jsonError answers {"error": message} in lang.
func jsonError(rw http.ResponseWriter, status int, lang, key string) error {
	writeJSON(rw, status, map[string]string{"error": translate(lang, key)})
	return nil
}

// begun answers a begun ceremony.
func begun(rw http.ResponseWriter, b *passkey.Begun) error {
	writeJSON(rw, http.StatusOK, map[string]any{"ceremony": b.Handle, "options": b.Options})
	return nil
}

// ceremonyError answers a ceremony that did not finish, or returns the
// error when it is not the person's to fix.
func ceremonyError(rw http.ResponseWriter, lang string, err error) error {
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

// binding hashes what ties a ceremony to this browser.
func ceremonyBinding(kind, secret string) []byte {
	return store.HashToken("mnx passkey binding\x00" + kind + "\x00" + secret)
}

// loginBinding returns the browser's sign-in binding, setting the cookie
// when create is set and the browser has none; nil when there is none.
func (w *Web) loginBinding(rw http.ResponseWriter, r *http.Request, create bool) []byte {
	if c, err := r.Cookie(PasskeyCookie); err == nil && token.HasOpaqueForm(c.Value, "mnxpk") {
		return ceremonyBinding(store.CeremonyLogin, c.Value)
	}
	if !create {
		return nil
	}
	v := token.NewOpaque("mnxpk")
	http.SetCookie(rw, &http.Cookie{
		Name: PasskeyCookie, Value: v, Path: PathLogin, HttpOnly: true, Secure: w.https,
		SameSite: http.SameSiteStrictMode, MaxAge: int(time.Hour / time.Second),
	})
	return ceremonyBinding(store.CeremonyLogin, v)
}

func (w *Web) passkeyLoginBegin(rw http.ResponseWriter, r *http.Request) error {
	lang := w.lang(r, "")
	if !w.passkeysOn() {
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	req, err := readPasskeyRequest(r)
	if err != nil {
		return jsonError(rw, http.StatusBadRequest, lang, "error.badrequest")
	}
	b, err := w.cfg.Passkeys.BeginLogin(r.Context(), w.loginBinding(rw, r, true), req.Conditional)
	if err != nil {
		return ceremonyError(rw, lang, err)
	}
	return begun(rw, b)
}

func (w *Web) passkeyLoginFinish(rw http.ResponseWriter, r *http.Request) error {
	req, err := readPasskeyRequest(r)
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
		return ceremonyError(rw, lang, err)
	}
	// A passkey sign-in is complete: no password, no second step.
	http.SetCookie(rw, w.loginCookie("", time.Time{}))
	if _, err := w.startSession(rw, r, res.User, res.AMR); err != nil {
		return err
	}
	w.event(r, "login.succeeded", res.User.ID, "", "passkey")
	writeJSON(rw, http.StatusOK, map[string]string{"redirect": afterLogin(cont)})
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
	return ceremonyBinding(store.CeremonySecondFactor, c.Value), u, nil
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
		return ceremonyError(rw, lang, err)
	}
	return begun(rw, b)
}

func (w *Web) passkeyVerifyFinish(rw http.ResponseWriter, r *http.Request) error {
	req, err := readPasskeyRequest(r)
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
		return ceremonyError(rw, lang, err)
	}
	http.SetCookie(rw, w.loginCookie("", time.Time{}))
	if _, err := w.startSession(rw, r, u, append([]string{"pwd"}, res.AMR...)); err != nil {
		return err
	}
	w.event(r, "login.succeeded", u.ID, "", "password and passkey")
	writeJSON(rw, http.StatusOK, map[string]string{"redirect": afterLogin(cont)})
	return nil
}

// accountUser is the signed-in user of a JSON endpoint, or nil after
// answering 401.
func (w *Web) accountUser(rw http.ResponseWriter, r *http.Request) (*store.Session, *store.User, error) {
	sess, user, err := w.session(r)
	if err != nil || sess != nil {
		return sess, user, err
	}
	return nil, nil, jsonError(rw, http.StatusUnauthorized, w.lang(r, ""), "passkey.signedout")
}

func (w *Web) passkeyAddBegin(rw http.ResponseWriter, r *http.Request) error {
	lang := w.lang(r, "")
	if !w.passkeysOn() {
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	sess, user, err := w.accountUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	b, err := w.cfg.Passkeys.BeginRegistration(r.Context(), user, ceremonyBinding(store.CeremonyRegister, sess.ID))
	if err != nil {
		return ceremonyError(rw, lang, err)
	}
	return begun(rw, b)
}

func (w *Web) passkeyAddFinish(rw http.ResponseWriter, r *http.Request) error {
	lang := w.lang(r, "")
	if !w.passkeysOn() {
		return jsonError(rw, http.StatusNotFound, lang, "passkey.off")
	}
	sess, user, err := w.accountUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	req, err := readPasskeyRequest(r)
	if err != nil {
		return jsonError(rw, http.StatusBadRequest, lang, "error.badrequest")
	}
	_, err = w.cfg.Passkeys.FinishRegistration(r.Context(), user, req.Ceremony, ceremonyBinding(store.CeremonyRegister, sess.ID),
		req.Name, lang, req.Credential, httpx.ClientIP(r))
	if err != nil {
		return ceremonyError(rw, lang, err)
	}
	writeJSON(rw, http.StatusOK, map[string]string{"redirect": PathAccount + "?saved=passkey#passkeys"})
	return nil
}

func (w *Web) passkeyRename(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	err = w.cfg.Passkeys.Rename(r.Context(), user.ID, passkey.ParseID(r.PostForm.Get("id")), r.PostForm.Get("name"), httpx.ClientIP(r))
	if errors.Is(err, passkey.ErrNotFound) || errors.Is(err, passkey.ErrUnavailable) {
		return w.accountError(rw, r, user, http.StatusNotFound, "passkey.none")
	}
	if err != nil {
		return err
	}
	w.redirect(rw, r, PathAccount+"?saved=pkrenamed#passkeys")
	return nil
}

// passkeyDelete removes a passkey, after a recent sign-in: a session left
// open on a shared computer cannot take away its owner's way in.
func (w *Web) passkeyDelete(rw http.ResponseWriter, r *http.Request) error {
	sess, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	if w.now().Sub(sess.AuthTime) > RecentLogin {
		w.redirect(rw, r, PathLogin+"?"+url.Values{"continue": {PathAccount + "#passkeys"}, "why": {"recent"}}.Encode())
		return nil
	}
	err = w.cfg.Passkeys.Delete(r.Context(), user.ID, passkey.ParseID(r.PostForm.Get("id")), httpx.ClientIP(r))
	if errors.Is(err, passkey.ErrNotFound) || errors.Is(err, passkey.ErrUnavailable) {
		return w.accountError(rw, r, user, http.StatusNotFound, "passkey.none")
	}
	if err != nil {
		return err
	}
	w.redirect(rw, r, PathAccount+"?saved=pkdeleted#passkeys")
	return nil
}

// accountError shows the account page with an error.
func (w *Web) accountError(rw http.ResponseWriter, r *http.Request, user *store.User, status int, key string) error {
	v := w.accountView(r, user)
	v.Error = translate(v.Lang, key)
	w.render(rw, r, status, "account", v)
	return nil
}

// passkeyView is the passkey section of /account.
type passkeyView struct {
	ID, Name, Authenticator string
	Created, LastUsed       time.Time
	Synced                  bool
}

func (w *Web) passkeyList(r *http.Request, lang string, u *store.User) []passkeyView {
	if !w.passkeysOn() {
		return nil
	}
	list, err := w.cfg.Passkeys.List(r.Context(), u.ID)
	if err != nil {
		w.log.ErrorContext(r.Context(), "listing passkeys", "error", err.Error())
		return nil
	}
	out := make([]passkeyView, 0, len(list))
	for _, p := range list {
		out = append(out, passkeyView{ID: passkey.ID(p), Name: p.Name, Authenticator: passkey.Describe(p.AAGUID, lang),
			Created: p.CreatedAt, LastUsed: p.LastUsedAt, Synced: p.BackupEligible})
	}
	return out
}

// passkeySection is what the templates show of passkeys.
type passkeySection struct {
	List []passkeyView
}

// passkeySectionFor returns the /account section for u, nil when off.
func (w *Web) passkeySectionFor(r *http.Request, lang string, u *store.User) *passkeySection {
	if !w.passkeysOn() {
		return nil
	}
	return &passkeySection{List: w.passkeyList(r, lang, u)}
}

// offerPasskey lets the second step of u's login take a passkey instead
// of a code, when u has one.
func (w *Web) offerPasskey(r *http.Request, v *view, u *store.User) {
	if list := w.passkeyList(r, v.Lang, u); len(list) > 0 {
		v.Passkeys, v.scripts = &passkeySection{List: list}, true
	}
}

// passkeyBox is what the "passkeybox" template needs.
type passkeyBox struct{ Lang, Mode, Base, Continue string }
