// Package registration is OAuth 2.0 dynamic client registration (RFC 7591)
// and its management protocol (RFC 7592): POST /auth/v1/register creates a
// client from its metadata and answers with a registration access token;
// GET, PUT and DELETE on the client's registration_client_uri read,
// replace and delete it with that token.
//
// It is off unless the operator turns it on: ModeOpen (anyone, rate
// limited per client address through the store's counters) or ModeToken
// (an initial access token from `multinexo registration-tokens create`,
// single use). Both tokens are stored only as SHA-256 hashes and compared
// by hash lookup or in constant time.
package registration

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Modes of serve --registration.
const (
	ModeOff   = "off"
	ModeOpen  = "open"
	ModeToken = "token"
)

// Paths served.
const (
	PathRegister = "/auth/v1/register"
	PathClient   = "/auth/v1/register/{client_id}"
)

// Defaults of the open mode's rate limit: registrations per client address.
const (
	DefaultLimit  = 10
	DefaultWindow = time.Hour
)

// maxBody bounds a registration request.
const maxBody = 32 << 10

// Store is what registration needs of the store.
type Store interface {
	CreateClient(ctx context.Context, c *store.Client) error
	GetClient(ctx context.Context, id string) (*store.Client, error)
	UpdateClient(ctx context.Context, id string, upd store.ClientUpdate, now time.Time) (*store.Client, error)
	DeleteClient(ctx context.Context, id string) error
	ListResources(ctx context.Context) ([]*store.Resource, error)
	UseRegistrationToken(ctx context.Context, hash []byte, now time.Time) error
	Hit(ctx context.Context, key string, windowStart, expires time.Time) (int, error)
	RecordEvent(ctx context.Context, e *store.Event) error
}

// Config configures the endpoints.
type Config struct {
	Issuer string
	Mode   string // ModeOpen or ModeToken (ModeOff: do not mount)
	Store  Store
	Now    func() time.Time
	Log    *slog.Logger
	// Limit registrations per client address per Window (open mode).
	Limit  int
	Window time.Duration
	// IDTokenAlgs are the ID-token algorithms the server signs with.
	IDTokenAlgs []string
}

// Registrar serves the endpoints.
type Registrar struct{ cfg Config }

// New builds a Registrar.
func New(cfg Config) (*Registrar, error) {
	if cfg.Mode != ModeOpen && cfg.Mode != ModeToken {
		return nil, errors.New("registration: Mode must be open or token")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultLimit
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	return &Registrar{cfg: cfg}, nil
}

// Mount registers the endpoints as Protocol routes (CORS for browser
// clients, no cookies; not cacheable; nosniff).
func (g *Registrar) Mount(rs *httpx.Routes) {
	rs.Protocol("POST "+PathRegister, g.wrap(g.register))
	rs.Protocol("GET "+PathClient, g.wrap(g.read))
	rs.Protocol("PUT "+PathClient, g.wrap(g.update))
	rs.Protocol("DELETE "+PathClient, g.wrap(g.remove))
}

// wrap applies this endpoint's body limit and the edge check.
func (g *Registrar) wrap(h http.HandlerFunc) http.Handler {
	return httpx.MaxBody(maxBody, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.CheckInput(r); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "la solicitud contiene texto que no es UTF-8 valido o un byte NUL")
			return
		}
		h(w, r)
	}))
}

// regError is an RFC 7591 §3.2.2 error.
type regError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`"`)
	}
	writeJSON(w, status, regError{Error: code, Description: oauth.DescriptionSafe(desc)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	httpx.NoStore(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bearer returns the Authorization: Bearer token, "" when none.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// admit applies the mode to a registration request: the initial access
// token (token mode), or the per-address limit (open mode). It writes the
// refusal and returns false.
func (g *Registrar) admit(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	ctx := r.Context()
	if g.cfg.Mode == ModeToken {
		tok := bearer(r)
		if tok == "" {
			writeError(w, http.StatusUnauthorized, "invalid_token", "el registro requiere un token de acceso inicial (Authorization: Bearer)")
			return false
		}
		err := g.cfg.Store.UseRegistrationToken(ctx, store.HashToken(tok), now)
		switch {
		case err == nil:
			return true
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrAlreadyUsed):
			writeError(w, http.StatusUnauthorized, "invalid_token", "token de acceso inicial invalido, caducado o ya usado")
		default:
			g.serverError(w, r, err)
		}
		return false
	}
	start := now.Truncate(g.cfg.Window)
	n, err := g.cfg.Store.Hit(ctx, "register-client:"+httpx.ClientIP(r), start, start.Add(g.cfg.Window))
	if err != nil {
		g.serverError(w, r, err)
		return false
	}
	if n > g.cfg.Limit {
		w.Header().Set("Retry-After", itoa(int(start.Add(g.cfg.Window).Sub(now)/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "invalid_request", "demasiados registros desde esta direccion; reintenta mas tarde")
		return false
	}
	return true
}

func (g *Registrar) serverError(w http.ResponseWriter, r *http.Request, err error) {
	httpx.LogError(g.cfg.Log, r, http.StatusInternalServerError, err)
	if store.Unavailable(err) {
		w.Header().Set("Retry-After", itoa(int(store.UnavailableRetry/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "servicio temporalmente no disponible; reintenta mas tarde")
		return
	}
	writeError(w, http.StatusInternalServerError, "server_error", "error interno del servidor")
}

// managed finds the client of a management request and checks its
// registration access token (RFC 7592 §3: 401 for a bad token; the same
// answer for an unknown client, so nothing is learnt without the token).
func (g *Registrar) managed(w http.ResponseWriter, r *http.Request) *store.Client {
	tok := bearer(r)
	c, err := g.cfg.Store.GetClient(r.Context(), r.PathValue("client_id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.serverError(w, r, err)
		return nil
	}
	if tok == "" || c == nil || c.Origin != store.OriginDynamic || len(c.RegistrationHash) == 0 ||
		subtle.ConstantTimeCompare(store.HashToken(tok), c.RegistrationHash) != 1 {
		writeError(w, http.StatusUnauthorized, "invalid_token", "token de acceso de registro invalido")
		return nil
	}
	return c
}

// knownScopes are the scopes a registered client may ask for: the built-in
// ones but account, and those the protected resources define.
func (g *Registrar) knownScopes(ctx context.Context) ([]string, error) {
	known := slices.DeleteFunc(slices.Clone(clients.BuiltinScopes), func(s string) bool { return s == oauth.ScopeAccount })
	l, err := g.cfg.Store.ListResources(ctx)
	if err != nil {
		return nil, err
	}
	for _, res := range l {
		for _, s := range res.Scopes {
			if !slices.Contains(known, s) {
				known = append(known, s)
			}
		}
	}
	return known, nil
}

func (g *Registrar) event(r *http.Request, typ, clientID string) {
	e := &store.Event{Time: g.cfg.Now().UTC(), Type: typ, ClientID: clientID, IP: httpx.ClientIP(r)}
	if err := g.cfg.Store.RecordEvent(r.Context(), e); err != nil {
		g.cfg.Log.ErrorContext(r.Context(), "recording a security event", "type", typ, "error", err.Error())
	}
}

func newRegistrationToken() string { return token.NewOpaque(token.PrefixRegistration) }
