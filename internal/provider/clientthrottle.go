package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/multinexo/auth/internal/lockcache"
	"github.com/multinexo/auth/internal/oauth"
)

// Client-secret guessing (issue 11). Failed client authentications are
// counted per client AND client address in the store (every instance sees
// the count); after ClientFailureLimit failures within ClientFailureWindow
// that pair is answered 429 with Retry-After until the window ends. The key
// is the pair, never the client alone: nobody can lock a client out for
// everyone, and the right secret from another address keeps working.
//
// RFC 6749 §10.10: "The authorization server MUST prevent attackers from
// guessing access tokens, authorization codes, refresh tokens, resource
// owner passwords, and client credentials." Our secrets have 256 random
// bits, so the throttle is about the noise and cost of a guessing flood, not
// about the odds.
//
// The hot path stays free of an extra query: the store is written only on a
// failure, and the count that write returns decides the 429. An instance
// that answered 429 remembers the lock until the window ends and refuses the
// pair before hashing (and before any store access) — the right secret
// included. Another instance still accepts the right secret until it, too,
// sees a failure of the pair: a secret guessed right is out of reach anyway.

// Defaults of the client-authentication throttle.
const (
	DefaultClientFailureLimit  = 10
	DefaultClientFailureWindow = 5 * time.Minute
)

// Counters are the store's shared counters (store.Store has them).
type Counters interface {
	Hit(ctx context.Context, key string, windowStart time.Time, expires time.Time) (int, error)
}

// clientThrottle counts failures and remembers locks seen here.
type clientThrottle struct {
	st     Counters // nil: no throttle
	limit  int
	window time.Duration
	locked lockcache.Cache // pairs found locked here, until their window ends
}

// clientFailureKey names the pair without putting the address or the client
// id as sent (any bytes) in the counters table.
func clientFailureKey(clientID, ip string) string {
	h := sha256.Sum256([]byte(clientID + "\x00" + ip))
	return "client-auth:" + hex.EncodeToString(h[:16])
}

// throttled is the answer to a locked pair: 429 with Retry-After. The code
// stays invalid_client (as a locked password is invalid_grant, see
// passwordError), so OAuth libraries treat it as "these credentials do not
// work now"; the status makes HTTP clients back off for the time given.
func throttled(retryAfter time.Duration) *oauth.Error {
	e := oauth.InvalidClient("demasiadas autenticaciones fallidas de este cliente desde esta direccion; reintenta mas tarde")
	e.Status = http.StatusTooManyRequests
	e.RetryAfter = max(retryAfter, time.Second)
	return e
}

// check refuses a pair this instance has seen locked.
func (p *Provider) clientLocked(cc clientCredentials, ip string) *oauth.Error {
	if p.ct.st == nil {
		return nil
	}
	now := p.now()
	if end, ok := p.ct.locked.Until(now, clientFailureKey(cc.id, ip)); ok {
		return throttled(end.Sub(now))
	}
	return nil
}

// clientFailed counts a failed authentication of the pair and returns the
// error to answer: fail itself, or 429 once the pair is over the limit.
func (p *Provider) clientFailed(ctx context.Context, cc clientCredentials, ip string, fail *oauth.Error) *oauth.Error {
	if p.ct.st == nil {
		return fail
	}
	now := p.now()
	start := now.Truncate(p.ct.window)
	end := start.Add(p.ct.window)
	key := clientFailureKey(cc.id, ip)
	// The count must be recorded even if the client hangs up at once: a
	// guesser would otherwise close every connection early.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n, err := p.ct.st.Hit(wctx, key, start, end)
	if err != nil {
		p.log.ErrorContext(ctx, "counting a failed client authentication", "error", err.Error())
		return fail
	}
	if n <= p.ct.limit {
		return fail
	}
	if p.ct.locked.Lock(key, end) {
		p.event(wctx, "client.throttled", "", cc.id, ip, "")
	}
	return throttled(end.Sub(now))
}
