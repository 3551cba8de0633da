package cimd

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/store"
)

// Document is the part of a client ID metadata document (RFC 7591 §2
// client metadata) this server uses.
type Document struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	ClientSecret            *string  `json:"client_secret"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
}

// maxRedirects bounds the redirect URIs of one document.
const maxRedirects = 20

// Parse validates a document fetched from clientID (draft §4.1): a JSON
// object naming clientID as its client_id exactly, with redirect_uris; no
// client secret (the draft forbids one); authentication "none" (private_key_jwt
// is not supported here); only the authorization-code and refresh grants.
func Parse(clientID string, body []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, refused("the metadata document is not a JSON object")
	}
	switch {
	case d.ClientID != clientID:
		return nil, refused("the metadata document's client_id is not its own URL")
	case d.ClientSecret != nil || d.ClientSecretExpiresAt != nil:
		return nil, refused("a metadata document must not carry a client secret")
	case d.TokenEndpointAuthMethod != "" && d.TokenEndpointAuthMethod != "none":
		return nil, refused("token_endpoint_auth_method %q is not supported for metadata documents; use none", d.TokenEndpointAuthMethod)
	case len(d.RedirectURIs) == 0:
		return nil, refused("the metadata document lists no redirect_uris")
	case len(d.RedirectURIs) > maxRedirects:
		return nil, refused("the metadata document lists too many redirect_uris")
	case !utf8.ValidString(d.ClientName) || len(d.ClientName) > clients.MaxNameLength:
		return nil, refused("client_name is not valid text of at most %d bytes", clients.MaxNameLength)
	}
	for _, g := range d.GrantTypes {
		if g != store.GrantAuthorizationCode && g != store.GrantRefreshToken {
			return nil, refused("grant type %q is not available to metadata-document clients", g)
		}
	}
	for _, rt := range d.ResponseTypes {
		if rt != "code" {
			return nil, refused("response type %q is not available to metadata-document clients", rt)
		}
	}
	for _, u := range d.RedirectURIs {
		if err := clients.ValidateRedirectURI(u); err != nil {
			return nil, refused("redirect URI %q: %v", u, err)
		}
	}
	return &d, nil
}

// Store is what Resolver needs of the store.
type Store interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
	CreateClient(ctx context.Context, c *store.Client) error
	UpdateClient(ctx context.Context, id string, upd store.ClientUpdate, now time.Time) (*store.Client, error)
}

// Scopes are those a metadata-document client may be granted (beyond the
// scopes of the resources it asks for): the OpenID Connect ones and
// offline_access; never account, never voucher.
var Scopes = []string{"openid", "profile", "email", "offline_access"}

// Resolver maps client_id URLs to client rows.
type Resolver struct {
	F   *Fetcher
	St  Store
	Now func() time.Time
}

// IsURL reports whether id has the form of a metadata-document client_id
// (any http(s) URL: CheckURL then says whether it may be fetched).
func IsURL(id string) bool {
	u, err := url.Parse(id)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// Client returns the client for clientID: the stored row when it is not a
// metadata-document client (registered clients win), else the row made
// from the document — fetched when the cached copy expired — created or
// brought up to date. Refusals wrap ErrRefused; store.ErrNotFound never
// comes back for a URL that could be fetched.
func (r *Resolver) Client(ctx context.Context, clientID string) (*store.Client, error) {
	c, err := r.St.GetClient(ctx, clientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if c != nil && c.Origin != store.OriginMetadata {
		return c, nil
	}
	body, err := r.F.Fetch(ctx, clientID)
	if err != nil {
		return nil, err
	}
	d, err := Parse(clientID, body)
	if err != nil {
		return nil, err
	}
	name := d.ClientName
	if name == "" {
		u, _ := url.Parse(clientID)
		name = u.Host
	}
	grants := []string{store.GrantAuthorizationCode, store.GrantRefreshToken}
	now := r.Now().UTC()
	if c == nil {
		nc := &store.Client{ID: clientID, Name: name, Type: store.ClientPublic, RedirectURIs: d.RedirectURIs,
			Grants: grants, Scopes: Scopes, Origin: store.OriginMetadata, CreatedAt: now, UpdatedAt: now}
		err := r.St.CreateClient(ctx, nc)
		if errors.Is(err, store.ErrConflict) {
			return r.St.GetClient(ctx, clientID) // created meanwhile by another request
		}
		if err != nil {
			return nil, err
		}
		return nc, nil
	}
	if c.Name == name && slices.Equal(c.RedirectURIs, d.RedirectURIs) {
		return c, nil
	}
	return r.St.UpdateClient(ctx, clientID, store.ClientUpdate{Name: &name, RedirectURIs: &d.RedirectURIs}, now)
}
