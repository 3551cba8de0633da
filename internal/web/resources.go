package web

import (
	"context"
	"net/url"
	"slices"

	"github.com/multinexo/auth/internal/cimd"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// authzResources looks up the RFC 8707 resources an authorization request
// names: the registered ones, the scopes they define (the request may ask
// for those), and whether any is not registered. Malformed values are left
// to oauth.ParseAuthorizeRequest, which answers them with invalid_target.
func (w *Web) authzResources(ctx context.Context, vals url.Values) (res []*store.Resource, scopes []string, unknown bool, err error) {
	uris, e := oauth.ParseResources(vals[oauth.ParamResource])
	if e != nil {
		return nil, nil, false, nil
	}
	for _, u := range uris {
		r, err := w.cfg.Store.GetResource(ctx, u)
		if isNotFound(err) {
			unknown = true
			continue
		}
		if err != nil {
			return nil, nil, false, err
		}
		res = append(res, r)
		for _, s := range r.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return res, scopes, unknown, nil
}

// resourcesConsented reports whether a consent covers every resource asked for.
func resourcesConsented(c *store.Consent, asked []string) bool {
	for _, r := range asked {
		if !slices.Contains(c.Resources, r) {
			return false
		}
	}
	return true
}

// resourceViews are the resources as the consent page lists them: the
// name the operator gave, and the URI.
func resourceViews(res []*store.Resource) []scopeView {
	var out []scopeView
	for _, r := range res {
		out = append(out, scopeView{Name: r.URI, Text: r.Name})
	}
	return out
}

// lookupClient finds the client of an authorization request: through the
// metadata-document resolver for a client_id that is a URL (when on), else
// in the store (where a metadata-document client is unknown while they are
// off).
func (w *Web) lookupClient(ctx context.Context, clientID string) (*store.Client, error) {
	if w.cfg.MetadataClients != nil && cimd.IsURL(clientID) {
		return w.cfg.MetadataClients.Client(ctx, clientID)
	}
	c, err := w.cfg.Store.GetClient(ctx, clientID)
	if err == nil && c.Origin == store.OriginMetadata {
		// Documents are off (serve --cimd off): the rows they left are not
		// authorized again (their grants live on until revoked).
		return nil, store.ErrNotFound
	}
	return c, err
}

// metadataHost is the host of a metadata-document client's URL, which the
// consent page shows plainly ("" for a registered client).
func metadataHost(c *store.Client) string {
	if c.Origin != store.OriginMetadata {
		return ""
	}
	u, err := url.Parse(c.ID)
	if err != nil {
		return c.ID
	}
	return u.Host
}

// namedResources are the views of resource indicators a device
// authorization holds (a resource deleted since shows its URI alone).
func (w *Web) namedResources(ctx context.Context, uris []string) ([]scopeView, error) {
	var out []scopeView
	for _, u := range uris {
		r, err := w.cfg.Store.GetResource(ctx, u)
		switch {
		case err == nil:
			out = append(out, scopeView{Name: r.URI, Text: r.Name})
		case isNotFound(err):
			out = append(out, scopeView{Name: u, Text: u})
		default:
			return nil, err
		}
	}
	return out, nil
}
