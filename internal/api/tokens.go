package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// tokenStore is what the tokens resource needs from the store.
type tokenStore interface {
	callerStore
	GetGrant(ctx context.Context, id string) (*store.Grant, error)
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	ListGrants(ctx context.Context, userID string, opt store.ListOptions) ([]*store.Grant, int, error)
	DeleteConsent(ctx context.Context, userID, clientID string) error
	RecordEvent(ctx context.Context, e *store.Event) error
}

// Tokens serves the JSON:API tokens resource (Multinexo): the caller's
// grants — one per authorization of an application, with the refresh and
// access tokens hanging from it — revoked ones included.
type Tokens struct {
	st    tokenStore
	guard *guard
	cfg   Config
	log   *slog.Logger
}

// NewTokens builds the tokens resource.
func NewTokens(st store.Store, bearer oauth.BearerVerifier, cfg Config) *Tokens {
	cfg = cfg.withDefaults()
	return &Tokens{st: st, guard: &guard{bearer: bearer, st: st, log: cfg.Log}, cfg: cfg, log: cfg.Log}
}

// Mount registers the routes.
func (t *Tokens) Mount(rs *httpx.Routes) { t.guard.mount(rs, t.routes()) }

// routes lists the routes with what each needs: the person's connections
// are managed with the scope account (see need).
func (t *Tokens) routes() []route {
	return []route{
		{"GET /v1/tokens", needAccount, false, t.list},
		{"GET /v1/tokens/{id}", needAccount, false, t.get},
		{"PATCH /v1/tokens/{id}", needAccount, false, t.patch},
	}
}

// tokenFields: filters and sorts of the list (store.GrantFields; "name" is
// the application's name).
var tokenFields = listFields{names: store.GrantFields, times: []string{"created_at", "last_used_at"}}

