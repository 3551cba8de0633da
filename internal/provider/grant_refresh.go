package provider

import (
	"context"
	"errors"
	"slices"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// grantRefreshToken is the refresh grant (RFC 6749 §6) with rotation: every
// use returns a new refresh token and retires the old one; presenting a
// retired one revokes the whole grant (RFC 9700 §4.14.2), except within
// Config.RefreshGrace of its rotation (a client that lost the response).
func (p *Provider) grantRefreshToken(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error) {
	raw := req.params.Get("refresh_token")
	if raw == "" {
		return nil, oauth.InvalidRequest("falta refresh_token")
	}
	invalid := func() *oauth.Error { return oauth.InvalidGrant("refresh_token invalido, caducado o revocado") }
	if !token.HasOpaqueForm(raw, token.PrefixRefresh) {
		return nil, invalid()
	}
	hash := store.HashToken(raw)
	_, g, u, err := p.cfg.Store.GetRefreshTokenGrant(ctx, hash)
	if err != nil {
		if isNotFound(err) {
			return nil, invalid()
		}
		return nil, oauth.ServerError(err)
	}
	// RFC 6749 §6: the server MUST "validate the refresh token [...] and
	// ensure that the refresh token was issued to the authenticated client".
	// Another client's token is refused without rotating it: the client it
	// belongs to must not lose it because someone else presented it.
	if g.ClientID != req.client.ID {
		return nil, invalid()
	}
	if !g.Live(req.now) {
		return nil, invalid()
	}
	if oerr := usable(g, u); oerr != nil {
		return nil, oerr
	}

	// RFC 6749 §6: "The requested scope MUST NOT include any scope not
	// originally granted by the resource owner, and if omitted is treated as
	// equal to the scope originally granted by the resource owner." Scopes
	// the client has since lost (account, when the client is no longer
	// first party) are dropped (the pipeline already refused requesting
	// them).
	scopes := oauth.Intersect(g.Scopes, oauth.AllowedScopes(req.client.Scopes, req.client.IsFirstParty()))
	if req.requested != nil {
		for _, s := range req.requested {
			if !slices.Contains(g.Scopes, s) {
				return nil, oauth.InvalidScope("el alcance " + s + " no fue concedido originalmente")
			}
		}
		scopes = req.requested
	}

	// RFC 8707 §2.2: narrowed to what this request names, never widened.
	aud, oerr := oauth.NarrowResources(req.resources, g.Resources)
	if oerr != nil {
		return nil, oerr
	}

	// Mint first, store second: if the rotation fails these are dropped
	// unsent, and if minting fails the old token still works.
	issuedGrant := *g
	issuedGrant.Scopes = scopes
	issuedGrant.Resources = aud
	t, err := p.mint(ctx, req.client, &issuedGrant, u, "", req.now)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	refresh, rt := newRefresh(scopes, req.now)
	_, err = p.cfg.Store.RotateRefreshToken(ctx, store.Rotation{OldHash: hash, New: *rt, Now: req.now, Grace: p.cfg.RefreshGrace})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrReused):
		// The store has revoked the grant: every refresh token of the family
		// and, at the next check, every access token it issued.
		p.event(ctx, "refresh.reused", g.UserID, g.ClientID, req.ip, "grant "+g.ID+" revoked")
		return nil, reusedRefresh().WithCause(err)
	case isNotFound(err), errors.Is(err, store.ErrRevoked):
		return nil, invalid().WithCause(err)
	default:
		return nil, oauth.ServerError(err)
	}
	return response(t, refresh, scopes, u), nil
}

// reusedRefresh answers a refresh token presented again after its rotation
// (outside the grace window). RFC 9700 §4.14.2: the server "can detect
// refresh token replay" and then "will revoke the active refresh token";
// the description says so, so that the developer looks for a client that
// keeps an old token (two tabs, a retry without the new answer) instead of
// a bug of ours. RFC 6749 §5.2 allows only ASCII in error_description.
func reusedRefresh() *oauth.Error {
	return oauth.InvalidGrant("se detecto la reutilizacion de un refresh_token ya usado; por seguridad se cerro la sesion de esta aplicacion: inicia sesion de nuevo")
}

// usable checks that a grant's user may still get tokens: for a grant with
// a user, u must exist and be enabled.
func usable(g *store.Grant, u *store.User) *oauth.Error {
	if g.UserID != "" && (u == nil || u.Disabled) {
		return oauth.InvalidGrant("la cuenta ya no existe o esta deshabilitada")
	}
	return nil
}
