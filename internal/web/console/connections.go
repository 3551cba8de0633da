package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// The applications a person authorized (their live grants, one line per
// application) and the way to take that back. Revoking ends every grant of
// the person for the application — and with them every refresh token and,
// since each access token names its grant, every access token, at
// introspection, userinfo and /v1/users/me — and forgets the consent, so the
// next authorization asks again.

// connection is one authorized application.
type connection struct {
	ClientID, Name string
	Scopes         []scopeView
	First, Last    time.Time
}

type connectionsData struct{ Connections []connection }

// maxGrantPages bounds how many pages of grants the connections page reads
// (100 each): a person has one grant per sign-in of each application.
const maxGrantPages = 50

func (w *Console) mountConnections(page func(string, web.HandlerFunc)) {
	page("GET "+web.PathConnections, w.connectionsPage)
	page("GET "+web.PathConnections+"/{client}/revoke", w.connectionRevokeConfirm)
	page("POST "+web.PathConnections+"/{client}/revoke", w.connectionRevoke)
}

// connections groups the user's live grants by client, most recently used
// first.
func (w *Console) connections(r *http.Request, lang, userID string) ([]connection, error) {
	now := w.Now()
	byClient := map[string]*connection{}
	scopes := map[string][]string{}
	var order []string
	for number := 1; number <= maxGrantPages; number++ {
		gs, total, err := w.cfg.Store.ListGrants(r.Context(), userID, store.ListOptions{Page: store.Page{Number: number, Size: 100}})
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			if !g.Live(now) {
				continue
			}
			c := byClient[g.ClientID]
			if c == nil {
				name := g.ClientName
				if name == "" {
					name = g.ClientID
				}
				c = &connection{ClientID: g.ClientID, Name: name, First: g.CreatedAt, Last: g.LastUsedAt}
				byClient[g.ClientID] = c
				order = append(order, g.ClientID)
			}
			if g.CreatedAt.Before(c.First) {
				c.First = g.CreatedAt
			}
			if g.LastUsedAt.After(c.Last) {
				c.Last = g.LastUsedAt
			}
			for _, s := range g.Scopes {
				if !slices.Contains(scopes[g.ClientID], s) {
					scopes[g.ClientID] = append(scopes[g.ClientID], s)
				}
			}
		}
		if number*100 >= total || len(gs) == 0 {
			break
		}
	}
	out := make([]connection, 0, len(order))
	for _, id := range order {
		c := byClient[id]
		for _, s := range scopes[id] {
			c.Scopes = append(c.Scopes, scopeView{Name: s, Text: w.ScopeText(lang, s)})
		}
		out = append(out, *c)
	}
	slices.SortStableFunc(out, func(a, b connection) int { return b.Last.Compare(a.Last) })
	return out, nil
}

func (w *Console) connectionsPage(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, ""), Title: "conn.title", User: user, Wide: true}
	list, err := w.connections(r, v.Lang, user.ID)
	if err != nil {
		return err
	}
	if q := r.URL.Query(); q.Get("done") == "revoked" {
		v.Notice = web.T(v.Lang, "conn.revoked")
		if name, err := w.revokedName(r, user.ID, q.Get("client"), list); err != nil {
			return err
		} else if name != "" {
			v.Notice = strings.Replace(web.T(v.Lang, "conn.revoked.app"), "{app}", name, 1)
		}
	}
	v.Data = connectionsData{Connections: list}
	w.Render(rw, r, http.StatusOK, "connections", v)
	return nil
}

// revokedName is the name of the application clientID whose access the
// person just revoked, for the notice; "" unless the event log says this
// person revoked it and it is no longer connected. The id comes from the
// address, so anything else would let a link show any text, or reveal the
// names of applications the person never used.
func (w *Console) revokedName(r *http.Request, userID, clientID string, list []connection) (string, error) {
	if clientID == "" || len(clientID) > web.MaxClientID || slices.ContainsFunc(list, func(c connection) bool { return c.ClientID == clientID }) {
		return "", nil
	}
	evs, _, err := w.cfg.Store.ListEvents(r.Context(), store.ListOptions{Page: store.Page{Number: 1, Size: 1}, Filters: []store.Filter{
		{Field: "type", Op: "eq", Value: "consent.revoked"}, {Field: "user_id", Op: "eq", Value: userID}, {Field: "client_id", Op: "eq", Value: clientID},
	}})
	if err != nil || len(evs) == 0 {
		return "", err
	}
	c, err := w.cfg.Store.GetClient(r.Context(), clientID)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return c.Name, nil
}

// connectionTarget is the signed-in user (nil when sent to log in) and the
// {client} of a connection's address.
func (w *Console) connectionTarget(rw http.ResponseWriter, r *http.Request) (*store.User, string, error) {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return nil, "", err
	}
	clientID := r.PathValue("client")
	if clientID == "" || len(clientID) > web.MaxClientID {
		return nil, "", web.NotFound()
	}
	return user, clientID, nil
}

// connectionRevokeConfirm asks before revoking, naming the application and
// what revoking does; only an application the person is connected to.
func (w *Console) connectionRevokeConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, clientID, err := w.connectionTarget(rw, r)
	if err != nil || user == nil {
		return err
	}
	lang := w.Lang(r, "")
	list, err := w.connections(r, lang, user.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(c connection) bool { return c.ClientID == clientID })
	if i < 0 {
		return web.NotFound()
	}
	name := list[i].Name
	w.renderConfirm(rw, r, user, "conn.revoke", confirmData{
		Heading: web.T(lang, "conn.revoke") + ": " + name,
		Text:    strings.Replace(web.T(lang, "conn.revoke.confirm"), "{app}", name, 1),
		Button:  web.T(lang, "conn.revoke"),
		Action:  web.PathConnections + "/" + url.PathEscape(clientID) + "/revoke", // a metadata-document client_id is a URL
		Back:    web.PathConnections,
	})
	return nil
}

// connectionRevoke ends every grant of the signed-in user for {client} and
// forgets the consent. Revoking what was never granted changes nothing and
// says so the same way (the client's existence is not revealed).
func (w *Console) connectionRevoke(rw http.ResponseWriter, r *http.Request) error {
	user, clientID, err := w.connectionTarget(rw, r)
	if err != nil || user == nil {
		return err
	}
	n, err := w.cfg.Store.RevokeGrants(r.Context(), user.ID, clientID, w.Now().UTC())
	if err != nil {
		return err
	}
	if err := w.cfg.Store.DeleteConsent(r.Context(), user.ID, clientID); err != nil && !isNotFound(err) {
		return err
	}
	if n > 0 {
		w.Event(r, "consent.revoked", user.ID, clientID, strconv.Itoa(n)+" grants")
	}
	w.Redirect(rw, r, web.PathConnections+"?done=revoked&client="+url.QueryEscape(clientID))
	return nil
}
