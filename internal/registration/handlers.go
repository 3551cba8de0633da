package registration

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// metadata is the client metadata of RFC 7591 §2 this server keeps; other
// members are ignored, as §2 says ("The authorization server MUST ignore
// any client metadata sent by the client that it does not understand").
type metadata struct {
	ClientID                string   `json:"client_id,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
}

// response is RFC 7591 §3.2.1 / RFC 7592 §3.
type response struct {
	metadata
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri"`
}

// Token endpoint authentication methods offered.
var authMethods = []string{"none", "client_secret_basic", "client_secret_post"}

// grantsAllowed are the grants a registered client may have.
var grantsAllowed = []string{store.GrantAuthorizationCode, store.GrantRefreshToken, store.GrantClientCredentials}

func decode(r *http.Request) (*metadata, error) {
	var m metadata
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return nil, errors.New("el cuerpo debe ser un objeto JSON de metadatos de cliente (RFC 7591)")
	}
	return &m, nil
}

// normalise applies the RFC 7591 §2 defaults and this server's rules.
func normalise(m *metadata) error {
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = "client_secret_basic" // RFC 7591 §2 default
	}
	if !slices.Contains(authMethods, m.TokenEndpointAuthMethod) {
		return errors.New("token_endpoint_auth_method debe ser none, client_secret_basic o client_secret_post")
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{store.GrantAuthorizationCode}
	}
	if m.ResponseTypes == nil && slices.Contains(m.GrantTypes, store.GrantAuthorizationCode) {
		m.ResponseTypes = []string{"code"} // RFC 7591 §2 default
	}
	for _, g := range m.GrantTypes {
		if !slices.Contains(grantsAllowed, g) {
			return errors.New("grant_types admite authorization_code, refresh_token y client_credentials")
		}
	}
	if m.TokenEndpointAuthMethod == "none" && slices.Contains(m.GrantTypes, store.GrantClientCredentials) {
		return errors.New("client_credentials requiere un cliente confidencial")
	}
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return errors.New("response_types solo admite code")
		}
	}
	// RFC 7591 §2.1: grant types and response types must agree.
	if slices.Contains(m.GrantTypes, store.GrantAuthorizationCode) != slices.Contains(m.ResponseTypes, "code") {
		return errors.New("grant_types authorization_code y response_types code van juntos")
	}
	if m.ClientName == "" {
		m.ClientName = defaultName(m.RedirectURIs)
	}
	return nil
}

// defaultName names a client that gave none after its first redirect host.
func defaultName(redirects []string) string {
	if len(redirects) > 0 {
		if u, err := url.Parse(redirects[0]); err == nil && u.Host != "" {
			return u.Host
		}
	}
	return "Aplicacion registrada"
}

// inputErr answers a clients.InputError with the RFC 7591 §3.2.2 code.
func inputErr(w http.ResponseWriter, err error) bool {
	var ie *clients.InputError
	if !errors.As(err, &ie) {
		return false
	}
	code := "invalid_client_metadata"
	if strings.Contains(ie.Field, "redirect") {
		code = "invalid_redirect_uri"
	}
	writeError(w, http.StatusBadRequest, code, ie.Spanish)
	return true
}

// register is RFC 7591 §3.1.
func (g *Registrar) register(w http.ResponseWriter, r *http.Request) {
	now := g.cfg.Now().UTC()
	if !g.admit(w, r, now) {
		return
	}
	m, err := decode(r)
	if err == nil {
		err = normalise(m)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", err.Error())
		return
	}
	known, err := g.knownScopes(r.Context())
	if err != nil {
		g.serverError(w, r, err)
		return
	}
	typ := store.ClientConfidential
	if m.TokenEndpointAuthMethod == "none" {
		typ = store.ClientPublic
	}
	rat := newRegistrationToken()
	c, secret, err := clients.Create(r.Context(), g.cfg.Store, clients.CreateInput{
		Name: m.ClientName, Type: typ, Grants: m.GrantTypes, RedirectURIs: m.RedirectURIs,
		Scopes: strings.Fields(m.Scope), KnownScopes: known, IDTokenAlgs: g.cfg.IDTokenAlgs,
		Origin: store.OriginDynamic, RegistrationHash: store.HashToken(rat),
	}, now)
	if err != nil {
		if !inputErr(w, err) {
			g.serverError(w, r, err)
		}
		return
	}
	g.event(r, "client.registered", c.ID)
	res := g.describe(c, m.TokenEndpointAuthMethod)
	res.ClientSecret, res.RegistrationAccessToken = secret, rat
	writeJSON(w, http.StatusCreated, res)
}

