package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// /admin/resources: the protected resources (RFC 8707) — the APIs and MCP
// servers clients may ask tokens for — listed, registered and deleted by
// an operator, as `multinexo resources` does.

// PathAdminResources is the resources page.
const PathAdminResources = web.PathAdmin + "/resources"

type adminResourcesData struct {
	Resources []*store.Resource
	Form      resourceForm
}

type resourceForm struct{ URI, Name, Scopes string }

func (w *Console) mountResources(page func(string, web.HandlerFunc)) {
	page("GET "+PathAdminResources, w.adminResources)
	page("POST "+PathAdminResources, w.adminResourceCreate)
	page("GET "+PathAdminResources+"/delete", w.adminResourceDeleteConfirm)
	page("POST "+PathAdminResources+"/delete", w.adminResourceDelete)
}

func (w *Console) adminResources(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, "")}
	switch r.URL.Query().Get("done") {
	case "created":
		v.Notice = web.T(v.Lang, "admin.resource.created")
	case "deleted":
		v.Notice = web.T(v.Lang, "admin.resource.deleted")
	}
	return w.renderResources(rw, r, http.StatusOK, admin, v, resourceForm{})
}

func (w *Console) renderResources(rw http.ResponseWriter, r *http.Request, status int, admin *store.User, v *web.View, form resourceForm) error {
	list, err := w.cfg.Store.ListResources(r.Context())
	if err != nil {
		return err
	}
	v.Title, v.User, v.Wide, v.Data = "admin.resources", admin, true, adminResourcesData{Resources: list, Form: form}
	w.Render(rw, r, status, "admin_resources", v)
	return nil
}

// adminResourceCreate registers a resource: an absolute URI without
// fragment, a name for the consent page, and the scopes it defines.
func (w *Console) adminResourceCreate(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	form := resourceForm{URI: strings.TrimSpace(f.Get("uri")), Name: strings.TrimSpace(f.Get("name")), Scopes: f.Get("scopes")}
	v := &web.View{Lang: w.Lang(r, "")}
	scopes, e := oauth.ParseScope(form.Scopes)
	switch {
	case !oauth.ValidResource(form.URI):
		v.Error = web.T(v.Lang, "admin.resource.baduri")
	case form.Name == "" || len(form.Name) > 200:
		v.Error = web.T(v.Lang, "admin.resource.badname")
	case e != nil || slices.Contains(scopes, oauth.ScopeAccount):
		v.Error = web.T(v.Lang, "admin.resource.badscopes")
	}
	if v.Error != "" {
		return w.renderResources(rw, r, http.StatusUnprocessableEntity, admin, v, form)
	}
	res := &store.Resource{URI: form.URI, Name: form.Name, Scopes: scopes, CreatedAt: w.Now().UTC()}
	if err := w.cfg.Store.CreateResource(r.Context(), res); err != nil {
		if errors.Is(err, store.ErrConflict) {
			v.Error = web.T(v.Lang, "admin.resource.taken")
			return w.renderResources(rw, r, http.StatusUnprocessableEntity, admin, v, form)
		}
		return err
	}
	w.Event(r, "resource.created", admin.ID, "", form.URI)
	w.Redirect(rw, r, PathAdminResources+"?done=created")
	return nil
}

// adminResourceDeleteConfirm asks before deleting (the URI travels in the
// query: it has slashes of its own).
func (w *Console) adminResourceDeleteConfirm(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	res, err := w.cfg.Store.GetResource(r.Context(), r.URL.Query().Get("uri"))
	if err != nil {
		if isNotFound(err) {
			return web.NotFound()
		}
		return err
	}
	lang := w.Lang(r, "")
	w.renderConfirm(rw, r, admin, "admin.resource.delete", confirmData{
		Heading: web.T(lang, "admin.resource.delete") + ": " + res.Name,
		Text:    web.T(lang, "admin.resource.delete.confirm"),
		Button:  web.T(lang, "admin.resource.delete"),
		Action:  PathAdminResources + "/delete?" + url.Values{"uri": {res.URI}}.Encode(),
		Back:    PathAdminResources,
	})
	return nil
}

func (w *Console) adminResourceDelete(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	uri := r.URL.Query().Get("uri")
	if err := w.cfg.Store.DeleteResource(r.Context(), uri); err != nil {
		if isNotFound(err) {
			return web.NotFound()
		}
		return err
	}
	w.Event(r, "resource.deleted", admin.ID, "", uri)
	w.Redirect(rw, r, PathAdminResources+"?done=deleted")
	return nil
}
