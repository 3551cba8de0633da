package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// Helpers shared by the management pages: "Mis Aplicaciones", connections
// and the admin panel. They are behind the same session, CSP and
// CrossOriginProtection as every other page; every change is a POST, and
// every destructive one is confirmed on a page of its own first (no
// JavaScript needed).

// notFound is the one answer for anything the person may not see: another
// user's application, the admin panel for a non-admin. It says nothing
// about whether the thing exists.

// badForm is a form that cannot be parsed.
func badForm(err error) error {
	return &web.PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
}

// pageSize is the length of every paginated list on these pages.
const pageSize = 20

// maxSearch bounds what a search box or filter accepts.
const maxSearch = 200

// pageNumber reads ?page=N: anything that is not a positive number is 1, and
// huge numbers are capped (the store caps them too).
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 1<<20)
}

// pager is the "previous / next" line under a list.
type pager struct {
	Number, Pages, Total int
	Prev, Next           string // links, "" when there is none
}

// newPager builds the pager for page number of total items, linking to path
// with query q (page replaced).
func newPager(path string, q url.Values, number, total int) pager {
	p := pager{Number: number, Total: total, Pages: max(1, (total+pageSize-1)/pageSize)}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" && len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if number > 1 {
		p.Prev = link(min(number-1, p.Pages))
	}
	if number < p.Pages {
		p.Next = link(number + 1)
	}
	return p
}

// knownScopes are the scopes a new application may be given: the built-in
// ones in their usual order, then the operator's.
func (w *Console) knownScopes() []string {
	out := slices.Clone(clients.BuiltinScopes)
	var extra []string
	for _, s := range w.Scopes() {
		if !slices.Contains(out, s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// inputError puts a clients.InputError on v in v.Lang; false for any other
// error (a store failure: the 500 page).
func inputError(v *web.View, err error) bool {
	var ie *clients.InputError
	if !errors.As(err, &ie) {
		return false
	}
	v.Error = ie.Spanish
	if v.Lang == "en" {
		v.Error = ie.English
	}
	return true
}

// confirmData is a page that asks before doing something that cannot be
// undone; its form posts to Action.
type confirmData struct {
	Heading, Text, Button string // localized
	Action, Back          string
}

func (w *Console) renderConfirm(rw http.ResponseWriter, r *http.Request, user *store.User, title string, d confirmData) {
	w.Render(rw, r, http.StatusOK, "confirm", &web.View{Lang: w.Lang(r, ""), Title: title, User: user, Data: d})
}

// endpoints are what a developer configures next to the client ID: the
// issuer, from which OpenID Connect libraries read the rest through
// discovery, and the two endpoints a plain OAuth 2.0 library asks for.
type endpoints struct{ Issuer, Discovery, Authorize, Token string }

func (w *Console) endpoints() endpoints {
	return endpoints{Issuer: w.Issuer(), Discovery: w.Issuer() + provider.PathOIDCDiscovery,
		Authorize: w.Issuer() + web.PathAuthorize, Token: w.Issuer() + provider.PathToken}
}

// secretData is the page that shows a client's credentials right after
// they were made. The secret is in this one response only (Cache-Control:
// no-store, like every page); the store keeps only its hash.
type secretData struct {
	Name, ClientID, Secret string
	Public, Rotated        bool
	Back                   string
	Endpoints              endpoints
}

func (w *Console) renderSecret(rw http.ResponseWriter, r *http.Request, user *store.User, d secretData) {
	d.Endpoints = w.endpoints()
	v := &web.View{Lang: w.Lang(r, ""), Title: "secret.title", User: user, Data: d, Scripts: true}
	// The page holds a credential: nothing may cache it, not even the
	// back/forward cache (no-store keeps it out of both).
	w.Render(rw, r, http.StatusOK, "secret", v)
}
