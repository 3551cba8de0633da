package web

import (
	"net/http"
	"strings"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/store"
)

// "Mis Aplicaciones" (seeds 002 and 003): a developer registers their own
// applications. They get authorization_code and refresh_token only
// (clients.DeveloperGrants); the password and client_credentials grants are
// the operators' to give, in the admin panel. Only the owner sees or
// changes an application: for anyone else it does not exist (404).

type appForm struct{ Name, Redirects, Type, IDAlg string }

type applicationsData struct {
	Apps  []*store.Client
	Pager pager
	Form  appForm
	Open  bool // the "Agregar" form starts open (it had errors)
}

type applicationData struct {
	App       *store.Client
	Form      appForm
	Endpoints endpoints
}

func (w *Web) mountApplications(mux *http.ServeMux, page func(handlerFunc) http.Handler) {
	mux.Handle("GET "+PathApplications, page(w.applicationsPage))
	mux.Handle("POST "+PathApplications, page(w.applicationCreate))
	mux.Handle("GET "+PathApplications+"/{id}", page(w.applicationPage))
	mux.Handle("POST "+PathApplications+"/{id}", page(w.applicationUpdate))
	mux.Handle("GET "+PathApplications+"/{id}/rotate", page(w.applicationRotateConfirm))
	mux.Handle("POST "+PathApplications+"/{id}/rotate", page(w.applicationRotate))
	mux.Handle("GET "+PathApplications+"/{id}/delete", page(w.applicationDeleteConfirm))
	mux.Handle("POST "+PathApplications+"/{id}/delete", page(w.applicationDelete))
}

func (w *Web) renderApplications(rw http.ResponseWriter, r *http.Request, status int, user *store.User, v *view, form appForm, open bool) error {
	number := pageNumber(r)
	apps, total, err := w.cfg.Store.ListClients(r.Context(), user.ID, store.ListOptions{
		Page: store.Page{Number: number, Size: pageSize}, Sort: "created_at",
	})
	if err != nil {
		return err
	}
	if form.Type == "" {
		form.Type = store.ClientConfidential
	}
	v.Title, v.User, v.Wide = "apps.title", user, true
	v.Data = applicationsData{Apps: apps, Pager: newPager(PathApplications, r.URL.Query(), number, total), Form: form, Open: open}
	w.render(rw, r, status, "applications", v)
	return nil
}

func (w *Web) applicationsPage(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := &view{Lang: w.lang(r, "")}
	switch r.URL.Query().Get("done") {
	case "deleted":
		v.Notice = translate(v.Lang, "apps.deleted")
	}
	return w.renderApplications(rw, r, http.StatusOK, user, v, appForm{}, false)
}

func (w *Web) applicationCreate(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	form := appForm{Name: f.Get("name"), Redirects: f.Get("redirect_uris"), Type: f.Get("type"), IDAlg: f.Get("id_token_alg")}
	c, secret, err := clients.Create(r.Context(), w.cfg.Store, clients.CreateInput{
		Name:         form.Name,
		Type:         form.Type,
		Grants:       clients.DeveloperGrants,
		RedirectURIs: clients.SplitRedirectURIs(form.Redirects),
		OwnerID:      user.ID,
		KnownScopes:  w.knownScopes(),
		IDTokenAlg:   form.IDAlg,
		SelfService:  true,
		Origin:       store.OriginDeveloper,
	}, w.now().UTC())
	if err != nil {
		v := &view{Lang: w.lang(r, "")}
		if !inputError(v, err) {
			return err
		}
		return w.renderApplications(rw, r, http.StatusUnprocessableEntity, user, v, form, true)
	}
	w.event(r, "client.created", user.ID, c.ID, c.Type)
	w.renderSecret(rw, r, user, secretData{
		Name: c.Name, ClientID: c.ID, Secret: secret, Public: c.Type == store.ClientPublic,
		Back: PathApplications + "/" + c.ID,
	})
	return nil
}

// ownApplication returns the signed-in user's application {id}; anyone
// else's, or one that does not exist, is the same 404.
func (w *Web) ownApplication(rw http.ResponseWriter, r *http.Request) (*store.User, *store.Client, error) {
	_, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return nil, nil, err
	}
	id := r.PathValue("id")
	if id == "" || len(id) > maxClientID {
		return nil, nil, notFound()
	}
	c, err := w.cfg.Store.GetClient(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, notFound()
		}
		return nil, nil, err
	}
	if c.OwnerID == "" || c.OwnerID != user.ID {
		return nil, nil, notFound()
	}
	return user, c, nil
}

