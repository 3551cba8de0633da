package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// The operators' panel (seed 004's "panel de administración"), for users
// with Admin set (`multinexo users create --admin`). For anyone else it does
// not exist: a signed-in non-admin gets the same 404 page as another
// user's application; a browser without a session is sent to log in and
// comes back. Every action is recorded as a security event naming the
// target, with the acting admin in the detail.

func (w *Console) mountAdmin(page func(string, web.HandlerFunc)) {
	page("GET "+web.PathAdmin, w.adminUsers)
	page("GET "+web.PathAdmin+"/users/{id}", w.adminUser)
	page("GET "+web.PathAdmin+"/users/{id}/disable", w.adminUserDisableConfirm)
	page("POST "+web.PathAdmin+"/users/{id}/disable", w.adminUserDisable)
	page("POST "+web.PathAdmin+"/users/{id}/enable", w.adminUserEnable)
	page("GET "+web.PathAdmin+"/applications", w.adminClients)
	page("POST "+web.PathAdmin+"/applications", w.adminClientCreate)
	yes, no := true, false
	page("POST "+web.PathAdmin+"/applications/{id}/disable", w.adminClientChange(store.ClientUpdate{Disabled: &yes}, "client.disabled", "disabled"))
	page("POST "+web.PathAdmin+"/applications/{id}/enable", w.adminClientChange(store.ClientUpdate{Disabled: &no}, "client.enabled", "enabled"))
	page("POST "+web.PathAdmin+"/applications/{id}/first-party", w.adminClientChange(store.ClientUpdate{FirstParty: &yes}, "client.first_party", "first-party"))
	page("POST "+web.PathAdmin+"/applications/{id}/third-party", w.adminClientChange(store.ClientUpdate{FirstParty: &no}, "client.third_party", "third-party"))
	page("GET "+web.PathAdmin+"/events", w.adminEvents)
	page("GET "+web.PathAdmin+"/mail", w.adminMail)
	page("POST "+web.PathAdmin+"/users/{id}/send-reset", w.adminUserSendReset)
}

// admin returns the signed-in admin, or nil after answering (login
// redirect, or the 404 page for everyone else).
func (w *Console) admin(rw http.ResponseWriter, r *http.Request) (*store.User, error) {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return nil, err
	}
	if !user.Admin {
		return nil, web.NotFound()
	}
	return user, nil
}

// cleanSearch makes a search box's text safe to hand to any database:
// valid UTF-8, no NUL (PostgreSQL refuses both in text), bounded, trimmed.
func cleanSearch(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxSearch {
		s = strings.ToValidUTF8(s[:maxSearch], "")
	}
	return strings.TrimSpace(s)
}

// The users list searches one field at a time (the store ANDs filters).
var userSearchFields = []string{"email", "first_name", "last_name"}

type adminUsersData struct {
	Users    []*store.User
	Pager    pager
	Q, Field string
	Fields   []string
}

func (w *Console) adminUsers(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	q := r.URL.Query()
	search, field := cleanSearch(q.Get("q")), q.Get("field")
	if !slices.Contains(userSearchFields, field) {
		field = "email"
	}
	opt := store.ListOptions{Page: store.Page{Number: pageNumber(r), Size: pageSize}, Sort: "created_at"}
	if search != "" {
		opt.Filters = []store.Filter{{Field: field, Op: "contains", Value: search}}
	}
	users, total, err := w.cfg.Store.ListUsers(r.Context(), opt)
	if err != nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, ""), Title: "admin.users", User: admin, Wide: true}
	v.Data = adminUsersData{
		Users: users, Q: search, Field: field, Fields: userSearchFields,
		Pager: newPager(web.PathAdmin, q, opt.Page.Number, total),
	}
	w.Render(rw, r, http.StatusOK, "admin_users", v)
	return nil
}

type adminUserData struct {
	Target      *store.User
	Self        bool
	Connections []connection
	Events      []*store.Event
	// Passkeys are the user's passkeys; nil when passkeys are off.
	Passkeys *web.PasskeySection
}

// targetUser reads the user {id} an admin page is about.
// adminTarget is the start of every admin page about one user: the
// signed-in admin (nil, nil, nil when the answer was a redirect to the
// login) and the user the path names. Unless self is allowed, the admin
// cannot act on their own account (disabling it would lock them out).
func (w *Console) adminTarget(rw http.ResponseWriter, r *http.Request, self bool) (admin, u *store.User, err error) {
	admin, err = w.admin(rw, r)
	if err != nil || admin == nil {
		return nil, nil, err
	}
	if u, err = w.targetUser(r); err != nil {
		return nil, nil, err
	}
	if !self && u.ID == admin.ID {
		return nil, nil, web.PageErr(http.StatusBadRequest, "admin.disableself")
	}
	return admin, u, nil
}

