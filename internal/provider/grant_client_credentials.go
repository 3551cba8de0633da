package provider

import (
	"context"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// grantClientCredentials is RFC 6749 §4.4: a confidential client acting on
// its own behalf (the pipeline refuses public clients). A grant row with no
// user is still written so the token can be revoked and introspected like
// any other; it expires with the token, so the janitor can remove it. No
// refresh token: §4.4.3 "A refresh token SHOULD NOT be included." The access
// token's sub is the client id (RFC 9068 §2.2).
func (p *Provider) grantClientCredentials(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error) {
	now := req.now
	g := &store.Grant{
		ID:         token.NewID(),
		ClientID:   req.client.ID,
		GrantType:  store.GrantClientCredentials,
		Scopes:     req.scopes,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(p.accessTTL(req.client)),
	}
	t, err := p.mint(ctx, req.client, g, nil, "", now)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if err := p.cfg.Store.IssueGrant(ctx, g, nil); err != nil {
		return nil, oauth.ServerError(err)
	}
	return response(t, "", g.Scopes, nil), nil
}
