package web

import (
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// The page kit. Package web is the kit every page is built with — the
// templates and their defences (render), the session, the one error adapter
// (Handle: a handler returns an error, fail writes it as a page or an
// authorization-error redirect), translations and security events — and the
// sign-in pages built on it. The consoles (package console: /account,
// "Mis Aplicaciones", connections, /admin) use the exported part below and
// nothing else.

// Handle adapts a page handler: the edge check of every parameter, then the
// handler; any error it returns becomes the error page.
func (w *Web) Handle(h HandlerFunc) http.Handler { return w.handle(h) }

// Render writes page name with v (see render).
func (w *Web) Render(rw http.ResponseWriter, r *http.Request, status int, name string, v *View) {
	w.render(rw, r, status, name, v)
}

// Redirect sends the browser on: 302 after a GET, 303 after a POST.
func (w *Web) Redirect(rw http.ResponseWriter, r *http.Request, to string) { w.redirect(rw, r, to) }

// Lang is the language of the page for r (uiLocales first, then the
// browser's Accept-Language; Spanish by default).
func (w *Web) Lang(r *http.Request, uiLocales string) string { return w.lang(r, uiLocales) }

// SignedIn returns the session's user, or redirects to the login page and
// returns nil, nil, nil.
func (w *Web) SignedIn(rw http.ResponseWriter, r *http.Request) (*store.Session, *store.User, error) {
	return w.signedIn(rw, r)
}

// StartSession starts a new session for u (new id and secret).
func (w *Web) StartSession(rw http.ResponseWriter, r *http.Request, u *store.User) (*store.Session, error) {
	return w.startSession(rw, r, u)
}

// Event records a security event; a failure is logged, never fatal.
func (w *Web) Event(r *http.Request, typ, userID, clientID, detail string) {
	w.event(r, typ, userID, clientID, detail)
}

// Now is the pages' clock.
func (w *Web) Now() time.Time { return w.now() }

// Issuer is the issuer identifier.
func (w *Web) Issuer() string { return w.issuer }

// ScopeText describes scope s in lang, as the consent page does.
func (w *Web) ScopeText(lang, s string) string { return w.scopeText(lang, s) }

// Scopes lists the scopes the pages have texts for (built-in and the
// operator's), unordered.
func (w *Web) Scopes() []string {
	out := make([]string, 0, len(w.scopes))
	for s := range w.scopes {
		out = append(out, s)
	}
	return out
}

// AccountErrors puts the account service's refusals on v (see
// accountErrors).
func (w *Web) AccountErrors(rw http.ResponseWriter, v *View, err error) (status int, handled bool) {
	return w.accountErrors(rw, v, err)
}

// AddPages parses the named templates of fsys (templates/NAME.html) with
// the base layout and the template functions, so that Render can show
// them. Call it before serving.
func (w *Web) AddPages(fsys fs.FS, names ...string) error {
	for _, name := range names {
		t, err := template.New(name).Funcs(w.funcs).ParseFS(templateFS, "templates/base.html")
		if err == nil {
			t, err = t.ParseFS(fsys, "templates/"+name+".html")
		}
		if err != nil {
			return err
		}
		w.pages[name] = t
	}
	return nil
}

// T translates message key into lang.
func T(lang, key string) string { return translate(lang, key) }

// NotFound is the one answer for anything the person may not see: another
// user's application, the admin panel for a non-admin. It says nothing
// about whether the thing exists.
func NotFound() error { return PageErr(http.StatusNotFound, "error.notfound") }

// BadForm is a form that cannot be parsed.
func BadForm(err error) error {
	return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
}

// formatDate shows a time in the page's language, in UTC; "—" for none.
func formatDate(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if lang == "en" {
		return t.Format("2006-01-02 15:04") + " UTC"
	}
	return t.Format("02/01/2006 15:04") + " UTC"
}