func (w *Console) targetUser(r *http.Request) (*store.User, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		return nil, web.NotFound()
	}
	u, err := w.cfg.Store.GetUser(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			return nil, web.NotFound()
		}
		return nil, err
	}
	return u, nil
}

func (w *Console) adminUser(rw http.ResponseWriter, r *http.Request) error {
	admin, u, err := w.adminTarget(rw, r, true)
	if err != nil || admin == nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, ""), Title: "admin.user", User: admin, Wide: true}
	conns, err := w.connections(r, v.Lang, u.ID)
	if err != nil {
		return err
	}
	events, _, err := w.cfg.Store.ListEvents(r.Context(), store.ListOptions{
		Page: store.Page{Number: 1, Size: 10}, Sort: "-time",
		Filters: []store.Filter{{Field: "user_id", Op: "eq", Value: u.ID}},
	})
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("done") {
	case "disabled":
		v.Notice = web.T(v.Lang, "admin.user.disabled")
	case "enabled":
		v.Notice = web.T(v.Lang, "admin.user.enabled")
	case "reset":
		v.Notice = web.T(v.Lang, "admin.user.resetsent")
	}
	v.Data = adminUserData{Target: u, Self: u.ID == admin.ID, Connections: conns, Events: events,
		Passkeys: w.passkeySection(r, v.Lang, u)}
	w.Render(rw, r, http.StatusOK, "admin_user", v)
	return nil
}

func (w *Console) adminUserDisableConfirm(rw http.ResponseWriter, r *http.Request) error {
	admin, u, err := w.adminTarget(rw, r, false)
	if err != nil || admin == nil {
		return err
	}
	lang := w.Lang(r, "")
	w.renderConfirm(rw, r, admin, "admin.disable", confirmData{
		Heading: web.T(lang, "admin.disable") + ": " + u.Email,
		Text:    web.T(lang, "admin.disable.confirm"),
		Button:  web.T(lang, "admin.disable"),
		Action:  web.PathAdmin + "/users/" + u.ID + "/disable",
		Back:    web.PathAdmin + "/users/" + u.ID,
	})
	return nil
}

// adminUserDisable disables the account; the store revokes every grant
// and session of it in the same transaction, so its tokens fail at once.
// An admin cannot disable themself (the panel would lock them out).
func (w *Console) adminUserDisable(rw http.ResponseWriter, r *http.Request) error {
	admin, u, err := w.adminTarget(rw, r, false)
	if err != nil || admin == nil {
		return err
	}
	if err := w.cfg.Store.DisableUser(r.Context(), u.ID, w.Now().UTC()); err != nil {
		if isNotFound(err) {
			return web.NotFound()
		}
		return err
	}
	w.Event(r, "user.disabled", u.ID, "", "by admin "+admin.ID)
	w.Redirect(rw, r, web.PathAdmin+"/users/"+u.ID+"?done=disabled")
	return nil
}

// adminUserEnable lets a disabled account log in again. What disabling
// revoked stays revoked.
func (w *Console) adminUserEnable(rw http.ResponseWriter, r *http.Request) error {
	admin, u, err := w.adminTarget(rw, r, true)
	if err != nil || admin == nil {
		return err
	}
	off := false
	if _, err := w.cfg.Store.UpdateUser(r.Context(), u.ID, store.UserUpdate{Disabled: &off}, w.Now().UTC()); err != nil {
		if isNotFound(err) {
			return web.NotFound()
		}
		return err
	}
	w.Event(r, "user.enabled", u.ID, "", "by admin "+admin.ID)
	w.Redirect(rw, r, web.PathAdmin+"/users/"+u.ID+"?done=enabled")
	return nil
}

// adminClient is a row of the applications list.
type adminClient struct {
	*store.Client
	Owner string // the owner's email; "" for operator-created
}

type adminClientForm struct {
	Name, Type, Redirects, PostLogout, IDAlg string
	Grants, Scopes                           []string
	FirstParty                               bool
}

type adminClientsData struct {
	Clients []adminClient
	Pager   pager
	Q       string
	Form    adminClientForm
	Open    bool
	Grants  []string
	Scopes  []string
}

