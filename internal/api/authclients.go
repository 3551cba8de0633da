package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// Config configures the auth_clients and tokens resources. Zero values
// take the defaults (time.Now, slog.Default()).
type Config struct {
	Now func() time.Time
	Log *slog.Logger
	// IDTokenAlgs are the ID-token algorithms a client may choose
	// (token.KeyManager.IDAlgorithms); nil: clients.DefaultIDTokenAlgs.
	IDTokenAlgs []string
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// authClientStore is what the auth_clients resource needs from the store.
type authClientStore interface {
	callerStore
	clients.Store
	GetClient(ctx context.Context, id string) (*store.Client, error)
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context, ownerID string, opt store.ListOptions) ([]*store.Client, int, error)
	RecordEvent(ctx context.Context, e *store.Event) error
}

// AuthClients serves "Mis Aplicaciones" as the JSON:API auth_clients
// resource: the caller's own OAuth applications. Every change goes through
// package clients, which validates and creates clients for every path.
type AuthClients struct {
	st    authClientStore
	guard *guard
	cfg   Config
	log   *slog.Logger
}

// NewAuthClients builds the auth_clients resource.
func NewAuthClients(st store.Store, bearer oauth.BearerVerifier, cfg Config) *AuthClients {
	cfg = cfg.withDefaults()
	return &AuthClients{st: st, guard: &guard{bearer: bearer, st: st, log: cfg.Log}, cfg: cfg, log: cfg.Log}
}

// Mount registers the routes.
func (a *AuthClients) Mount(rs *httpx.Routes) { a.guard.mount(rs, a.routes()) }

// routes lists the routes with what each needs: all of them manage the
// person's applications, which needs the scope account (see need).
func (a *AuthClients) routes() []route {
	return []route{
		{"GET /v1/auth_clients", needAccount, false, a.list},
		{"POST /v1/auth_clients", needAccount, false, a.create},
		{"GET /v1/auth_clients/{id}", needAccount, false, a.get},
		{"PATCH /v1/auth_clients/{id}", needAccount, false, a.patch},
		{"DELETE /v1/auth_clients/{id}", needAccount, false, a.delete},
		{"POST /v1/auth_clients/{id}/secret", needAccount, false, a.rotate},
	}
}

// authClientFields: filters and sorts of the list (store.ClientFields).
var authClientFields = listFields{names: store.ClientFields, times: []string{"created_at"}}

