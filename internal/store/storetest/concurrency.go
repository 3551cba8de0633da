package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// workers is how many goroutines race in each concurrency test.
const workers = 16

// race runs fn(i) for i in [0, n) in n goroutines released together, and
// returns their errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts nil errors and errors matching want; anything else fails t.
func tally(t *testing.T, what string, errs []error, want error) (ok, matched int) {
	t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("%s #%d: unexpected error %v", what, i, err)
		}
	}
	return ok, matched
}

// RunConcurrency runs the concurrency suite: operations that must have
// exactly one winner, or an exact result, when many callers race. newStore
// is as for Run.
func RunConcurrency(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(f *fixture)
	}{
		{"RedeemAuthCode", concRedeem},
		{"RotateRefreshToken", concRotate},
		{"RotateRefreshTokenGrace", concRotateGrace},
		{"CreateUser", concCreateUser},
		{"Hit", concHit},
		{"SetMetaIfAbsent", concMeta},
		{"SaveConsent", concConsent},
		{"IssueGrantAllOrNothing", concIssueAllOrNothing},
		{"GoneCallers", concGoneCallers},
	}
	tests = append(tests, deviceConcurrencyTests...)
	tests = append(tests, mfaConcurrencyTests...)
	tests = append(tests, mailConcurrencyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(newFixture(t, newStore))
		})
	}
}

// concRedeem: of N concurrent redemptions of one code exactly one wins; the
// others see a used code (and, per RFC 6749 §4.1.2, revoke what the winner
// got).
func concRedeem(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.code("code1", "c1", "u1", t0.Add(time.Minute))
	errs := race(workers, func(i int) error {
		g := &store.Grant{ID: fmt.Sprintf("g%d", i), GrantType: store.GrantAuthorizationCode, CreatedAt: t0}
		rt := &store.RefreshToken{Hash: store.HashToken(fmt.Sprintf("rt%d", i)), CreatedAt: t0}
		_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, g, rt)
		return err
	})
	ok, used := tally(f.t, "RedeemAuthCode", errs, store.ErrAlreadyUsed)
	if ok != 1 || used != workers-1 {
		f.t.Fatalf("%d redemptions succeeded and %d saw the code used; want 1 and %d", ok, used, workers-1)
	}
	winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	for i := range workers {
		g, err := f.s.GetGrant(f.ctx, fmt.Sprintf("g%d", i))
		if i != winner {
			wantErr(f.t, "loser's grant", err, store.ErrNotFound)
			_, err = f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("rt%d", i)))
			wantErr(f.t, "loser's token", err, store.ErrNotFound)
			continue
		}
		wantErr(f.t, "winner's grant", err, nil)
		if g.RevokedAt.IsZero() {
			f.t.Error("winner's grant survived the replays")
		}
	}
}

// concRotate: of N concurrent rotations of one refresh token (no grace)
// exactly one wins; the others are reuse, and the family ends revoked.
func concRotate(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt")
	errs := race(workers, func(i int) error {
		_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt", fmt.Sprintf("new%d", i), t0.Add(time.Second), 0))
		return err
	})
	ok, reused := tally(f.t, "RotateRefreshToken", errs, store.ErrReused)
	if ok != 1 || reused != workers-1 {
		f.t.Fatalf("%d rotations succeeded and %d were reuse; want 1 and %d", ok, reused, workers-1)
	}
	if g := f.getGrant("g1"); g.RevokedAt.IsZero() {
		f.t.Fatal("grant not revoked after concurrent reuse")
	}
	stored := 0
	for i := range workers {
		_, err := f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("new%d", i)))
		if err == nil {
			stored++
		} else {
			wantErr(f.t, "GetRefreshToken", err, store.ErrNotFound)
		}
	}
	if stored != 1 {
		f.t.Errorf("%d new tokens stored, want 1", stored)
	}
}