func (w *Console) renderAdminClients(rw http.ResponseWriter, r *http.Request, status int, admin *store.User, v *web.View, form *adminClientForm) error {
	q := r.URL.Query()
	search := cleanSearch(q.Get("q"))
	opt := store.ListOptions{Page: store.Page{Number: pageNumber(r), Size: pageSize}, Sort: "created_at"}
	if search != "" {
		opt.Filters = []store.Filter{{Field: "name", Op: "contains", Value: search}}
	}
	list, total, err := w.cfg.Store.ListClients(r.Context(), "", opt)
	if err != nil {
		return err
	}
	owners := map[string]string{}
	rows := make([]adminClient, 0, len(list))
	for _, c := range list {
		row := adminClient{Client: c}
		if c.OwnerID != "" {
			email, ok := owners[c.OwnerID]
			if !ok {
				if u, err := w.cfg.Store.GetUser(r.Context(), c.OwnerID); err == nil {
					email = u.Email
				} else if !isNotFound(err) {
					return err
				}
				owners[c.OwnerID] = email
			}
			row.Owner = email
		}
		rows = append(rows, row)
	}
	d := adminClientsData{
		Clients: rows, Q: search, Pager: newPager(web.PathAdmin+"/applications", q, opt.Page.Number, total),
		Grants: clients.KnownGrants, Scopes: w.knownScopes(),
	}
	if form != nil {
		d.Form, d.Open = *form, true
	} else {
		// Every scope ticked but account, which only a first-party
		// application may have.
		d.Form = adminClientForm{Type: store.ClientConfidential, Grants: clients.DeveloperGrants,
			Scopes: slices.DeleteFunc(slices.Clone(d.Scopes), func(s string) bool { return s == oauth.ScopeAccount })}
	}
	if v.Notice == "" {
		switch q.Get("done") {
		case "disabled":
			v.Notice = web.T(v.Lang, "admin.client.disabled")
		case "enabled":
			v.Notice = web.T(v.Lang, "admin.client.enabled")
		case "first-party":
			v.Notice = web.T(v.Lang, "admin.client.firstparty")
		case "third-party":
			v.Notice = web.T(v.Lang, "admin.client.thirdparty")
		}
	}
	v.Title, v.User, v.Wide, v.Data = "admin.clients", admin, true, d
	w.Render(rw, r, status, "admin_clients", v)
	return nil
}

func (w *Console) adminClients(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	return w.renderAdminClients(rw, r, http.StatusOK, admin, &web.View{Lang: w.Lang(r, "")}, nil)
}

// adminClientCreate registers an application with any grant, including
// seed 004's "Resource owner password-based" (password) and
// client_credentials; the operator owns it (no owner).
func (w *Console) adminClientCreate(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	form := adminClientForm{
		Name: f.Get("name"), Type: f.Get("type"), Redirects: f.Get("redirect_uris"), PostLogout: f.Get("post_logout_redirect_uris"),
		Grants: f["grant"], Scopes: f["scope"], IDAlg: f.Get("id_token_alg"), FirstParty: f.Get("first_party") == "on",
	}
	v := &web.View{Lang: w.Lang(r, "")}
	if len(form.Grants) == 0 {
		// clients.Create would give an empty list the developer default;
		// here an operator ticks what they mean.
		v.Error = web.T(v.Lang, "admin.client.nogrant")
		return w.renderAdminClients(rw, r, http.StatusUnprocessableEntity, admin, v, &form)
	}
	if len(form.Scopes) == 0 {
		v.Error = web.T(v.Lang, "admin.client.noscope")
		return w.renderAdminClients(rw, r, http.StatusUnprocessableEntity, admin, v, &form)
	}
	c, secret, err := clients.Create(r.Context(), w.cfg.Store, clients.CreateInput{
		Name:                   form.Name,
		Type:                   form.Type,
		Grants:                 form.Grants,
		RedirectURIs:           clients.SplitRedirectURIs(form.Redirects),
		PostLogoutRedirectURIs: clients.SplitRedirectURIs(form.PostLogout),
		Scopes:                 form.Scopes,
		KnownScopes:            w.knownScopes(),
		IDTokenAlg:             form.IDAlg,
		FirstParty:             form.FirstParty,
		Origin:                 store.OriginAdmin,
	}, w.Now().UTC())
	if err != nil {
		if !inputError(v, err) {
			return err
		}
		return w.renderAdminClients(rw, r, http.StatusUnprocessableEntity, admin, v, &form)
	}
	w.Event(r, "client.created", admin.ID, c.ID, "admin: "+strings.Join(c.Grants, " "))
	w.renderSecret(rw, r, admin, secretData{
		Name: c.Name, ClientID: c.ID, Secret: secret, Public: c.Type == store.ClientPublic, Back: web.PathAdmin + "/applications",
	})
	return nil
}

