package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// What a route requires of its caller. Every route of this package declares
// one where it is listed (the routes methods); mount enforces it before the
// handler runs, so no handler decides — or forgets — who may call it.
//
// The rule (README "What a token can do"): a token lets an application do
// what the person consented to, and nothing else. Reading the person's
// resource shows what the token's scopes allow (see userAttributes);
// changing or deleting the account and managing its applications and
// connections needs the scope "account", which only first-party clients
// can be granted (oauth.ClientScope) — and the client must still be first
// party when the token is used, so an operator's unmarking takes effect
// before the token expires.
type need int

const (
	// needNothing: no token (registration).
	needNothing need = iota
	// needUser: a valid access token of a person (RFC 6750), whose
	// account exists and is enabled; a client-credentials token is 403.
	needUser
	// needAccount: needUser, with the scope "account" from a client that is
	// first party (store.Client.IsFirstParty); 403 insufficient_scope
	// otherwise.
	needAccount
)

// route is one API route: its pattern, what it needs, how its errors are
// written (plain: Django REST framework style, for seed 004) and its
// handler.
type route struct {
	pattern string
	need    need
	plain   bool
	h       func(w http.ResponseWriter, r *http.Request, c *caller) error
}

// caller is who a request comes from, as the route's need established: nil
// for needNothing routes.
type caller struct {
	user   *store.User
	access *oauth.Access
}

// sees reports whether the caller's token lets it read what scope covers.
// The scope "account" covers everything about the account.
func (c *caller) sees(scope string) bool {
	return c.access.HasScope(scope) || c.access.HasScope(oauth.ScopeAccount)
}

// callerStore is how the guard loads the caller and its client.
type callerStore interface {
	GetUser(ctx context.Context, id string) (*store.User, error)
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// guard enforces the needs of routes.
type guard struct {
	bearer oauth.BearerVerifier
	st     callerStore
	log    *slog.Logger
}

// mount registers every route as an httpx.API route behind its need. The
// class makes every answer, errors included, not cacheable (each is about a
// person or carries a secret) and decides CORS: routes that need a token
// may be called from other origins, routes that need nothing may not.
func (g *guard) mount(rs *httpx.Routes, routes []route) {
	for _, rt := range routes {
		rs.API(rt.pattern, handle(g.log, rt.plain, func(w http.ResponseWriter, r *http.Request) error {
			c, err := g.check(r, rt.need)
			if err != nil {
				return err
			}
			return rt.h(w, r, c)
		}), rt.need != needNothing)
	}
}

// check establishes the caller of r for need n.
func (g *guard) check(r *http.Request, n need) (*caller, error) {
	if n == needNothing {
		return nil, nil
	}
	acc, err := g.bearer.VerifyBearer(r)
	if err != nil {
		var be *oauth.BearerError
		if errors.As(err, &be) {
			return nil, bearerError(be, err)
		}
		return nil, err
	}
	if acc.UserID == "" {
		return nil, newError(http.StatusForbidden, Problem{Code: "user_token_required",
			Title:  text{"Se necesita un token de usuario", "A user token is needed"},
			Detail: text{"Este token representa a una aplicación, no a una persona. Usa un token obtenido con el inicio de sesión del usuario (password, authorization_code o device_code).", "This token represents an application, not a person. Use a token obtained by the user's login (password, authorization_code or device_code)."},
			Header: "Authorization"})
	}
	user, err := g.st.GetUser(r.Context(), acc.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && user.Disabled) {
		return nil, bearerError(&oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the account no longer exists or is disabled"}, err)
	}
	if err != nil {
		return nil, err
	}
	if n == needAccount {
		if err := g.checkAccount(r, acc); err != nil {
			return nil, err
		}
	}
	return &caller{user: user, access: acc}, nil
}

// checkAccount refuses a token without the scope "account", or whose client
// is no longer first party, with RFC 6750 §3.1's insufficient_scope.
func (g *guard) checkAccount(r *http.Request, acc *oauth.Access) error {
	if acc.HasScope(oauth.ScopeAccount) {
		c, err := g.st.GetClient(r.Context(), acc.ClientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && c.IsFirstParty() {
			return nil
		}
	}
	be := oauth.ErrInsufficientScope(oauth.ScopeAccount)
	return &Error{Status: be.Status, Bearer: be, Problems: []Problem{{Code: be.Code, Header: "Authorization",
		Title: text{"Permiso insuficiente", "Insufficient scope"},
		Detail: text{"Este token no incluye el alcance (scope) \"account\", necesario para cambiar o eliminar la cuenta y para gestionar sus aplicaciones y conexiones. Solo las aplicaciones de primera parte (marcadas por el operador) pueden obtenerlo, pidiéndolo en scope al iniciar sesión; las demás pueden leer los datos que la persona autorizó.",
			"This token lacks the scope \"account\", needed to change or delete the account and to manage its applications and connections. Only first-party applications (marked by the operator) can get it, by asking for it in scope at sign-in; other applications can read what the person consented to."},
	}}}
}