// concRotateGrace: with a grace window, N concurrent retries all succeed
// and leave exactly one current token in the family.
func concRotateGrace(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt")
	errs := race(workers, func(i int) error {
		_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt", fmt.Sprintf("new%d", i), t0.Add(time.Second), time.Minute))
		return err
	})
	ok, _ := tally(f.t, "RotateRefreshToken", errs, errors.New("none"))
	if ok != workers {
		f.t.Fatalf("%d of %d retries within grace succeeded", ok, workers)
	}
	if g := f.getGrant("g1"); !g.RevokedAt.IsZero() {
		f.t.Fatal("grant revoked by retries within grace")
	}
	current := 0
	for i := range workers {
		rt, err := f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("new%d", i)))
		if err == nil && rt.RotatedAt.IsZero() {
			current++
		}
	}
	if current != 1 {
		f.t.Errorf("%d current tokens after grace retries, want 1", current)
	}
}

// concCreateUser: of N concurrent registrations of one email exactly one wins.
func concCreateUser(f *fixture) {
	errs := race(workers, func(i int) error {
		return f.s.CreateUser(f.ctx, &store.User{ID: fmt.Sprintf("u%d", i), Email: "same@example.com", EmailKey: "same@example.com", CreatedAt: t0, UpdatedAt: t0})
	})
	ok, conflicts := tally(f.t, "CreateUser", errs, store.ErrConflict)
	if ok != 1 || conflicts != workers-1 {
		f.t.Fatalf("%d registrations succeeded and %d conflicted; want 1 and %d", ok, conflicts, workers-1)
	}
	n, err := f.s.CountUsers(f.ctx)
	wantErr(f.t, "CountUsers", err, nil)
	if n != 1 {
		f.t.Fatalf("CountUsers = %d, want 1", n)
	}
}

// concHit: concurrent hits are counted exactly, each caller seeing a
// distinct count.
func concHit(f *fixture) {
	const per = 10
	var mu sync.Mutex
	var seen []int
	errs := race(workers, func(int) error {
		for range per {
			n, err := f.s.Hit(f.ctx, "k", t0, t0.Add(time.Minute))
			if err != nil {
				return err
			}
			mu.Lock()
			seen = append(seen, n)
			mu.Unlock()
		}
		return nil
	})
	tally(f.t, "Hit", errs, errors.New("none"))
	n, err := f.s.Count(f.ctx, "k", t0)
	wantErr(f.t, "Count", err, nil)
	if n != workers*per {
		f.t.Fatalf("Count = %d, want %d", n, workers*per)
	}
	slices.Sort(seen)
	for i, v := range seen {
		if v != i+1 {
			f.t.Fatalf("Hit results are not 1..%d: position %d is %d", workers*per, i, v)
		}
	}
}

// concMeta: concurrent first callers of SetMetaIfAbsent all get the one
// stored value.
func concMeta(f *fixture) {
	vals := make([]string, workers)
	errs := race(workers, func(i int) error {
		v, err := f.s.SetMetaIfAbsent(f.ctx, "install.id", fmt.Sprintf("v%d", i))
		vals[i] = v
		return err
	})
	tally(f.t, "SetMetaIfAbsent", errs, errors.New("none"))
	stored, err := f.s.GetMeta(f.ctx, "install.id")
	wantErr(f.t, "GetMeta", err, nil)
	for i, v := range vals {
		if v != stored {
			f.t.Errorf("caller %d got %q, stored %q", i, v, stored)
		}
	}
}

// concConsent: concurrent SaveConsent calls lose no scope.
func concConsent(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	errs := race(workers, func(i int) error {
		return f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{fmt.Sprintf("s%d", i)}, CreatedAt: t0})
	})
	tally(f.t, "SaveConsent", errs, errors.New("none"))
	c, err := f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent", err, nil)
	if len(c.Scopes) != workers {
		f.t.Errorf("consent has %d scopes, want %d: %v", len(c.Scopes), workers, c.Scopes)
	}
}

