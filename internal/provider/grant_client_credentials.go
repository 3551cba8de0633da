package provider

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// ccGrantLifetime is how long one client_credentials grant is reused for.
// Each access token it issues ends no later than the grant.
const ccGrantLifetime = 24 * time.Hour

// maxCCGrants bounds the reusable grants remembered by one instance.
const maxCCGrants = 10_000

// ccKey names a reusable client_credentials grant: a client and the scope
// set it was granted.
type ccKey struct{ client, scope string }

// ccGrants remembers this instance's reusable client_credentials grants.
type ccGrants struct {
	mu sync.Mutex
	m  map[ccKey]*store.Grant
}

// grantClientCredentials is RFC 6749 §4.4: a confidential client acting on
// its own behalf (the pipeline refuses public clients). No refresh token:
// §4.4.3 "A refresh token SHOULD NOT be included." The access token's sub is
// the client id (RFC 9068 §2.2).
//
// The token names a grant, like every access token, so it can be revoked and
// introspected like any other. The grant is not written per request: an
// instance reuses one grant per client and scope set for up to
// ccGrantLifetime (a write per token was most of this grant's cost, and
// filled the table). Revoking any of its tokens revokes that grant — and so
// every token it issued, at their next check — and the next request creates
// a new grant. Revocation stays immediate: the reused grant's liveness is
// checked (through the epoch-validated cache) before each reuse.
func (p *Provider) grantClientCredentials(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error) {
	now := req.now
	ttl := p.accessTTL(req.client)
	g, err := p.ccGrant(ctx, req.client.ID, req.scopes, now, ttl)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	t, err := p.mint(ctx, req.client, g, nil, "", now)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	return response(t, "", g.Scopes, nil), nil
}

// ccGrant returns a live client_credentials grant of clientID for scopes
// that outlives a token of lifetime ttl issued at now, creating one if
// needed.
func (p *Provider) ccGrant(ctx context.Context, clientID string, scopes []string, now time.Time, ttl time.Duration) (*store.Grant, error) {
	key := ccKey{clientID, oauth.FormatScope(scopes)}
	usable := func(g *store.Grant) (bool, error) {
		if g == nil || now.Before(g.CreatedAt) || now.Add(ttl).After(g.ExpiresAt) {
			return false, nil
		}
		err := p.live.Live(ctx, g.ID, now)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, ErrNotLive) {
			return false, nil
		}
		return false, err
	}
	p.cc.mu.Lock()
	g := p.cc.m[key]
	p.cc.mu.Unlock()
	if ok, err := usable(g); ok || err != nil {
		return g, err
	}
	// One creator at a time, so concurrent first requests share one grant.
	p.cc.mu.Lock()
	defer p.cc.mu.Unlock()
	if g2 := p.cc.m[key]; g2 != g {
		if ok, err := usable(g2); ok || err != nil {
			return g2, err
		}
	}
	g = &store.Grant{
		ID:         token.NewID(),
		ClientID:   clientID,
		GrantType:  store.GrantClientCredentials,
		Scopes:     scopes,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(max(ccGrantLifetime, 2*ttl)),
	}
	if err := p.cfg.Store.IssueGrant(ctx, g, nil); err != nil {
		return nil, err
	}
	if len(p.cc.m) >= maxCCGrants {
		clear(p.cc.m)
	}
	p.cc.m[key] = g
	return g, nil
}
