package web

import (
	"net/http"
	"net/url"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// logoutTarget is a validated place to send the browser after logout.
type logoutTarget struct {
	clientID string
	uri      string // "" : show the "signed out" page
	state    string
}

// logoutRedirect validates post_logout_redirect_uri against the client's
// registered list, exactly as redirect URIs are (OpenID Connect RP-Initiated
// Logout 1.0 §3: "The value MUST have been previously registered with the
// OP"). Without a client there is nothing to check it against, so it is
// refused.
func (w *Web) logoutRedirect(r *http.Request, clientID, uri, state string) (*logoutTarget, error) {
	t := &logoutTarget{clientID: clientID, state: state}
	if uri == "" {
		return t, nil
	}
	if clientID == "" || len(clientID) > MaxClientID {
		return nil, PageErr(http.StatusBadRequest, "error.badlogoutredirect")
	}
	c, err := w.cfg.Store.GetClient(r.Context(), clientID)
	if err != nil {
		if isNotFound(err) {
			return nil, PageErr(http.StatusBadRequest, "error.unknownclient")
		}
		return nil, err
	}
	if c.Disabled {
		return nil, PageErr(http.StatusBadRequest, "error.disabledclient")
	}
	u, ok := oauth.MatchRedirectURI(c.PostLogoutRedirectURIs, uri)
	if !ok {
		return nil, PageErr(http.StatusBadRequest, "error.badlogoutredirect")
	}
	t.uri = u
	return t, nil
}

// finishLogout redirects to the target, or shows the "signed out" page.
func (w *Web) finishLogout(rw http.ResponseWriter, r *http.Request, t *logoutTarget, lang string, hadSession bool) {
	if t.uri != "" {
		w.redirect(rw, r, oauth.AppendParams(t.uri, url.Values{"state": {t.state}}, false))
		return
	}
	v := &View{Lang: lang, Title: "logout.done", Message: translate(lang, "logout.donetext")}
	if !hadSession {
		v.Message = translate(lang, "logout.nosession")
	}
	w.render(rw, r, http.StatusOK, "loggedout", v)
}

// endSessionEndpoint is RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0): GET /auth/v1/logout with id_token_hint,
// post_logout_redirect_uri, state, client_id, ui_locales. With a valid
// id_token_hint naming the signed-in person the session ends at once;
// otherwise the person is asked to confirm ("the OP SHOULD ask the End-User
// whether to log out"), so a link on another site cannot sign anyone out.
func (w *Web) endSessionEndpoint(rw http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lang := w.lang(r, q.Get("ui_locales"))
	clientID := q.Get("client_id")
	subject := ""
	if h := q.Get("id_token_hint"); h != "" {
		claims, err := w.cfg.Keys.VerifyID(r.Context(), h, w.issuer)
		if err != nil {
			return &PageError{Status: http.StatusBadRequest, Msg: "error.badhint", Lang: lang, Cause: err}
		}
		// §2: "If both client_id and id_token_hint are present, the OP MUST
		// verify that the Client Identifier matches the one used when
		// issuing the ID Token."
		if clientID != "" && clientID != claims.Audience {
			return &PageError{Status: http.StatusBadRequest, Msg: "error.badhint", Lang: lang}
		}
		clientID, subject = claims.Audience, claims.Subject
	}
	t, err := w.logoutRedirect(r, clientID, q.Get("post_logout_redirect_uri"), q.Get("state"))
	if err != nil {
		if pe, ok := err.(*PageError); ok {
			pe.Lang = lang
		}
		return err
	}
	sess, user, err := w.session(r)
	if err != nil {
		return err
	}
	if sess == nil || (subject != "" && subject == user.ID) {
		if sess != nil {
			w.endSession(rw, r)
			w.event(r, "logout", user.ID, clientID, "rp-initiated")
		}
		w.finishLogout(rw, r, t, lang, sess != nil)
		return nil
	}
	w.renderLogoutConfirm(rw, r, lang, user, t)
	return nil
}

func (w *Web) renderLogoutConfirm(rw http.ResponseWriter, r *http.Request, lang string, user *store.User, t *logoutTarget) {
	v := &View{Lang: lang, Title: "logout.title", User: user}
	if t != nil {
		v.ClientID, v.PostLogoutRedirectURI, v.State = t.clientID, t.uri, t.state
		if t.uri != "" {
			v.FormAction = []string{formActionSource(t.uri)}
		}
	}
	w.render(rw, r, http.StatusOK, "logout", v)
}

// logoutPage: GET /logout asks to confirm (a GET never ends a session).
func (w *Web) logoutPage(rw http.ResponseWriter, r *http.Request) error {
	lang := w.lang(r, "")
	sess, user, err := w.session(r)
	if err != nil {
		return err
	}
	if sess == nil {
		w.finishLogout(rw, r, &logoutTarget{}, lang, false)
		return nil
	}
	w.renderLogoutConfirm(rw, r, lang, user, nil)
	return nil
}

// logoutSubmit: POST /logout ends the session and deletes its row, then
// follows a post_logout_redirect_uri validated again.
func (w *Web) logoutSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	lang := w.lang(r, "")
	f := r.PostForm
	t, err := w.logoutRedirect(r, f.Get("client_id"), f.Get("post_logout_redirect_uri"), f.Get("state"))
	if err != nil {
		return err
	}
	sess, user, err := w.session(r)
	if err != nil {
		return err
	}
	if sess != nil {
		w.endSession(rw, r)
		w.event(r, "logout", user.ID, t.clientID, "")
	}
	w.finishLogout(rw, r, t, lang, sess != nil)
	return nil
}
