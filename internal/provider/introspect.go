package provider

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// introspection is the RFC 7662 §2.2 response.
type introspection struct {
	Active    bool         `json:"active"`
	Scope     string       `json:"scope,omitempty"`
	ClientID  string       `json:"client_id,omitempty"`
	Username  string       `json:"username,omitempty"`
	TokenType string       `json:"token_type,omitempty"`
	Exp       int64        `json:"exp,omitempty"`
	Iat       int64        `json:"iat,omitempty"`
	Sub       string       `json:"sub,omitempty"`
	Aud       jwt.Audience `json:"aud,omitempty"`
	Iss       string       `json:"iss,omitempty"`
	Jti       string       `json:"jti,omitempty"`
}

// handleIntrospect is RFC 7662. The caller must be a confidential client
// (§2.1: "the endpoint MUST also require some form of authorization to access
// this endpoint"; a public client's client_id proves nothing). Any such
// client (typically a resource server) may introspect access tokens; a
// refresh token is described only to the client it was issued to.
//
// §2.2: "If the introspection call is properly authorized but the token is
// not active, does not exist on this server, or the protected resource is not
// allowed to introspect this particular token, then the authorization server
// MUST return an introspection response with the "active" field set to
// "false"." — and nothing else, so the answer tells nothing about why.
func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	cr, ok := p.authenticate(w, &r, nil)
	if !ok {
		return
	}
	params, client := cr.params, cr.client
	if client.Type != store.ClientConfidential {
		p.fail(w, r, oauth.InvalidClient("la introspeccion requiere un cliente confidencial"), false)
		return
	}
	raw := params.Get("token")
	if raw == "" {
		p.fail(w, r, oauth.InvalidRequest("falta token"), false)
		return
	}
	var (
		res *introspection
		err error
	)
	if token.HasOpaqueForm(raw, token.PrefixRefresh) {
		res, err = p.introspectRefresh(r.Context(), raw, client)
	} else {
		res, err = p.introspectAccess(r.Context(), raw)
	}
	if err != nil {
		p.fail(w, r, oauth.ServerError(err), false)
		return
	}
	if res == nil {
		res = &introspection{}
	}
	writeJSON(w, http.StatusOK, res)
}

func (p *Provider) introspectAccess(ctx context.Context, raw string) (*introspection, error) {
	// Any access token this server issued, whatever its audience (its own
	// API or a registered resource): the caller is typically that resource.
	c, err := p.cfg.Keys.VerifyAccess(ctx, raw, p.issuer, nil)
	if errors.Is(err, token.ErrInvalidToken) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := p.live.Live(ctx, c.GrantID, p.now()); err != nil {
		if errors.Is(err, ErrNotLive) {
			return nil, nil
		}
		return nil, err
	}
	res := &introspection{
		Active:    true,
		Scope:     c.Scope,
		ClientID:  c.ClientID,
		TokenType: "Bearer",
		Exp:       c.ExpiresAt.Unix(),
		Iat:       c.IssuedAt.Unix(),
		Sub:       c.Subject,
		Aud:       jwt.Audience(c.Audience),
		Iss:       p.issuer,
		Jti:       c.JTI,
	}
	if c.GrantType != store.GrantClientCredentials {
		// The liveness check just read the user with its grant; its email
		// is current while the epoch has not moved.
		cached := false
		if p.liveCache != nil {
			res.Username, cached = p.liveCache.userEmail(ctx, c.GrantID)
		}
		if !cached {
			if res.Username, err = p.username(ctx, c.Subject); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

func (p *Provider) introspectRefresh(ctx context.Context, raw string, client *store.Client) (*introspection, error) {
	rt, err := p.cfg.Store.GetRefreshToken(ctx, store.HashToken(raw))
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !rt.RotatedAt.IsZero() {
		return nil, nil
	}
	g, err := p.cfg.Store.GetGrant(ctx, rt.GrantID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if g.ClientID != client.ID {
		return nil, nil
	}
	if err := p.live.Live(ctx, g.ID, p.now()); err != nil {
		if errors.Is(err, ErrNotLive) {
			return nil, nil
		}
		return nil, err
	}
	res := &introspection{
		Active:    true,
		Scope:     oauth.FormatScope(rt.Scopes),
		ClientID:  g.ClientID,
		TokenType: "refresh_token",
		Iat:       unix(rt.CreatedAt),
		Exp:       unix(g.ExpiresAt),
		Sub:       g.UserID,
		Aud:       jwt.Audience(g.Resources),
		Iss:       p.issuer,
	}
	if g.UserID == "" {
		res.Sub = g.ClientID
	} else if res.Username, err = p.username(ctx, g.UserID); err != nil {
		return nil, err
	}
	return res, nil
}

// username is the user's email (the login name), "" if the user is gone.
func (p *Provider) username(ctx context.Context, userID string) (string, error) {
	u, err := p.cfg.Store.GetUser(ctx, userID)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return u.Email, nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