// concIssueAllOrNothing: many two-statement transactions at once, every
// other one failing at its second statement (its refresh token collides with
// an existing one). Each failure leaves nothing (not its grant either) and
// does not disturb the successes committed alongside it — on SQLite they
// share group commits, each in its own savepoint.
func concIssueAllOrNothing(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g-taken", "u1", "c1", "rt-taken")
	const n = 4 * workers
	errs := race(n, func(i int) error {
		rt := fmt.Sprintf("rt%d", i)
		if i%2 == 1 {
			rt = "rt-taken"
		}
		g := &store.Grant{ID: fmt.Sprintf("g%d", i), UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword,
			Scopes: []string{"openid"}, AuthTime: t0, CreatedAt: t0, LastUsedAt: t0}
		return f.s.IssueGrant(f.ctx, g, &store.RefreshToken{Hash: store.HashToken(rt), CreatedAt: t0})
	})
	for i, err := range errs {
		_, gerr := f.s.GetGrant(f.ctx, fmt.Sprintf("g%d", i))
		if i%2 == 1 {
			wantErr(f.t, fmt.Sprintf("IssueGrant #%d (duplicate token)", i), err, store.ErrConflict)
			wantErr(f.t, fmt.Sprintf("grant #%d of a failed issue", i), gerr, store.ErrNotFound)
			continue
		}
		wantErr(f.t, fmt.Sprintf("IssueGrant #%d", i), err, nil)
		wantErr(f.t, fmt.Sprintf("grant #%d", i), gerr, nil)
		rt, terr := f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("rt%d", i)))
		if wantErr(f.t, fmt.Sprintf("token #%d", i), terr, nil); rt.GrantID != fmt.Sprintf("g%d", i) {
			f.t.Errorf("token #%d belongs to %s", i, rt.GrantID)
		}
	}
	if rt, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt-taken")); err != nil || rt.GrantID != "g-taken" {
		f.t.Errorf("the existing token changed: %+v %v", rt, err)
	}
}

// Parallel reuse across instances (issue 12).
const (
	// reuseRounds and reuseParallel: each round, reuseParallel callers
	// present one refresh token at once.
	reuseRounds   = 15
	reuseParallel = 24
	// reuseAnswerBound is how long a caller waits for its answer, like a
	// client with a 5 s timeout. A round that hangs on locks fails here
	// instead of hanging the test.
	reuseAnswerBound = 5 * time.Second
)

// ParallelReuse presents one refresh token from reuseParallel callers at
// once, spread over the given stores (several handles on one database are
// several server instances), for reuseRounds rounds, with no grace window.
// Every round: every caller answers within reuseAnswerBound, exactly one
// rotation succeeds, every other caller sees store.ErrReused, and the family
// ends revoked — seen from every store. stores[0] is used for the set-up.
func ParallelReuse(t *testing.T, stores ...store.Store) {
	f := &fixture{t: t, s: stores[0], ctx: t.Context()}
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	var slowest time.Duration
	defer func() { t.Logf("slowest answer of %d rounds × %d: %v", reuseRounds, reuseParallel, slowest) }()
	for round := range reuseRounds {
		gid, old := fmt.Sprintf("g%d", round), fmt.Sprintf("rt%d", round)
		f.grant(gid, "u1", "c1", old)
		took := make([]time.Duration, reuseParallel)
		errs := race(reuseParallel, func(i int) error {
			ctx, cancel := context.WithTimeout(f.ctx, reuseAnswerBound)
			defer cancel()
			start := time.Now()
			_, err := stores[i%len(stores)].RotateRefreshToken(ctx,
				rotation(old, fmt.Sprintf("new%d-%d", round, i), t0.Add(time.Second), 0))
			took[i] = time.Since(start)
			return err
		})
		for i, d := range took {
			slowest = max(slowest, d)
			if d > reuseAnswerBound {
				t.Errorf("round %d: caller %d answered after %v (bound %v)", round, i, d, reuseAnswerBound)
			}
		}
		ok, reused := tally(t, fmt.Sprintf("round %d: RotateRefreshToken", round), errs, store.ErrReused)
		if ok != 1 || reused != reuseParallel-1 {
			t.Errorf("round %d: %d rotations succeeded and %d were reuse; want 1 and %d", round, ok, reused, reuseParallel-1)
		}
		for i, s := range stores {
			g, err := s.GetGrant(f.ctx, gid)
			if err != nil {
				t.Fatalf("round %d: store %d: GetGrant: %v", round, i, err)
			}
			if g.RevokedAt.IsZero() {
				t.Errorf("round %d: store %d: family not revoked after parallel reuse", round, i)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}