// clientAttributes is the Multinexo auth_clients resource as we show it:
// never the secret hash; the secret itself only in the answer that made it.
type clientAttributes struct {
	Name         string   `json:"name"`
	UID          string   `json:"uid"`
	Redirect     string   `json:"redirect"`
	Revoked      bool     `json:"revoked"`
	Confidential bool     `json:"confidential"`
	ClientType   string   `json:"client_type"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	// IDTokenAlg: id_token_signed_response_alg (OIDC Dynamic Client
	// Registration §2); "" means the server default.
	IDTokenAlg string `json:"id_token_signed_response_alg"`
	// OfflineAccessRequired: refresh tokens only when offline_access was
	// granted (OpenID Connect Core §11); false: with every authorization.
	OfflineAccessRequired bool      `json:"offline_access_required"`
	Secret                string    `json:"secret,omitempty"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

func clientPath(id string) string { return "/v1/auth_clients/" + id }

// clientResource renders c; secret is "" except at creation and rotation.
func clientResource(c *store.Client, secret string) Resource {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return Resource{
		Type: "auth_clients",
		ID:   c.ID,
		Attributes: clientAttributes{
			Name: c.Name, UID: c.ID,
			// Doorkeeper's and Multinexo's "redirect": one URI per line.
			Redirect:              strings.Join(c.RedirectURIs, "\n"),
			Revoked:               c.Disabled,
			Confidential:          c.Type == store.ClientConfidential,
			ClientType:            c.Type,
			GrantTypes:            nonNil(c.Grants),
			Scopes:                nonNil(c.Scopes),
			IDTokenAlg:            c.IDTokenAlg,
			OfflineAccessRequired: c.OfflineAccessRequired,
			Secret:                secret,
			CreatedAt:             c.CreatedAt.UTC(),
			UpdatedAt:             c.UpdatedAt.UTC(),
		},
		Relationships: map[string]Relationship{
			"author": {Data: Identifier{Type: "users", ID: c.OwnerID}, Links: map[string]string{"related": "/v1/users/" + c.OwnerID}},
		},
		Links: map[string]string{"self": clientPath(c.ID)},
	}
}

func writeClient(w http.ResponseWriter, status int, c *store.Client, secret string) {
	writeJSON(w, MediaType, status, Document{Data: clientResource(c, secret), Links: map[string]any{"self": clientPath(c.ID)}})
}

func errClientNotFound() *Error {
	return newError(http.StatusNotFound, Problem{Code: "not_found",
		Title:  text{"Aplicación no encontrada", "Application not found"},
		Detail: text{"No tienes una aplicación con ese identificador. Consulta las tuyas en GET /v1/auth_clients.", "You have no application with that identifier. See yours at GET /v1/auth_clients."}})
}

// owned loads the application of the path if the caller owns it. Anyone
// else's — and an operator's, which has no owner — is 404, so ids cannot be
// probed.
func (a *AuthClients) owned(r *http.Request, user *store.User) (*store.Client, error) {
	c, err := a.st.GetClient(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (c.OwnerID == "" || c.OwnerID != user.ID)) {
		return nil, errClientNotFound()
	}
	return c, err
}

func (a *AuthClients) event(r *http.Request, typ string, user *store.User, clientID, detail string) {
	e := &store.Event{Time: a.cfg.Now(), Type: typ, UserID: user.ID, ClientID: clientID, IP: httpx.ClientIP(r), Detail: detail}
	if err := a.st.RecordEvent(r.Context(), e); err != nil {
		httpx.LogError(a.log, r, http.StatusInternalServerError, err)
	}
}

func (a *AuthClients) list(w http.ResponseWriter, r *http.Request, who *caller) error {
	user := who.user
	q, err := parseList(r, authClientFields)
	if err != nil {
		return err
	}
	if user.ID == "" { // ListClients("") would list everyone's
		return errors.New("api: user without id")
	}
	cs, total, err := a.st.ListClients(r.Context(), user.ID, q.opt)
	if err != nil {
		return listError(err)
	}
	data := make([]Resource, 0, len(cs))
	for _, c := range cs {
		data = append(data, clientResource(c, ""))
	}
	writeList(w, "/v1/auth_clients", q, data, total)
	return nil
}

func (a *AuthClients) get(w http.ResponseWriter, r *http.Request, who *caller) error {
	user := who.user
	c, err := a.owned(r, user)
	if err != nil {
		return err
	}
	writeClient(w, http.StatusOK, c, "")
	return nil
}

// Attribute names of the auth_clients resource.
var (
	clientCreateAttrs = map[string]bool{"name": true, "redirect": true, "confidential": true, "client_type": true, "grant_types": true, "id_token_signed_response_alg": true, "offline_access_required": true}
	clientUpdateAttrs = map[string]bool{"name": true, "redirect": true, "revoked": true, "id_token_signed_response_alg": true, "offline_access_required": true}
	// Set by the server, never by the caller. revoked is refused on
	// creation only.
	clientReadOnly       = map[string]bool{"id": true, "uid": true, "secret": true, "scopes": true, "created_at": true, "updated_at": true}
	clientCreateReadOnly = map[string]bool{"id": true, "uid": true, "secret": true, "scopes": true, "created_at": true, "updated_at": true, "revoked": true}
	// Chosen at creation, fixed afterwards.
	clientFixedAttrs = map[string]bool{"confidential": true, "client_type": true, "grant_types": true}
)

// clientInput is what a create or update request carries.
type clientInput struct {
	name, clientType  *string
	redirects, grants *[]string
	confidential      *bool
	revoked           *bool
	idTokenAlg        *string
	offlineRequired   *bool
}

// readClientAttrs decodes the attributes of an auth_clients request, on
// creation or (create false) on update. "redirect" is a string of URIs
// separated by new lines or spaces (Doorkeeper, Multinexo) or a JSON array
// of URIs.
func readClientAttrs(res *inResource, create bool) (*clientInput, error) {
	var names []string
	var probs []Problem
	if create {
		names, probs = checkAttrNames(res, clientCreateAttrs, clientCreateReadOnly)
	} else {
		allowed := maps.Clone(clientUpdateAttrs)
		maps.Copy(allowed, clientFixedAttrs)
		var all []string
		all, probs = checkAttrNames(res, allowed, clientReadOnly)
		for _, k := range all {
			if !clientFixedAttrs[k] {
				names = append(names, k)
				continue
			}
			probs = append(probs, Problem{Code: "immutable", Pointer: "/data/attributes/" + k,
				Title:  text{"Atributo fijo", "Fixed attribute"},
				Detail: text{"\"" + k + "\" se elige al crear la aplicación y no cambia después. Crea otra aplicación si necesitas otro valor.", "\"" + k + "\" is chosen when the application is created and does not change afterwards. Create another application if you need another value."}})
		}
	}
	in := &clientInput{}
	str := func(k string) *string {
		var s string
		if isNull(res.Attributes[k]) || json.Unmarshal(res.Attributes[k], &s) != nil {
			probs = append(probs, wrongType(k, text{"un texto entre comillas", "a quoted string"}))
			return nil
		}
		return &s
	}
	boolean := func(k string) *bool {
		var b bool
		if isNull(res.Attributes[k]) || json.Unmarshal(res.Attributes[k], &b) != nil {
			probs = append(probs, wrongType(k, text{"true o false", "true or false"}))
			return nil
		}
		return &b
	}
	for _, k := range names {
		raw := res.Attributes[k]
		switch k {
		case "name":
			in.name = str(k)
		case "client_type":
			in.clientType = str(k)
		case "confidential":
			in.confidential = boolean(k)
		case "revoked":
			in.revoked = boolean(k)
		case "id_token_signed_response_alg":
			in.idTokenAlg = str(k)
		case "offline_access_required":
			in.offlineRequired = boolean(k)
		case "redirect":
			var s string
			var list []string
			switch {
			case json.Unmarshal(raw, &s) == nil && !isNull(raw):
				list = clients.SplitRedirectURIs(s)
				in.redirects = &list
			case json.Unmarshal(raw, &list) == nil && !isNull(raw):
				var split []string
				for _, u := range list {
					split = append(split, clients.SplitRedirectURIs(u)...)
				}
				in.redirects = &split
			default:
				probs = append(probs, wrongType(k, text{"un texto con un URI por línea o una lista de URIs", "a string with one URI per line or an array of URIs"}))
			}
		case "grant_types":
			var list []string
			if isNull(raw) || json.Unmarshal(raw, &list) != nil {
				probs = append(probs, wrongType(k, text{"una lista de textos", "an array of strings"}))
				continue
			}
			in.grants = &list
		}
	}
	if len(probs) > 0 {
		return nil, newError(http.StatusUnprocessableEntity, probs...)
	}
	return in, nil
}

// clientTypeOf decides confidential or public from client_type and
// confidential (default confidential); the two must agree when both are sent.
func clientTypeOf(in *clientInput) (string, error) {
	typ := store.ClientConfidential
	if in.confidential != nil && !*in.confidential {
		typ = store.ClientPublic
	}
	if in.clientType == nil {
		return typ, nil
	}
	ct := *in.clientType
	if ct != store.ClientConfidential && ct != store.ClientPublic {
		return "", newError(http.StatusUnprocessableEntity, Problem{Code: "invalid", Pointer: "/data/attributes/client_type",
			Title:  text{"Valor no válido", "Invalid value"},
			Detail: text{"client_type es \"confidential\" (aplicación de servidor web, con secreto de cliente) o \"public\" (JavaScript o aplicación instalada, sin secreto de cliente).", "client_type is \"confidential\" (web server application, with a secret) or \"public\" (JavaScript or installed application, without a secret)."}})
	}
	if in.confidential != nil && ct != typ {
		return "", newError(http.StatusUnprocessableEntity, Problem{Code: "conflict", Pointer: "/data/attributes/confidential",
			Title:  text{"Valores contradictorios", "Contradictory values"},
			Detail: text{"confidential y client_type dicen cosas distintas. Envía solo uno de los dos.", "confidential and client_type disagree. Send only one of them."}})
	}
	return ct, nil
}

// clientInputError turns a validation error of package clients into a 422
// at the attribute the caller sent.
func clientInputError(err error, in *clientInput) error {
	var ie *clients.InputError
	if !errors.As(err, &ie) {
		return err
	}
	attr := ie.Field
	switch ie.Field {
	case "redirect_uri":
		attr = "redirect"
	case "grant":
		attr = "grant_types"
	case "type":
		attr = "client_type"
		if in != nil && in.clientType == nil {
			attr = "confidential"
		}
	}
	p := Problem{Code: "invalid", Title: text{"Valor no válido", "Invalid value"}, Detail: text{ie.Spanish, ie.English}}
	if attr != "scope" && attr != "owner" && attr != "legacy" && attr != "post_logout_redirect_uri" {
		p.Pointer = "/data/attributes/" + attr
	}
	if ie.Field == "grant" {
		p.Code = "grant_not_allowed"
	}
	return &Error{Status: http.StatusUnprocessableEntity, Cause: err, Problems: []Problem{p}}
}

func (a *AuthClients) create(w http.ResponseWriter, r *http.Request, who *caller) error {
	user := who.user
	res, err := readResource(w, r, "auth_clients")
	if err != nil {
		return err
	}
	if res.HasID {
		// JSON:API: "A server MUST return 403 Forbidden in response to an
		// unsupported request to create a resource with a client-generated ID."
		return newError(http.StatusForbidden, Problem{Code: "client_id_not_allowed", Pointer: "/data/id",
			Title:  text{"Identificador no permitido", "Identifier not allowed"},
			Detail: text{"El servidor asigna el identificador de cada aplicación. Quita \"id\" de \"data\".", "The server assigns every application's identifier. Remove \"id\" from \"data\"."}})
	}
	if err := noRelationships(res, "auth_clients"); err != nil {
		return err
	}
	in, err := readClientAttrs(res, true)
	if err != nil {
		return err
	}
	typ, err := clientTypeOf(in)
	if err != nil {
		return err
	}
	ci := clients.CreateInput{Type: typ, OwnerID: user.ID, SelfService: true, IDTokenAlgs: a.cfg.IDTokenAlgs, Origin: store.OriginDeveloper}
	if in.offlineRequired != nil {
		ci.OfflineAccessRequired = *in.offlineRequired
	}
	if in.idTokenAlg != nil {
		ci.IDTokenAlg = *in.idTokenAlg
	}
	if in.name != nil {
		ci.Name = *in.name
	}
	if in.redirects != nil {
		ci.RedirectURIs = *in.redirects
	}
	if in.grants != nil {
		ci.Grants = *in.grants
		if len(ci.Grants) == 0 {
			return clientInputError(&clients.InputError{Field: "grant",
				Spanish: "indica al menos una concesión, o quita grant_types para usar authorization_code y refresh_token",
				English: "give at least one grant, or remove grant_types to get authorization_code and refresh_token"}, in)
		}
	}
	c, secret, err := clients.Create(r.Context(), a.st, ci, a.cfg.Now())
	if err != nil {
		return clientInputError(err, in)
	}
	a.event(r, "client.created", user, c.ID, c.Name)
	w.Header().Set("Location", clientPath(c.ID))
	writeClient(w, http.StatusCreated, c, secret)
	return nil
}

func (a *AuthClients) patch(w http.ResponseWriter, r *http.Request, who *caller) error {
	user := who.user
	c, err := a.owned(r, user)
	if err != nil {
		return err
	}
	res, err := readResource(w, r, "auth_clients")
	if err != nil {
		return err
	}
	if res.HasID && *res.ID != c.ID {
		// JSON:API: "A server MUST return 409 Conflict when processing a
		// PATCH request in which the resource object's type and id do not
		// match the server's endpoint."
		return newError(http.StatusConflict, Problem{Code: "id_mismatch", Pointer: "/data/id",
			Title:  text{"Identificador distinto", "Identifier mismatch"},
			Detail: text{"\"id\" no corresponde a la aplicación de la dirección. Quítalo o usa el mismo.", "\"id\" is not the application's of the URL. Remove it or use the same one."}})
	}
	if err := noRelationships(res, "auth_clients"); err != nil {
		return err
	}
	in, err := readClientAttrs(res, false)
	if err != nil {
		return err
	}
	upd := clients.UpdateInput{Name: in.name, RedirectURIs: in.redirects, IDTokenAlg: in.idTokenAlg, IDTokenAlgs: a.cfg.IDTokenAlgs,
		OfflineAccessRequired: in.offlineRequired}
	revoking := false
	if in.revoked != nil {
		switch {
		case !*in.revoked && c.Disabled:
			// An application disabled by its owner or by an operator stays
			// so: re-enabling is an operator's decision.
			return newError(http.StatusUnprocessableEntity, Problem{Code: "cannot_unrevoke", Pointer: "/data/attributes/revoked",
				Title:  text{"No se puede reactivar", "Cannot be re-enabled"},
				Detail: text{"Una aplicación revocada no se puede reactivar desde aquí. Crea una nueva o pide a un operador que la reactive.", "A revoked application cannot be re-enabled here. Create a new one or ask an operator to re-enable it."}})
		case *in.revoked && !c.Disabled:
			revoking = true
			upd.Disabled = in.revoked
		}
	}
	nc := c
	if upd.Name != nil || upd.RedirectURIs != nil || upd.Disabled != nil || upd.IDTokenAlg != nil || upd.OfflineAccessRequired != nil {
		nc, err = clients.Update(r.Context(), a.st, c, upd, a.cfg.Now())
		if errors.Is(err, store.ErrNotFound) {
			return errClientNotFound()
		}
		if err != nil {
			return clientInputError(err, in)
		}
	}
	if revoking {
		a.event(r, "client.revoked", user, c.ID, c.Name)
	}
	writeClient(w, http.StatusOK, nc, "")
	return nil
}

// rotate serves POST /v1/auth_clients/{id}/secret: a new secret, shown in
// this answer only; the old one stops working at once on every instance
// (client authentication reads the hash from the store).
func (a *AuthClients) rotate(w http.ResponseWriter, r *http.Request, who *caller) error {
	user := who.user
	c, err := a.owned(r, user)
	if err != nil {
		return err
	}
	if c.Disabled {
		return newError(http.StatusUnprocessableEntity, Problem{Code: "revoked",
			Title:  text{"Aplicación revocada", "Application revoked"},
			Detail: text{"La aplicación está revocada y no puede recibir un secreto de cliente nuevo.", "The application is revoked and cannot get a new secret."}})
	}
	if c.Type != store.ClientConfidential {
		return newError(http.StatusUnprocessableEntity, Problem{Code: "no_secret",
			Title:  text{"Aplicación sin secreto de cliente", "Application without a secret"},
			Detail: text{"Una aplicación pública (JavaScript o instalada) no tiene secreto de cliente; usa PKCE.", "A public application (JavaScript or installed) has no secret; it uses PKCE."}})
	}
	secret, err := clients.RotateSecret(r.Context(), a.st, c, a.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return errClientNotFound()
	}
	if err != nil {
		return clientInputError(err, nil)
	}
	a.event(r, "client.secret_rotated", user, c.ID, "")
	nc, err := a.st.GetClient(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeClient(w, http.StatusOK, nc, secret)
	return nil
}

// delete deletes the application and, with it, every grant, refresh token,
// code and consent issued to it; its access tokens fail at once because
// their grant is gone.
func (a *AuthClients) delete(w http.ResponseWriter, r *http.Request, who *caller) error {
	user := who.user
	c, err := a.owned(r, user)
	if err != nil {
		return err
	}
	if err := a.st.DeleteClient(r.Context(), c.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errClientNotFound()
		}
		return err
	}
	a.event(r, "client.deleted", user, c.ID, c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
