package provider

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Caches in front of the store, correct across instances.
//
// The database keeps a revocation epoch (sqlstore.DB.RevocationEpoch): a
// counter that triggers bump in the same transaction as every grant
// revocation or deletion, every user disabled, enabled or deleted, and every
// client change or deletion — whoever makes the change: this instance,
// another one, or the command line. A cached grant liveness or client is
// tagged with the epoch read before it was loaded, and is used only while a
// fresh read of the epoch returns that same value. Any change that committed
// before the request arrived has moved the epoch, so it is seen: there is no
// TTL and no window. What the caches save is the look-ups themselves: one
// tiny read (the epoch, shared by every request waiting at that moment)
// replaces a grant read, a user read and a client read with its JSON
// columns.
//
// "Fresh" means: the epoch read a request uses started after the request
// arrived, or at most Config.EpochMaxAge (default 1 ms) before. Concurrent
// callers share reads (epochReader), so under load the cost is at most one
// point read per EpochMaxAge, whatever the number of requests. A change is
// therefore seen by every request that arrives more than EpochMaxAge after
// it committed — on any instance — which is less than the network jitter
// between a client and the server; EpochMaxAge 0 (set a negative value)
// makes the reads strictly after each request's arrival. Changes this
// process makes through the store (store.EpochStore.LocalChanges) are seen at once: a read
// that started before one of them is never reused.

// epochReadTimeout bounds one shared epoch read; it serves many requests, so
// it does not end with the context of the request that started it.
const epochReadTimeout = 5 * time.Second

// epochReader returns epoch values read after the caller asked, sharing one
// read among every caller waiting at the same time.
type epochReader struct {
	read func(ctx context.Context) (int64, error)
	// local, if set, counts this process's own epoch-moving changes
	// (store.EpochStore.LocalChanges); a read older than the last of them is never reused.
	local func() int64
	// maxAge: a read that started at most maxAge before the caller asked
	// (or before its request arrived) may be reused; 0: strictly after.
	maxAge time.Duration

	mu      sync.Mutex
	running *epochCall // the read in flight
	pending *epochCall // the next read, started when running ends

	last atomic.Pointer[epochCall] // the latest successful read
}

type epochCall struct {
	done    chan struct{}
	started time.Time // monotonic
	local   int64     // epochReader.local() before the read
	v       int64
	err     error
}

// arrivalKey is the context key of a request's arrival time.
type arrivalKey struct{}

// withArrival records when a request arrived, so the several cache look-ups
// of one request can share an epoch read made after that moment.
func withArrival(ctx context.Context) context.Context {
	return context.WithValue(ctx, arrivalKey{}, time.Now())
}

// get returns the epoch from a read that started after get was called, or
// after the request's arrival (withArrival) when ctx carries it.
func (r *epochReader) get(ctx context.Context) (int64, error) {
	since, ok := ctx.Value(arrivalKey{}).(time.Time)
	if !ok && r.maxAge > 0 {
		since = time.Now()
	}
	if !since.IsZero() {
		if l := r.last.Load(); l != nil && !l.started.Before(since.Add(-r.maxAge)) && (r.local == nil || l.local == r.local()) {
			return l.v, nil
		}
	}
	r.mu.Lock()
	var c *epochCall
	if r.running == nil {
		c = &epochCall{done: make(chan struct{})}
		r.running = c
		r.mu.Unlock()
		r.run(ctx, c)
	} else {
		// The read in flight may have started before we asked: wait for
		// the next one.
		if r.pending == nil {
			r.pending = &epochCall{done: make(chan struct{})}
		}
		c = r.pending
		r.mu.Unlock()
	}
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run performs c's read, then starts the pending read, if any.
func (r *epochReader) run(ctx context.Context, c *epochCall) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), epochReadTimeout)
	if r.local != nil {
		c.local = r.local()
	}
	c.started = time.Now()
	c.v, c.err = r.read(rctx)
	cancel()
	close(c.done)
	if c.err == nil {
		for {
			l := r.last.Load()
			if l != nil && !l.started.Before(c.started) || r.last.CompareAndSwap(l, c) {
				break
			}
		}
	}
	r.mu.Lock()
	next := r.pending
	r.running, r.pending = next, nil
	r.mu.Unlock()
	if next != nil {
		go r.run(ctx, next)
	}
}

