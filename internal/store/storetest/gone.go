package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Callers that go away (a client hanging up mid-request) must not lose the
// work that has to be done whatever the client does, nor make other callers
// fail.

var goneTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"GoneCallerStillRecorded", testGoneCallerStillRecorded},
	{"GoneCallerAtomicNotStarted", testGoneCallerAtomicNotStarted},
}

// gone is a context whose caller has already left.
func (f *fixture) gone() context.Context {
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	return ctx
}

// testGoneCallerStillRecorded: a security event, a failure counter, a
// counter reset and a revocation are done even when the caller's context has
// ended: an attacker who hangs up before the answer must still be counted
// and recorded, and a revocation asked for is done.
func testGoneCallerStillRecorded(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	f.grant("g2", "u1", "c1", "rt2")
	ctx := f.gone()

	ev := &store.Event{Time: t0, Type: "login.failed", UserID: "u1", IP: "192.0.2.1"}
	wantErr(f.t, "RecordEvent", f.s.RecordEvent(ctx, ev), nil)
	evs, _, err := f.s.ListEvents(f.ctx, store.ListOptions{})
	wantErr(f.t, "ListEvents", err, nil)
	if len(evs) != 1 || evs[0].Type != "login.failed" {
		f.t.Errorf("events after a gone caller: %v", evs)
	}

	for want := 1; want <= 2; want++ {
		n, err := f.s.Hit(ctx, "login:a", t0, t0.Add(time.Minute))
		wantErr(f.t, "Hit", err, nil)
		if n != want {
			f.t.Errorf("Hit = %d, want %d", n, want)
		}
	}
	wantErr(f.t, "ResetCounter", f.s.ResetCounter(ctx, "login:a"), nil)
	if n, err := f.s.Count(f.ctx, "login:a", t0); err != nil || n != 0 {
		f.t.Errorf("after reset by a gone caller: %d, %v", n, err)
	}

	wantErr(f.t, "RevokeGrant", f.s.RevokeGrant(ctx, "g1", t0), nil)
	if g := f.getGrant("g1"); g.RevokedAt.IsZero() {
		f.t.Error("RevokeGrant by a gone caller did not revoke")
	}
	n, err := f.s.RevokeGrants(ctx, "u1", "c1", t0)
	wantErr(f.t, "RevokeGrants", err, nil)
	if g := f.getGrant("g2"); n != 1 || g.RevokedAt.IsZero() {
		f.t.Errorf("RevokeGrants by a gone caller revoked %d", n)
	}
}

// testGoneCallerAtomicNotStarted: a rotation or a code redemption whose
// caller left before it started is not done — the caller's error is its
// context's, and the old token and the code still work.
func testGoneCallerAtomicNotStarted(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	f.code("code1", "c1", "u1", t0.Add(time.Minute))
	ctx := f.gone()

	_, err := f.s.RotateRefreshToken(ctx, rotation("rt1", "rt2", t0.Add(time.Second), 0))
	wantErr(f.t, "RotateRefreshToken", err, context.Canceled)
	rt, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	if err != nil || !rt.RotatedAt.IsZero() {
		f.t.Errorf("old token after a rotation not started: %+v, %v", rt, err)
	}
	g := &store.Grant{ID: "g2", GrantType: store.GrantAuthorizationCode, CreatedAt: t0}
	_, err = f.s.RedeemAuthCode(ctx, store.HashToken("code1"), t0, g, nil)
	wantErr(f.t, "RedeemAuthCode", err, context.Canceled)
	g = &store.Grant{ID: "g3", GrantType: store.GrantAuthorizationCode, CreatedAt: t0}
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, g, nil)
	wantErr(f.t, "RedeemAuthCode after a gone caller", err, nil)
}

// concGoneCallers: half of N concurrent refresh rotations (one grant each)
// and event writes come from callers that hang up after 0–4 ms. Every caller
// that stays succeeds; every rotation reports exactly what was stored (no
// rotation is reported done and lost, none is done and reported failed); and
// every event is recorded, the gone callers' too.
func concGoneCallers(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	for i := range workers {
		f.grant(fmt.Sprintf("g%d", i), "u1", "c1", fmt.Sprintf("old%d", i))
	}
	type outcome struct{ rotate, event error }
	out := make([]outcome, workers)
	race(workers, func(i int) error {
		ctx := f.ctx
		if i%2 == 1 {
			c, cancel := context.WithTimeout(f.ctx, time.Duration(i%5)*time.Millisecond)
			defer cancel()
			ctx = c
		}
		_, out[i].rotate = f.s.RotateRefreshToken(ctx, rotation(fmt.Sprintf("old%d", i), fmt.Sprintf("new%d", i), t0.Add(time.Second), 0))
		out[i].event = f.s.RecordEvent(ctx, &store.Event{Time: t0, Type: "token.refreshed", Detail: fmt.Sprint(i)})
		return nil
	})
	for i, o := range out {
		gone := i%2 == 1
		if o.rotate != nil && (!gone || !errors.Is(o.rotate, context.DeadlineExceeded)) {
			f.t.Errorf("rotation %d (caller gone: %v): %v", i, gone, o.rotate)
		}
		_, err := f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("new%d", i)))
		if stored := err == nil; stored != (o.rotate == nil) {
			f.t.Errorf("rotation %d: reported %v, new token stored = %v", i, o.rotate, stored)
		}
		old, err := f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("old%d", i)))
		if err != nil || old.RotatedAt.IsZero() != (o.rotate != nil) {
			f.t.Errorf("rotation %d: reported %v, old token %+v, %v", i, o.rotate, old, err)
		}
		if o.event != nil {
			f.t.Errorf("event %d (caller gone: %v): %v", i, gone, o.event)
		}
	}
	_, n, err := f.s.ListEvents(f.ctx, store.ListOptions{})
	wantErr(f.t, "ListEvents", err, nil)
	if n != workers {
		f.t.Errorf("%d events recorded, want %d", n, workers)
	}
}
