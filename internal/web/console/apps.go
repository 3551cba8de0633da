package console

import (
	"net/http"
	"strings"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
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

func (w *Console) mountApplications(page func(string, web.HandlerFunc)) {
	page("GET "+web.PathApplications, w.applicationsPage)
	page("POST "+web.PathApplications, w.applicationCreate)
	page("GET "+web.PathApplications+"/{id}", w.applicationPage)
	page("POST "+web.PathApplications+"/{id}", w.applicationUpdate)
	page("GET "+web.PathApplications+"/{id}/rotate", w.applicationRotateConfirm)
	page("POST "+web.PathApplications+"/{id}/rotate", w.applicationRotate)
	page("GET "+web.PathApplications+"/{id}/delete", w.applicationDeleteConfirm)
	page("POST "+web.PathApplications+"/{id}/delete", w.applicationDelete)
}

func (w *Console) renderApplications(rw http.ResponseWriter, r *http.Request, status int, user *store.User, v *web.View, form appForm, open bool) error {
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
	v.Data = applicationsData{Apps: apps, Pager: newPager(web.PathApplications, r.URL.Query(), number, total), Form: form, Open: open}
	w.Render(rw, r, status, "applications", v)
	return nil
}

func (w *Console) applicationsPage(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, "")}
	switch r.URL.Query().Get("done") {
	case "deleted":
		v.Notice = web.T(v.Lang, "apps.deleted")
	}
	return w.renderApplications(rw, r, http.StatusOK, user, v, appForm{}, false)
}

func (w *Console) applicationCreate(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
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
	}, w.Now().UTC())
	if err != nil {
		v := &web.View{Lang: w.Lang(r, "")}
		if !inputError(v, err) {
			return err
		}
		return w.renderApplications(rw, r, http.StatusUnprocessableEntity, user, v, form, true)
	}
	w.Event(r, "client.created", user.ID, c.ID, c.Type)
	w.renderSecret(rw, r, user, secretData{
		Name: c.Name, ClientID: c.ID, Secret: secret, Public: c.Type == store.ClientPublic,
		Back: web.PathApplications + "/" + c.ID,
	})
	return nil
}

// ownApplication returns the signed-in user's application {id}; anyone
// else's, or one that does not exist, is the same 404.
func (w *Console) ownApplication(rw http.ResponseWriter, r *http.Request) (*store.User, *store.Client, error) {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return nil, nil, err
	}
	id := r.PathValue("id")
	if id == "" || len(id) > web.MaxClientID {
		return nil, nil, web.NotFound()
	}
	c, err := w.cfg.Store.GetClient(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, web.NotFound()
		}
		return nil, nil, err
	}
	if c.OwnerID == "" || c.OwnerID != user.ID {
		return nil, nil, web.NotFound()
	}
	return user, c, nil
}

func (w *Console) renderApplication(rw http.ResponseWriter, r *http.Request, status int, user *store.User, c *store.Client, v *web.View, form *appForm) {
	if form == nil {
		form = &appForm{Name: c.Name, Redirects: strings.Join(c.RedirectURIs, "\n"), IDAlg: c.IDTokenAlg}
	}
	v.Title, v.User, v.Wide = "apps.edit", user, true
	v.Data = applicationData{App: c, Form: *form, Endpoints: w.endpoints()}
	w.Render(rw, r, status, "application", v)
}

func (w *Console) applicationPage(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, "")}
	if r.URL.Query().Get("done") == "saved" {
		v.Notice = web.T(v.Lang, "apps.saved")
	}
	w.renderApplication(rw, r, http.StatusOK, user, c, v, nil)
	return nil
}

func (w *Console) applicationUpdate(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	form := appForm{Name: r.PostForm.Get("name"), Redirects: r.PostForm.Get("redirect_uris"), IDAlg: r.PostForm.Get("id_token_alg")}
	redirects := clients.SplitRedirectURIs(form.Redirects)
	if _, err := clients.Update(r.Context(), w.cfg.Store, c, clients.UpdateInput{Name: &form.Name, RedirectURIs: &redirects, IDTokenAlg: &form.IDAlg}, w.Now().UTC()); err != nil {
		v := &web.View{Lang: w.Lang(r, "")}
		if !inputError(v, err) {
			if isNotFound(err) {
				return web.NotFound()
			}
			return err
		}
		w.renderApplication(rw, r, http.StatusUnprocessableEntity, user, c, v, &form)
		return nil
	}
	w.Event(r, "client.updated", user.ID, c.ID, "")
	w.Redirect(rw, r, web.PathApplications+"/"+c.ID+"?done=saved")
	return nil
}

func (w *Console) applicationRotateConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if c.Type != store.ClientConfidential {
		return web.PageErr(http.StatusBadRequest, "apps.nosecret")
	}
	lang := w.Lang(r, "")
	w.renderConfirm(rw, r, user, "apps.rotate", confirmData{
		Heading: web.T(lang, "apps.rotate") + ": " + c.Name,
		Text:    web.T(lang, "apps.rotate.confirm"),
		Button:  web.T(lang, "apps.rotate"),
		Action:  web.PathApplications + "/" + c.ID + "/rotate",
		Back:    web.PathApplications + "/" + c.ID,
	})
	return nil
}

func (w *Console) applicationRotate(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if c.Type != store.ClientConfidential {
		return web.PageErr(http.StatusBadRequest, "apps.nosecret")
	}
	secret, err := clients.RotateSecret(r.Context(), w.cfg.Store, c, w.Now().UTC())
	if err != nil {
		if isNotFound(err) {
			return web.NotFound()
		}
		return err
	}
	w.Event(r, "client.secret_rotated", user.ID, c.ID, "")
	w.renderSecret(rw, r, user, secretData{
		Name: c.Name, ClientID: c.ID, Secret: secret, Rotated: true, Back: web.PathApplications + "/" + c.ID,
	})
	return nil
}

func (w *Console) applicationDeleteConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	lang := w.Lang(r, "")
	w.renderConfirm(rw, r, user, "apps.delete", confirmData{
		Heading: web.T(lang, "apps.delete") + ": " + c.Name,
		Text:    web.T(lang, "apps.delete.confirm"),
		Button:  web.T(lang, "apps.delete"),
		Action:  web.PathApplications + "/" + c.ID + "/delete",
		Back:    web.PathApplications + "/" + c.ID,
	})
	return nil
}

// applicationDelete deletes the application and, in the same store
// operation, every grant, refresh token, code and consent it holds; its
// access tokens name a grant that no longer exists, so they fail at once.
func (w *Console) applicationDelete(rw http.ResponseWriter, r *http.Request) error {
	user, c, err := w.ownApplication(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := w.cfg.Store.DeleteClient(r.Context(), c.ID); err != nil {
		if isNotFound(err) {
			return web.NotFound()
		}
		return err
	}
	w.Event(r, "client.deleted", user.ID, c.ID, c.Name)
	w.Redirect(rw, r, web.PathApplications+"?done=deleted")
	return nil
}