// maxCached bounds each cache; a full cache is emptied (entries are cheap to
// reload, and a bound keeps a flood of distinct tokens from growing memory).
const maxCached = 50_000

// liveEntry is a grant's liveness as of epoch.
type liveEntry struct {
	epoch   int64
	err     error     // nil: live until expires (zero: no expiry)
	expires time.Time // the grant's ExpiresAt
	claims  string    // the grant's OIDC claims request (never changes)
	loaded  bool      // the grant was read (claims is its value)
	email   string    // the user's email as of epoch ("" for client grants)
}

// epochLiveness is the Liveness used when the store has an epoch: the
// store's answer, cached per grant while the epoch does not move.
type epochLiveness struct {
	epoch *epochReader
	load  storeLiveness

	mu sync.RWMutex
	m  map[string]liveEntry
}

func (l *epochLiveness) Live(ctx context.Context, grantID string, now time.Time) error {
	e, err := l.epoch.get(ctx)
	if err != nil {
		return err
	}
	l.mu.RLock()
	ent, ok := l.m[grantID]
	l.mu.RUnlock()
	if !ok || ent.epoch != e {
		// Loaded after reading e: whatever committed before e is in it,
		// and anything later moves the epoch past e.
		ent = liveEntry{epoch: e}
		var g *store.Grant
		var u *store.User
		g, u, ent.err = l.load.check(ctx, grantID, now)
		if ent.err != nil && !isNotLive(ent.err) {
			return ent.err // store trouble: not cached
		}
		if g != nil {
			ent.expires, ent.claims, ent.loaded = g.ExpiresAt, g.Claims, true
		}
		if u != nil {
			ent.email = u.Email
		}
		l.mu.Lock()
		if len(l.m) >= maxCached {
			clear(l.m)
		}
		l.m[grantID] = ent
		l.mu.Unlock()
	}
	if ent.err != nil {
		return ent.err
	}
	if !ent.expires.IsZero() && !now.Before(ent.expires) {
		return fmt.Errorf("%w: grant %s expired", ErrNotLive, grantID)
	}
	return nil
}

// grantClaims returns the claims request of a grant this cache has read.
// A grant's claims request is fixed when the grant is created, so an entry
// of any epoch answers; liveness is still decided by Live.
func (l *epochLiveness) grantClaims(grantID string) (string, bool) {
	l.mu.RLock()
	ent, ok := l.m[grantID]
	l.mu.RUnlock()
	return ent.claims, ok && ent.loaded
}

// userEmail returns the email of the user of a grant as of the epoch its
// entry was loaded at, if that entry is current: a changed email moves the
// epoch (migration 00006), so a current entry has the email as of that
// epoch, the same snapshot Live answered from.
func (l *epochLiveness) userEmail(ctx context.Context, grantID string) (string, bool) {
	e, err := l.epoch.get(ctx)
	if err != nil {
		return "", false
	}
	l.mu.RLock()
	ent, ok := l.m[grantID]
	l.mu.RUnlock()
	return ent.email, ok && ent.loaded && ent.err == nil && ent.epoch == e && ent.email != ""
}

// clientCache caches clients by id while the epoch does not move. Unknown
// ids are not cached (creating a client does not move the epoch).
type clientCache struct {
	epoch *epochReader
	st    Store

	mu sync.RWMutex
	m  map[string]clientEntry
}

type clientEntry struct {
	epoch int64
	c     *store.Client // shared: read only
}

func (cc *clientCache) get(ctx context.Context, id string) (*store.Client, error) {
	e, err := cc.epoch.get(ctx)
	if err != nil {
		return nil, err
	}
	cc.mu.RLock()
	ent, ok := cc.m[id]
	cc.mu.RUnlock()
	if ok && ent.epoch == e {
		return ent.c, nil
	}
	c, err := cc.st.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if len(cc.m) >= maxCached {
		clear(cc.m)
	}
	cc.m[id] = clientEntry{epoch: e, c: c}
	cc.mu.Unlock()
	return c, nil
}
