package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// grantAuthorizationCode redeems an authorization code (RFC 6749 §4.1.3,
// RFC 7636 §4.5–4.6). The store redeems the code and records the grant in one
// transaction; the checks that need the code's contents (redirect URI, PKCE,
// the user) come after, and a failure revokes the grant just written before
// answering, so nothing usable is ever handed out on an error path.
func (p *Provider) grantAuthorizationCode(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error) {
	code := req.params.Get("code")
	if code == "" {
		return nil, oauth.InvalidRequest("falta code")
	}
	verifier := req.params.Get("code_verifier")
	invalid := func() *oauth.Error {
		return oauth.InvalidGrant("codigo de autorizacion invalido, caducado o ya usado")
	}
	if !token.HasOpaqueForm(code, token.PrefixCode) {
		return nil, invalid()
	}
	if verifier != "" && !oauth.ValidVerifier(verifier) {
		return nil, oauth.InvalidGrant("code_verifier con formato invalido")
	}

	now := req.now
	g := &store.Grant{
		ID:         token.NewID(),
		ClientID:   req.client.ID, // the store refuses (and leaves alone) another client's code
		GrantType:  store.GrantAuthorizationCode,
		CreatedAt:  now,
		LastUsedAt: now,
	}
	refresh, rt := firstRefresh(req.client, store.GrantAuthorizationCode, nil, now) // the store copies the code's scopes
	ac, err := p.cfg.Store.RedeemAuthCode(ctx, store.HashToken(code), now, g, rt)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrAlreadyUsed):
		// RFC 6749 §4.1.2: "If an authorization code is used more than once,
		// the authorization server MUST deny the request and SHOULD revoke
		// (when possible) all tokens previously issued based on that
		// authorization code." The store has revoked that grant.
		p.event(ctx, "code.reused", "", req.client.ID, req.ip, "")
		return nil, invalid().WithCause(err)
	case isNotFound(err), errors.Is(err, store.ErrExpired):
		return nil, invalid().WithCause(err)
	default:
		return nil, oauth.ServerError(err)
	}

	revoke := func(e *oauth.Error) (*tokenResponse, *oauth.Error) {
		if err := p.cfg.Store.RevokeGrant(ctx, g.ID, now); err != nil {
			return nil, oauth.ServerError(errors.Join(err, e))
		}
		return nil, e
	}
	// RFC 6749 §4.1.3: the server MUST "ensure that the "redirect_uri"
	// parameter is present if the "redirect_uri" parameter was included in
	// the initial authorization request [...], and if included ensure that
	// their values are identical."
	if req.params.Get("redirect_uri") != ac.RedirectURI {
		return revoke(oauth.InvalidGrant("redirect_uri no coincide con el de la autorizacion").
			WithCause(fmt.Errorf("redirect_uri %q, authorized for %q", req.params.Get("redirect_uri"), ac.RedirectURI)))
	}
	// RFC 7636 §4.6; a public client must have used PKCE (RFC 9700 §2.1.1).
	if ac.CodeChallenge == "" && req.client.Type == store.ClientPublic {
		return revoke(oauth.InvalidGrant("un cliente publico debe usar PKCE"))
	}
	if e := oauth.VerifyPKCE(ac.CodeChallenge, ac.CodeChallengeMethod, verifier); e != nil {
		return revoke(e)
	}
	// RFC 8707 §2.2: the resource sent here may narrow what the code was
	// authorized for, never widen it.
	aud, oerr := oauth.NarrowResources(req.resources, g.Resources)
	if oerr != nil {
		return revoke(oerr)
	}
	u, oerr := p.userUsable(ctx, g.UserID)
	if oerr != nil {
		return revoke(oerr)
	}
	minted := *g
	minted.Resources = aud
	t, err := p.mint(ctx, req.client, &minted, u, ac.Nonce, now)
	if err != nil {
		return revoke(oauth.ServerError(err))
	}
	return response(t, sent(refresh, rt), g.Scopes, u), nil
}
