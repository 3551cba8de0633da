package provider

import (
	"context"
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// handleRevoke is RFC 7009. Grants are the unit of revocation: revoking a
// refresh token or an access token revokes the grant it belongs to, and with
// it every refresh token of the family and every access token it issued
// (which stop working at the next bearer check or introspection).
//
// RFC 7009 §2.2: "The authorization server responds with HTTP status code 200
// if the token has been revoked successfully or if the client submitted an
// invalid token." — so an unknown, expired or malformed token, and a token of
// another client (§2.1: the server "verifies whether the token was issued to
// the client making the revocation request. If this validation fails, the
// request is refused" — refused silently: answering differently would tell
// the caller the token exists), all get 200 and change nothing.
// token_type_hint only orders the look-ups; an unknown hint is ignored
// (§2.1: "the authorization server [...] MAY ignore it").
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	cr, ok := p.authenticate(w, &r, nil)
	if !ok {
		return
	}
	client, raw := cr.client, cr.params.Get("token")
	if raw == "" {
		p.fail(w, r, oauth.InvalidRequest("falta token"), false)
		return
	}
	ctx := r.Context()
	gid, err := p.grantOfToken(ctx, raw, client.ID)
	if err == nil && gid != "" {
		err = p.cfg.Store.RevokeGrant(ctx, gid, p.now())
		if isNotFound(err) {
			err = nil
		}
		if err == nil {
			p.event(ctx, "grant.revoked", "", client.ID, cr.ip, "grant "+gid+" revoked at /revoke")
		}
	}
	if err != nil {
		p.fail(w, r, oauth.ServerError(err), false)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// grantOfToken finds the grant of a refresh or access token issued to
// clientID; "" when the token is unknown, invalid or another client's.
func (p *Provider) grantOfToken(ctx context.Context, raw, clientID string) (string, error) {
	if token.HasOpaqueForm(raw, token.PrefixRefresh) {
		rt, err := p.cfg.Store.GetRefreshToken(ctx, store.HashToken(raw))
		if isNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		g, err := p.cfg.Store.GetGrant(ctx, rt.GrantID)
		if isNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if g.ClientID != clientID {
			return "", nil
		}
		return g.ID, nil
	}
	claims, err := p.cfg.Keys.VerifyAccess(ctx, raw, p.issuer, nil)
	if errors.Is(err, token.ErrInvalidToken) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if claims.ClientID != clientID {
		return "", nil
	}
	return claims.GrantID, nil
}