// adminClientChange applies one operator change to an application and
// records it as event typ; the list then says done. The changes:
//   - disable/enable: a disabled application cannot authenticate at the
//     token endpoint nor start an authorization, so its refresh tokens stop
//     working at once;
//   - first-party/third-party: marks an application as the operator's own
//     (it may then be granted the scope account) or unmarks it: its tokens
//     that carry account are refused by the API at once, and its next
//     refresh drops it.
func (w *Console) adminClientChange(upd store.ClientUpdate, typ, done string) web.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) error {
		admin, err := w.admin(rw, r)
		if err != nil || admin == nil {
			return err
		}
		id := r.PathValue("id")
		if id == "" || len(id) > web.MaxClientID {
			return web.NotFound()
		}
		if _, err := w.cfg.Store.UpdateClient(r.Context(), id, upd, w.Now().UTC()); err != nil {
			if isNotFound(err) {
				return web.NotFound()
			}
			return err
		}
		w.Event(r, typ, admin.ID, id, "admin")
		w.Redirect(rw, r, web.PathAdmin+"/applications?done="+done)
		return nil
	}
}

// eventTypes are offered in the events filter; any other type can be typed.
var eventTypes = []string{
	"login.failed", "login.succeeded", "login.throttled", "logout",
	"refresh.reused", "consent.given", "consent.denied", "consent.revoked", "device.approved", "device.denied",
	"client.created", "client.updated", "client.secret_rotated", "client.deleted", "client.disabled", "client.enabled",
	"user.disabled", "user.enabled",
	"login.second_factor", "mfa.enabled", "mfa.disabled", "mfa.recovery_used", "mfa.recovery_regenerated", "mfa.change_failed",
	"login.refused", "email.verification_sent", "email.verified", "email.verification_failed", "email.verification_throttled",
	"password_reset.requested", "password_reset.throttled", "password_reset.failed", "password.reset",
	"email.change_requested", "email.changed", "email.change_failed",
}

// eventRow is an event with the names behind its ids.
type eventRow struct {
	*store.Event
	UserEmail, ClientName string
}

type adminEventsData struct {
	Events     []eventRow
	Pager      pager
	Type, User string
	Types      []string
}

func (w *Console) adminEvents(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	q := r.URL.Query()
	typ, userID := cleanSearch(q.Get("type")), cleanSearch(q.Get("user"))
	opt := store.ListOptions{Page: store.Page{Number: pageNumber(r), Size: pageSize}, Sort: "-time"}
	if typ != "" {
		// Part of a type, any case, as the JSON:API filters' contains:
		// "refresh" finds refresh.reused, "login" the whole login family.
		opt.Filters = append(opt.Filters, store.Filter{Field: "type", Op: "contains", Value: typ})
	}
	if userID != "" {
		opt.Filters = append(opt.Filters, store.Filter{Field: "user_id", Op: "eq", Value: userID})
	}
	events, total, err := w.cfg.Store.ListEvents(r.Context(), opt)
	if err != nil {
		return err
	}
	ctx := r.Context()
	emails, names := map[string]string{}, map[string]string{}
	rows := make([]eventRow, 0, len(events))
	for _, e := range events {
		row := eventRow{Event: e}
		if e.UserID != "" {
			if _, ok := emails[e.UserID]; !ok {
				emails[e.UserID] = ""
				if u, err := w.cfg.Store.GetUser(ctx, e.UserID); err == nil {
					emails[e.UserID] = u.Email
				} else if !isNotFound(err) {
					return err
				}
			}
			row.UserEmail = emails[e.UserID]
		}
		if e.ClientID != "" {
			if _, ok := names[e.ClientID]; !ok {
				names[e.ClientID] = ""
				if c, err := w.cfg.Store.GetClient(ctx, e.ClientID); err == nil {
					names[e.ClientID] = c.Name
				} else if !isNotFound(err) {
					return err
				}
			}
			row.ClientName = names[e.ClientID]
		}
		rows = append(rows, row)
	}
	v := &web.View{Lang: w.Lang(r, ""), Title: "admin.events", User: admin, Wide: true}
	v.Data = adminEventsData{
		Events: rows, Type: typ, User: userID, Types: eventTypes,
		Pager: newPager(web.PathAdmin+"/events", q, opt.Page.Number, total),
	}
	w.Render(rw, r, http.StatusOK, "admin_events", v)
	return nil
}