// describe is the registration response for c.
func (g *Registrar) describe(c *store.Client, method string) *response {
	res := &response{
		metadata: metadata{ClientID: c.ID, RedirectURIs: c.RedirectURIs, TokenEndpointAuthMethod: method,
			GrantTypes: c.Grants, ClientName: c.Name, Scope: oauth.FormatScope(c.Scopes)},
		ClientIDIssuedAt:      c.CreatedAt.Unix(),
		RegistrationClientURI: g.cfg.Issuer + "/auth/v1/register/" + url.PathEscape(c.ID),
	}
	res.ResponseTypes = []string{}
	if slices.Contains(c.Grants, store.GrantAuthorizationCode) {
		res.ResponseTypes = []string{"code"}
	}
	if c.Type == store.ClientConfidential {
		never := int64(0)
		res.ClientSecretExpiresAt = &never
	}
	return res
}

// method is the stored client's authentication method as registered.
func method(c *store.Client) string {
	if c.Type == store.ClientPublic {
		return "none"
	}
	return "client_secret_basic"
}

// read is RFC 7592 §2.1.
func (g *Registrar) read(w http.ResponseWriter, r *http.Request) {
	if c := g.managed(w, r); c != nil {
		writeJSON(w, http.StatusOK, g.describe(c, method(c)))
	}
}

// update is RFC 7592 §2.2: the request carries the whole metadata; this
// server lets the name, redirect URIs and scope change (the client type
// and grants are fixed at registration).
func (g *Registrar) update(w http.ResponseWriter, r *http.Request) {
	c := g.managed(w, r)
	if c == nil {
		return
	}
	m, err := decode(r)
	if err == nil {
		err = normalise(m)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", err.Error())
		return
	}
	switch {
	case m.ClientID != c.ID:
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "client_id debe ser el del cliente")
		return
	case (m.TokenEndpointAuthMethod == "none") != (c.Type == store.ClientPublic), !sameSet(m.GrantTypes, c.Grants):
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "token_endpoint_auth_method y grant_types no se pueden cambiar; registra otro cliente")
		return
	}
	known, err := g.knownScopes(r.Context())
	if err != nil {
		g.serverError(w, r, err)
		return
	}
	scopes := strings.Fields(m.Scope)
	for _, s := range scopes {
		if !slices.Contains(known, s) {
			writeError(w, http.StatusBadRequest, "invalid_client_metadata", "alcance desconocido "+s)
			return
		}
	}
	now := g.cfg.Now().UTC()
	uc, err := clients.Update(r.Context(), g.cfg.Store, c, clients.UpdateInput{Name: &m.ClientName, RedirectURIs: &m.RedirectURIs}, now)
	if err == nil && len(scopes) > 0 {
		uc, err = g.cfg.Store.UpdateClient(r.Context(), c.ID, store.ClientUpdate{Scopes: &scopes}, now)
	}
	if err != nil {
		if !inputErr(w, err) {
			g.serverError(w, r, err)
		}
		return
	}
	g.event(r, "client.updated", c.ID)
	writeJSON(w, http.StatusOK, g.describe(uc, method(uc)))
}

// remove is RFC 7592 §2.3: 204, and the client with everything issued to
// it is gone.
func (g *Registrar) remove(w http.ResponseWriter, r *http.Request) {
	c := g.managed(w, r)
	if c == nil {
		return
	}
	if err := g.cfg.Store.DeleteClient(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		g.serverError(w, r, err)
		return
	}
	g.event(r, "client.deleted", c.ID)
	w.WriteHeader(http.StatusNoContent)
}

func sameSet(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
