package provider

import (
	"context"
	"errors"
	"strings"
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

// ccKey names a reusable client_credentials grant: a client, the scope set
// and the resource indicators it was granted.
type ccKey struct{ client, scope, resources string }

// ccGrants remembers this instance's reusable client_credentials grants.
// mu guards the maps only: it is never held across a store call, so one
// client's grant being written never delays another client's request.
type ccGrants struct {
	mu       sync.Mutex
	m        map[ccKey]*store.Grant
	inflight map[ccKey]*ccCall // grants being created, one per key
}

// ccCall is one creation of a grant, shared by the requests for its key
// that arrive meanwhile (a per-key single flight).
type ccCall struct {
	done chan struct{} // closed when g and err are set
	g    *store.Grant
	err  error
}

// ccIssueTimeout bounds the write of a new client_credentials grant. The
// write does not follow the context of the request that happens to do it:
// other requests for the same key wait for it, and must not fail because
// that first client hung up.
const ccIssueTimeout = 10 * time.Second

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
	g, err := p.ccGrant(ctx, req.client.ID, req.scopes, req.resources, now, ttl)
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
func (p *Provider) ccGrant(ctx context.Context, clientID string, scopes, resources []string, now time.Time, ttl time.Duration) (*store.Grant, error) {
	key := ccKey{clientID, oauth.FormatScope(scopes), strings.Join(resources, " ")}
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
	for range 3 {
		p.cc.mu.Lock()
		g := p.cc.m[key]
		p.cc.mu.Unlock()
		if ok, err := usable(g); ok || err != nil {
			return g, err
		}
		p.cc.mu.Lock()
		if p.cc.m[key] != g {
			// Replaced while we checked it: check the new one.
			p.cc.mu.Unlock()
			continue
		}
		if c := p.cc.inflight[key]; c != nil {
			// Being created: share that grant (one grant for concurrent
			// first requests) without holding anything meanwhile.
			p.cc.mu.Unlock()
			select {
			case <-c.done:
				return c.g, c.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		c := &ccCall{done: make(chan struct{})}
		p.cc.inflight[key] = c
		p.cc.mu.Unlock()
		c.g, c.err = p.issueCCGrant(ctx, clientID, scopes, resources, now, ttl)
		p.cc.mu.Lock()
		delete(p.cc.inflight, key)
		if c.err == nil {
			if len(p.cc.m) >= maxCCGrants {
				clear(p.cc.m)
			}
			p.cc.m[key] = c.g
		}
		p.cc.mu.Unlock()
		close(c.done)
		return c.g, c.err
	}
	return nil, errors.New("provider: client_credentials grant replaced three times while being checked")
}

// issueCCGrant writes a new client_credentials grant of clientID for scopes,
// valid at now for a token of lifetime ttl.
func (p *Provider) issueCCGrant(ctx context.Context, clientID string, scopes, resources []string, now time.Time, ttl time.Duration) (*store.Grant, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ccIssueTimeout)
	defer cancel()
	g := &store.Grant{
		ID:         token.NewID(),
		ClientID:   clientID,
		GrantType:  store.GrantClientCredentials,
		Scopes:     scopes,
		Resources:  resources,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(max(ccGrantLifetime, 2*ttl)),
	}
	if err := p.cfg.Store.IssueGrant(ctx, g, nil); err != nil {
		return nil, err
	}
	return g, nil
}
