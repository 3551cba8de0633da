package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/multinexo/auth/internal/store"
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

func (w *Web) mountConnections(mux *http.ServeMux, page func(handlerFunc) http.Handler) {
	mux.Handle("GET "+PathConnections, page(w.connectionsPage))
	mux.Handle("POST "+PathConnections+"/{client}/revoke", page(w.connectionRevoke))
}

// connections groups the user's live grants by client, most recently used
// first.
func (w *Web) connections(r *http.Request, lang, userID string) ([]connection, error) {
	now := w.now()
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
			c.Scopes = append(c.Scopes, scopeView{Name: s, Text: w.scopeText(lang, s)})
		}
		out = append(out, *c)
	}
	slices.SortStableFunc(out, func(a, b connection) int { return b.Last.Compare(a.Last) })
	return out, nil
}

func (w *Web) connectionsPage(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := &view{Lang: w.lang(r, ""), Title: "conn.title", User: user, Wide: true}
	list, err := w.connections(r, v.Lang, user.ID)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("done") == "revoked" {
		v.Notice = translate(v.Lang, "conn.revoked")
	}
	v.Data = connectionsData{Connections: list}
	w.render(rw, r, http.StatusOK, "connections", v)
	return nil
}

// connectionRevoke ends every grant of the signed-in user for {client} and
// forgets the consent. Revoking what was never granted changes nothing and
// says so the same way (the client's existence is not revealed).
func (w *Web) connectionRevoke(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.signedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	clientID := r.PathValue("client")
	if clientID == "" || len(clientID) > maxClientID {
		return notFound()
	}
	n, err := w.cfg.Store.RevokeGrants(r.Context(), user.ID, clientID, w.now().UTC())
	if err != nil {
		return err
	}
	if err := w.cfg.Store.DeleteConsent(r.Context(), user.ID, clientID); err != nil && !isNotFound(err) {
		return err
	}
	if n > 0 {
		w.event(r, "consent.revoked", user.ID, clientID, strconv.Itoa(n)+" grants")
	}
	w.redirect(rw, r, PathConnections+"?done=revoked")
	return nil
}
