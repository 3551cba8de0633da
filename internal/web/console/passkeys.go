package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/passkey"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// Passkeys on /account ("Llaves de acceso"): add (a JSON ceremony run by
// /static/passkey.js, bound to the session that began it), rename, delete
// (after a recent sign-in), and the list on the admin user page.

// Passkeys manages an account's passkeys; *passkey.Service implements it
// (a nil *passkey.Service: passkeys off).
type Passkeys interface {
	Available() bool
	BeginRegistration(ctx context.Context, u *store.User, binding []byte) (*passkey.Begun, error)
	FinishRegistration(ctx context.Context, u *store.User, handle string, binding []byte, name, lang string, body []byte, ip string) (*store.Passkey, error)
	List(ctx context.Context, userID string) ([]*store.Passkey, error)
	Rename(ctx context.Context, userID string, id []byte, name, ip string) error
	Delete(ctx context.Context, userID string, id []byte, ip string) error
}

// RecentLogin is how recent a sign-in must be to delete a passkey: a
// session left open on a shared computer cannot take away its owner's way
// in.
const RecentLogin = 10 * time.Minute

func (w *Console) passkeysOn() bool { return w.cfg.Passkeys != nil && w.cfg.Passkeys.Available() }

func (w *Console) mountPasskeys(page func(string, web.HandlerFunc)) {
	page("POST "+web.PathAccountPasskeys+"/begin", w.passkeyAddBegin)
	page("POST "+web.PathAccountPasskeys+"/finish", w.passkeyAddFinish)
	page("POST "+web.PathAccountPasskeys+"/rename", w.passkeyRename)
	page("POST "+web.PathAccountPasskeys+"/delete", w.passkeyDelete)
}

// registerBinding ties an add ceremony to the session that began it.
func registerBinding(s *store.Session) []byte {
	return web.CeremonyBinding(store.CeremonyRegister, s.ID)
}

// jsonUser is the signed-in user of a JSON endpoint, or nils after
// answering (passkeys off, or no session).
func (w *Console) jsonUser(rw http.ResponseWriter, r *http.Request) (*store.Session, *store.User, error) {
	lang := w.Lang(r, "")
	if !w.passkeysOn() {
		return nil, nil, web.PasskeyError(rw, lang, passkey.ErrUnavailable)
	}
	sess, user, err := w.Session(r)
	if err != nil || sess != nil {
		return sess, user, err
	}
	web.WriteJSON(rw, http.StatusUnauthorized, map[string]string{"error": web.T(lang, "passkey.signedout")})
	return nil, nil, nil
}

func (w *Console) passkeyAddBegin(rw http.ResponseWriter, r *http.Request) error {
	sess, user, err := w.jsonUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	b, err := w.cfg.Passkeys.BeginRegistration(r.Context(), user, registerBinding(sess))
	if err != nil {
		return web.PasskeyError(rw, w.Lang(r, ""), err)
	}
	return web.PasskeyBegun(rw, b)
}

func (w *Console) passkeyAddFinish(rw http.ResponseWriter, r *http.Request) error {
	sess, user, err := w.jsonUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	lang := w.Lang(r, "")
	req, err := web.ReadPasskeyRequest(r)
	if err != nil {
		web.WriteJSON(rw, http.StatusBadRequest, map[string]string{"error": web.T(lang, "error.badrequest")})
		return nil
	}
	_, err = w.cfg.Passkeys.FinishRegistration(r.Context(), user, req.Ceremony, registerBinding(sess),
		req.Name, lang, req.Credential, httpx.ClientIP(r))
	if err != nil {
		return web.PasskeyError(rw, lang, err)
	}
	web.WriteJSON(rw, http.StatusOK, map[string]string{"redirect": web.PathAccount + "?saved=passkey#passkeys"})
	return nil
}

func (w *Console) passkeyRename(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return web.BadForm(err)
	}
	if !w.passkeysOn() {
		return web.NotFound()
	}
	err = w.cfg.Passkeys.Rename(r.Context(), user.ID, passkey.ParseID(r.PostForm.Get("id")), r.PostForm.Get("name"), httpx.ClientIP(r))
	if errors.Is(err, passkey.ErrNotFound) {
		return w.accountError(rw, r, user, http.StatusNotFound, "passkey.none")
	}
	if err != nil {
		return err
	}
	w.Redirect(rw, r, web.PathAccount+"?saved=pkrenamed#passkeys")
	return nil
}

func (w *Console) passkeyDelete(rw http.ResponseWriter, r *http.Request) error {
	sess, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return web.BadForm(err)
	}
	if !w.passkeysOn() {
		return web.NotFound()
	}
	if w.Now().Sub(sess.AuthTime) > RecentLogin {
		w.Redirect(rw, r, web.PathLogin+"?"+url.Values{"continue": {web.PathAccount}, "why": {"recent"}}.Encode())
		return nil
	}
	err = w.cfg.Passkeys.Delete(r.Context(), user.ID, passkey.ParseID(r.PostForm.Get("id")), httpx.ClientIP(r))
	if errors.Is(err, passkey.ErrNotFound) {
		return w.accountError(rw, r, user, http.StatusNotFound, "passkey.none")
	}
	if err != nil {
		return err
	}
	w.Redirect(rw, r, web.PathAccount+"?saved=pkdeleted#passkeys")
	return nil
}

// accountError shows the account page with an error.
func (w *Console) accountError(rw http.ResponseWriter, r *http.Request, user *store.User, status int, key string) error {
	v := w.accountView(r, user)
	v.Error = web.T(v.Lang, key)
	w.Render(rw, r, status, "account", v)
	return nil
}

// passkeySection is the /account section for u (nil when passkeys are off).
func (w *Console) passkeySection(r *http.Request, lang string, u *store.User) *web.PasskeySection {
	if !w.passkeysOn() {
		return nil
	}
	list, err := w.cfg.Passkeys.List(r.Context(), u.ID)
	if err != nil {
		w.log.ErrorContext(r.Context(), "listing passkeys", "error", err.Error())
	}
	return &web.PasskeySection{List: web.PasskeyViews(list, lang)}
}