func (w *Web) renderApplication(rw http.ResponseWriter, r *http.Request, status int, user *store.User, c *store.Client, v *view, form *appForm) {
	if form == nil {
		form = &appForm{Name: c.Name, Redirects: strings.Join(c.RedirectURIs, "\n"), IDAlg: c.IDTokenAlg}
	}
	v.Title, v.User, v.Wide = "apps.edit", user, true
	v.Data = applicationData{App: c, Form: *form, Endpoints: w.endpoints()}
	w.render(rw, r, status, "application", v)
}

func (w *Web) applicationPage(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := &view{Lang: w.lang(r, "")}
	if r.URL.Query().Get("done") == "saved" {
		v.Notice = translate(v.Lang, "apps.saved")
	}
	w.renderApplication(rw, r, http.StatusOK, user, c, v, nil)
	return nil
}

func (w *Web) applicationUpdate(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	form := appForm{Name: r.PostForm.Get("name"), Redirects: r.PostForm.Get("redirect_uris"), IDAlg: r.PostForm.Get("id_token_alg")}
	redirects := clients.SplitRedirectURIs(form.Redirects)
	if _, err := clients.Update(r.Context(), w.cfg.Store, c, clients.UpdateInput{Name: &form.Name, RedirectURIs: &redirects, IDTokenAlg: &form.IDAlg}, w.now().UTC()); err != nil {
		v := &view{Lang: w.lang(r, "")}
		if !inputError(v, err) {
			if isNotFound(err) {
				return notFound()
			}
			return err
		}
		w.renderApplication(rw, r, http.StatusUnprocessableEntity, user, c, v, &form)
		return nil
	}
	w.event(r, "client.updated", user.ID, c.ID, "")
	w.redirect(rw, r, PathApplications+"/"+c.ID+"?done=saved")
	return nil
}

func (w *Web) applicationRotateConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if c.Type != store.ClientConfidential {
		return pageErr(http.StatusBadRequest, "apps.nosecret")
	}
	lang := w.lang(r, "")
	w.renderConfirm(rw, r, user, "apps.rotate", confirmData{
		Heading: translate(lang, "apps.rotate") + ": " + c.Name,
		Text:    translate(lang, "apps.rotate.confirm"),
		Button:  translate(lang, "apps.rotate"),
		Action:  PathApplications + "/" + c.ID + "/rotate",
		Back:    PathApplications + "/" + c.ID,
	})
	return nil
}

func (w *Web) applicationRotate(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if c.Type != store.ClientConfidential {
		return pageErr(http.StatusBadRequest, "apps.nosecret")
	}
	secret, err := clients.RotateSecret(r.Context(), w.cfg.Store, c, w.now().UTC())
	if err != nil {
		if isNotFound(err) {
			return notFound()
		}
		return err
	}
	w.event(r, "client.secret_rotated", user.ID, c.ID, "")
	w.renderSecret(rw, r, user, secretData{
		Name: c.Name, ClientID: c.ID, Secret: secret, Rotated: true, Back: PathApplications + "/" + c.ID,
	})
	return nil
}

func (w *Web) applicationDeleteConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	lang := w.lang(r, "")
	w.renderConfirm(rw, r, user, "apps.delete", confirmData{
		Heading: translate(lang, "apps.delete") + ": " + c.Name,
		Text:    translate(lang, "apps.delete.confirm"),
		Button:  translate(lang, "apps.delete"),
		Action:  PathApplications + "/" + c.ID + "/delete",
		Back:    PathApplications + "/" + c.ID,
	})
	return nil
}

// applicationDelete deletes the application and, in the same store
// operation, every grant, refresh token, code and consent it holds; its
// access tokens name a grant that no longer exists, so they fail at once.
func (w *Web) applicationDelete(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := w.cfg.Store.DeleteClient(r.Context(), c.ID); err != nil {
		if isNotFound(err) {
			return notFound()
		}
		return err
	}
	w.event(r, "client.deleted", user.ID, c.ID, c.Name)
	w.redirect(rw, r, PathApplications+"?done=deleted")
	return nil
}