// tokenAttributes is the Multinexo tokens resource: name is the
// application's; expires_at is null for a grant valid until revoked.
type tokenAttributes struct {
	Name       string     `json:"name"`
	Revoked    bool       `json:"revoked"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Scopes     []string   `json:"scopes"`
	GrantType  string     `json:"grant_type"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func tokenPath(id string) string { return "/v1/tokens/" + id }

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func tokenResource(g *store.Grant) Resource {
	scopes := g.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return Resource{
		Type: "tokens",
		ID:   g.ID,
		Attributes: tokenAttributes{
			Name:       g.ClientName,
			Revoked:    !g.RevokedAt.IsZero(),
			ExpiresAt:  timeOrNull(g.ExpiresAt),
			Scopes:     scopes,
			GrantType:  g.GrantType,
			CreatedAt:  g.CreatedAt.UTC(),
			LastUsedAt: timeOrNull(g.LastUsedAt),
			RevokedAt:  timeOrNull(g.RevokedAt),
		},
		// The application is usually someone else's, so no link: only
		// its owner may read it at /v1/auth_clients/{id}.
		Relationships: map[string]Relationship{"auth_client": {Data: Identifier{Type: "auth_clients", ID: g.ClientID}}},
		Links:         map[string]string{"self": tokenPath(g.ID)},
	}
}

func writeToken(w http.ResponseWriter, g *store.Grant) {
	writeJSON(w, MediaType, http.StatusOK, Document{Data: tokenResource(g), Links: map[string]any{"self": tokenPath(g.ID)}})
}

func errTokenNotFound() *Error {
	return newError(http.StatusNotFound, Problem{Code: "not_found",
		Title:  text{"Autorización no encontrada", "Authorization not found"},
		Detail: text{"No tienes una autorización con ese identificador. Consulta las tuyas en GET /v1/tokens.", "You have no authorization with that identifier. See yours at GET /v1/tokens."}})
}

// owned loads the grant of the path if it is the caller's; anyone else's
// (and a client's own, client-credentials grant) is 404.
func (t *Tokens) owned(r *http.Request, user *store.User) (*store.Grant, error) {
	g, err := t.st.GetGrant(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (g.UserID == "" || g.UserID != user.ID)) {
		return nil, errTokenNotFound()
	}
	return g, err
}

func (t *Tokens) list(w http.ResponseWriter, r *http.Request, c *caller) error {
	user := c.user
	q, err := parseList(r, tokenFields)
	if err != nil {
		return err
	}
	if user.ID == "" { // ListGrants("") would list client-credentials grants
		return errors.New("api: user without id")
	}
	q.opt.IncludeRevoked = true
	gs, total, err := t.st.ListGrants(r.Context(), user.ID, q.opt)
	if err != nil {
		return listError(err)
	}
	data := make([]Resource, 0, len(gs))
	for _, g := range gs {
		data = append(data, tokenResource(g))
	}
	writeList(w, "/v1/tokens", q, data, total)
	return nil
}

func (t *Tokens) get(w http.ResponseWriter, r *http.Request, c *caller) error {
	user := c.user
	g, err := t.owned(r, user)
	if err != nil {
		return err
	}
	writeToken(w, g)
	return nil
}

var (
	tokenUpdateAttrs = map[string]bool{"revoked": true}
	tokenReadOnly    = map[string]bool{"id": true, "name": true, "expires_at": true, "scopes": true, "grant_type": true, "created_at": true, "last_used_at": true, "revoked_at": true}
)

// patch serves PATCH /v1/tokens/{id}: revoked true revokes the grant, so its
// refresh tokens fail at the token endpoint and its access tokens at every
// bearer check (which reads the grant's liveness), and forgets the
// remembered consent, so the application has to ask again. A revoked grant
// stays revoked.
func (t *Tokens) patch(w http.ResponseWriter, r *http.Request, c *caller) error {
	user := c.user
	g, err := t.owned(r, user)
	if err != nil {
		return err
	}
	res, err := readResource(w, r, "tokens")
	if err != nil {
		return err
	}
	if res.HasID && *res.ID != g.ID {
		return newError(http.StatusConflict, Problem{Code: "id_mismatch", Pointer: "/data/id",
			Title:  text{"Identificador distinto", "Identifier mismatch"},
			Detail: text{"\"id\" no corresponde a la autorización de la dirección. Quítalo o usa el mismo.", "\"id\" is not the authorization's of the URL. Remove it or use the same one."}})
	}
	if err := noRelationships(res, "tokens"); err != nil {
		return err
	}
	names, probs := checkAttrNames(res, tokenUpdateAttrs, tokenReadOnly)
	var revoked *bool
	for _, k := range names { // only "revoked"
		var b bool
		if isNull(res.Attributes[k]) || json.Unmarshal(res.Attributes[k], &b) != nil {
			probs = append(probs, wrongType(k, text{"true o false", "true or false"}))
			continue
		}
		revoked = &b
	}
	if len(probs) > 0 {
		return newError(http.StatusUnprocessableEntity, probs...)
	}
	wasRevoked := !g.RevokedAt.IsZero()
	switch {
	case revoked == nil || *revoked == wasRevoked:
		// Nothing to change.
	case !*revoked:
		return newError(http.StatusUnprocessableEntity, Problem{Code: "cannot_unrevoke", Pointer: "/data/attributes/revoked",
			Title:  text{"No se puede deshacer", "Cannot be undone"},
			Detail: text{"Una autorización revocada no se puede restablecer. Vuelve a autorizar la aplicación desde ella.", "A revoked authorization cannot be restored. Authorize the application again from it."}})
	default:
		now := t.cfg.Now()
		if err := t.st.RevokeGrant(r.Context(), g.ID, now); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errTokenNotFound()
			}
			return err
		}
		if err := t.st.DeleteConsent(r.Context(), user.ID, g.ClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		e := &store.Event{Time: now, Type: "consent.revoked", UserID: user.ID, ClientID: g.ClientID, IP: httpx.ClientIP(r), Detail: "grant " + g.ID}
		if err := t.st.RecordEvent(r.Context(), e); err != nil {
			httpx.LogError(t.log, r, http.StatusInternalServerError, err)
		}
		if g, err = t.st.GetGrant(r.Context(), g.ID); err != nil {
			return err
		}
	}
	writeToken(w, g)
	return nil
}
