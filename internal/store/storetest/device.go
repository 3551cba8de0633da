package storetest

import (
	"fmt"
	"slices"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// RFC 8628 device authorizations: DeviceStore.

// deviceTests are the conformance tests of DeviceStore, run by Run.
var deviceTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"DeviceCreateGet", testDeviceCreateGet},
	{"DeviceCreateConflict", testDeviceCreateConflict},
	{"DeviceDecide", testDeviceDecide},
	{"DeviceDecideExpired", testDeviceDecideExpired},
	{"DevicePollPending", testDevicePollPending},
	{"DevicePollSlowDown", testDevicePollSlowDown},
	{"DevicePollApproved", testDevicePollApproved},
	{"DevicePollDenied", testDevicePollDenied},
	{"DevicePollExpired", testDevicePollExpired},
	{"DevicePollUnknown", testDevicePollUnknown},
	{"DevicePollWrongClient", testDevicePollWrongClient},
	{"DevicePollFailureWritesNothing", testDevicePollFailure},
	{"DeviceCascade", testDeviceCascade},
	{"DeviceDeleteExpired", testDeviceDeleteExpired},
}

// deviceConcurrencyTests are run by RunConcurrency.
var deviceConcurrencyTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"PollDeviceCode", concDevicePoll},
	{"DecideDeviceCode", concDeviceDecide},
}

// device stores a pending authorization for client, with device code dc
// and user code uc (both hashed), a 5 s interval, created at t0.
func (f *fixture) device(dc, uc, clientID string, expires time.Time) *store.DeviceCode {
	f.t.Helper()
	d := &store.DeviceCode{
		DeviceHash: store.HashToken(dc), UserCodeHash: store.HashToken(uc), ClientID: clientID,
		Scopes: []string{"openid", "profile"}, CreatedAt: t0, ExpiresAt: expires, Interval: 5 * time.Second,
	}
	if err := f.s.CreateDeviceCode(f.ctx, d); err != nil {
		f.t.Fatalf("CreateDeviceCode: %v", err)
	}
	return d
}

// poll polls dc at now offering grant id gid and refresh token rt ("" none).
func (f *fixture) poll(dc string, now time.Time, gid, rt string) (*store.DeviceCode, *store.Grant, *store.RefreshToken, error) {
	g := &store.Grant{ID: gid, GrantType: store.GrantDeviceCode, CreatedAt: now, LastUsedAt: now}
	var tok *store.RefreshToken
	if rt != "" {
		tok = &store.RefreshToken{Hash: store.HashToken(rt), CreatedAt: now}
	}
	d, err := f.s.PollDeviceCode(f.ctx, store.HashToken(dc), now, g, tok)
	return d, g, tok, err
}

func (f *fixture) noGrant(id string) {
	f.t.Helper()
	_, err := f.s.GetGrant(f.ctx, id)
	wantErr(f.t, "grant "+id, err, store.ErrNotFound)
}

func testDeviceCreateGet(f *fixture) {
	f.client("c1", "TV")
	d := f.device("dc1", "BCDFGHJK", "c1", t0.Add(10*time.Minute))
	if d.Status != store.DevicePending {
		f.t.Errorf("Status after create = %q, want pending", d.Status)
	}
	got, err := f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("BCDFGHJK"), t0.Add(time.Minute))
	wantErr(f.t, "GetDeviceCodeByUserCode", err, nil)
	diff(f.t, "device code", got, d)

	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("ZZZZZZZZ"), t0)
	wantErr(f.t, "unknown user code", err, store.ErrNotFound)
	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("BCDFGHJK"), t0.Add(10*time.Minute))
	wantErr(f.t, "expired user code", err, store.ErrNotFound)

	err = f.s.CreateDeviceCode(f.ctx, &store.DeviceCode{DeviceHash: store.HashToken("dc2"), UserCodeHash: store.HashToken("X"),
		ClientID: "nope", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)})
	wantErr(f.t, "unknown client", err, store.ErrNotFound)
}

func testDeviceCreateConflict(f *fixture) {
	f.client("c1", "TV")
	f.device("dc1", "BCDFGHJK", "c1", t0.Add(10*time.Minute))
	for _, d := range []*store.DeviceCode{
		{DeviceHash: store.HashToken("dc2"), UserCodeHash: store.HashToken("BCDFGHJK")},
		{DeviceHash: store.HashToken("dc1"), UserCodeHash: store.HashToken("LMNPQRST")},
	} {
		d.ClientID, d.CreatedAt, d.ExpiresAt = "c1", t0, t0.Add(time.Minute)
		wantErr(f.t, "CreateDeviceCode duplicate", f.s.CreateDeviceCode(f.ctx, d), store.ErrConflict)
	}
	// The first is intact.
	_, err := f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("BCDFGHJK"), t0)
	wantErr(f.t, "first code", err, nil)
	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("LMNPQRST"), t0)
	wantErr(f.t, "refused code", err, store.ErrNotFound)
}

func testDeviceDecide(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	f.device("dc2", "BBBB", "c1", t0.Add(10*time.Minute))
	now := t0.Add(time.Minute)
	auth := t0.Add(-time.Hour)

	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", auth, nil, now), nil)
	_, err := f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("AAAA"), now)
	wantErr(f.t, "approved code is no longer pending", err, store.ErrNotFound)
	// Double approval (another tab, another person) is refused, as is a
	// late denial.
	wantErr(f.t, "approve again", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", auth, nil, now), store.ErrNotFound)
	wantErr(f.t, "deny after approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), false, "", time.Time{}, nil, now), store.ErrNotFound)

	wantErr(f.t, "deny", f.s.DecideDeviceCode(f.ctx, store.HashToken("BBBB"), false, "", time.Time{}, nil, now), nil)
	wantErr(f.t, "approve after deny", f.s.DecideDeviceCode(f.ctx, store.HashToken("BBBB"), true, "u1", auth, nil, now), store.ErrNotFound)
	wantErr(f.t, "unknown", f.s.DecideDeviceCode(f.ctx, store.HashToken("CCCC"), true, "u1", auth, nil, now), store.ErrNotFound)

	// The approval carries the user and the authentication time.
	d, _, _, err := f.poll("dc1", now, "g1", "")
	wantErr(f.t, "poll approved", err, nil)
	if d.Status != store.DeviceApproved || d.UserID != "u1" || !d.AuthTime.Equal(auth) {
		f.t.Errorf("approved code = %+v, want approved by u1 at %v", d, auth)
	}
	d, _, _, err = f.poll("dc2", now, "g2", "")
	wantErr(f.t, "poll denied", err, nil)
	if d.Status != store.DeviceDenied || d.UserID != "" {
		f.t.Errorf("denied code = %+v", d)
	}
}

func testDeviceDecideExpired(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.device("dc1", "AAAA", "c1", t0.Add(time.Minute))
	late := t0.Add(time.Minute)
	wantErr(f.t, "approve expired", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", t0, nil, late), store.ErrNotFound)
	wantErr(f.t, "deny expired", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), false, "", time.Time{}, nil, late), store.ErrNotFound)
	// Still pending before expiry: the refused answers wrote nothing.
	d, _, _, err := f.poll("dc1", t0, "g1", "")
	wantErr(f.t, "poll", err, nil)
	if d.Status != store.DevicePending {
		f.t.Errorf("status = %q, want pending", d.Status)
	}
}

func testDevicePollPending(f *fixture) {
	f.client("c1", "TV")
	c := f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	t1 := t0.Add(5 * time.Second)
	d, g, _, err := f.poll("dc1", t1, "g1", "rt1")
	wantErr(f.t, "first poll", err, nil)
	diff(f.t, "first poll returns the code before the poll", d, c)
	if g.UserID != "" || g.ClientID != "" {
		f.t.Errorf("caller's grant changed by a pending poll: %+v", g)
	}
	f.noGrant("g1")
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "refresh token of a pending poll", err, store.ErrNotFound)

	t2 := t1.Add(5 * time.Second)
	d, _, _, err = f.poll("dc1", t2, "g2", "")
	wantErr(f.t, "second poll", err, nil)
	if !d.LastPolledAt.Equal(t1) || d.Interval != 5*time.Second || d.PolledTooSoon(t2) {
		f.t.Errorf("second poll saw LastPolledAt %v Interval %v; want %v, 5s, not too soon", d.LastPolledAt, d.Interval, t1)
	}
}

func testDevicePollSlowDown(f *fixture) {
	f.client("c1", "TV")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	t1 := t0.Add(5 * time.Second)
	_, _, _, err := f.poll("dc1", t1, "g1", "")
	wantErr(f.t, "first poll", err, nil)
	t2 := t1.Add(2 * time.Second) // too soon
	d, _, _, err := f.poll("dc1", t2, "g1", "")
	wantErr(f.t, "fast poll", err, nil)
	if !d.PolledTooSoon(t2) {
		f.t.Fatalf("poll 2 s after the last with a 5 s interval not too soon: %+v", d)
	}
	// RFC 8628 §3.5: the interval grows by 5 s for all subsequent requests.
	t3 := t2.Add(6 * time.Second)
	d, _, _, err = f.poll("dc1", t3, "g1", "")
	wantErr(f.t, "third poll", err, nil)
	if d.Interval != 10*time.Second || !d.LastPolledAt.Equal(t2) || !d.PolledTooSoon(t3) {
		f.t.Errorf("after slow_down: Interval %v LastPolledAt %v; want 10s, %v, and 6 s too soon", d.Interval, d.LastPolledAt, t2)
	}
	t4 := t3.Add(10 * time.Second)
	d, _, _, err = f.poll("dc1", t4, "g1", "")
	wantErr(f.t, "fourth poll", err, nil)
	if d.Interval != 15*time.Second {
		f.t.Errorf("Interval %v after two slow polls, want 15s", d.Interval)
	}
	// PolledTooSoon tolerates a tenth of the interval (ticker clients).
	if d.PolledTooSoon(d.LastPolledAt.Add(14 * time.Second)) {
		f.t.Error("a poll 14 s after the last with a 15 s interval counted as too soon")
	}
	if !d.PolledTooSoon(d.LastPolledAt.Add(13 * time.Second)) {
		f.t.Error("a poll 13 s after the last with a 15 s interval not too soon")
	}
}

func testDevicePollApproved(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	c := f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	auth := t0.Add(30 * time.Second)
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", auth, nil, t0.Add(time.Minute)), nil)

	now := t0.Add(2 * time.Minute)
	d, g, rt, err := f.poll("dc1", now, "g1", "rt1")
	wantErr(f.t, "poll approved", err, nil)
	want := *c
	want.Status, want.UserID, want.AuthTime, want.UsedAt, want.GrantID = store.DeviceApproved, "u1", auth, now, "g1"
	diff(f.t, "redeemed code", d, &want)
	wantG := &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantDeviceCode, Scopes: c.Scopes,
		AuthTime: auth, CreatedAt: now, LastUsedAt: now, ClientName: "TV"}
	diff(f.t, "grant from device code", f.getGrant("g1"), wantG)
	if g.UserID != "u1" || g.ClientID != "c1" || !slices.Equal(g.Scopes, c.Scopes) || rt.GrantID != "g1" {
		f.t.Errorf("caller's grant or token not filled: %+v %+v", g, rt)
	}
	st, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "refresh token", err, nil)
	diff(f.t, "refresh token", st, &store.RefreshToken{Hash: store.HashToken("rt1"), GrantID: "g1", Scopes: c.Scopes, CreatedAt: now})

	// Issued once: a second poll (even later, past expiry) is a used code,
	// and the grant of the first stays live.
	for _, at := range []time.Time{now.Add(5 * time.Second), t0.Add(time.Hour)} {
		_, _, _, err = f.poll("dc1", at, "g2", "rt2")
		wantErr(f.t, "poll after redemption", err, store.ErrAlreadyUsed)
	}
	f.noGrant("g2")
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "second refresh token", err, store.ErrNotFound)
	if g := f.getGrant("g1"); !g.RevokedAt.IsZero() {
		f.t.Error("a second poll revoked the first poll's grant")
	}

	// Explicit grant fields are kept; no refresh token.
	f.device("dc2", "BBBB", "c1", t0.Add(10*time.Minute))
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("BBBB"), true, "u1", auth, nil, now), nil)
	g3 := &store.Grant{ID: "g3", ClientID: "c1", GrantType: store.GrantDeviceCode, Scopes: []string{"openid"}, CreatedAt: now}
	_, err = f.s.PollDeviceCode(f.ctx, store.HashToken("dc2"), now, g3, nil)
	wantErr(f.t, "poll without refresh token", err, nil)
	diff(f.t, "explicit scopes kept", f.getGrant("g3").Scopes, []string{"openid"})
}

func testDevicePollDenied(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	wantErr(f.t, "deny", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), false, "u1", t0, nil, t0), nil)
	for i := range 2 {
		d, _, _, err := f.poll("dc1", t0.Add(time.Duration(i+1)*10*time.Second), "g1", "rt1")
		wantErr(f.t, "poll denied", err, nil)
		if d.Status != store.DeviceDenied || !d.UsedAt.IsZero() {
			f.t.Errorf("poll of a denied code = %+v", d)
		}
	}
	f.noGrant("g1")
}

func testDevicePollExpired(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.device("dc1", "AAAA", "c1", t0.Add(time.Minute))
	f.device("dc2", "BBBB", "c1", t0.Add(time.Minute))
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("BBBB"), true, "u1", t0, nil, t0), nil)
	for _, dc := range []string{"dc1", "dc2"} {
		_, _, _, err := f.poll(dc, t0.Add(time.Minute), "g-"+dc, "rt-"+dc)
		wantErr(f.t, "poll expired "+dc, err, store.ErrExpired)
		f.noGrant("g-" + dc)
	}
}

func testDevicePollUnknown(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	_, _, _, err := f.poll("nope", t0, "g1", "rt1")
	wantErr(f.t, "poll unknown", err, store.ErrNotFound)
	f.noGrant("g1")
}

func testDevicePollWrongClient(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.client("c2", "Other")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", t0, nil, t0), nil)
	g := &store.Grant{ID: "g1", ClientID: "c2", GrantType: store.GrantDeviceCode, CreatedAt: t0}
	_, err := f.s.PollDeviceCode(f.ctx, store.HashToken("dc1"), t0.Add(time.Second), g, nil)
	wantErr(f.t, "poll by another client", err, store.ErrNotFound)
	f.noGrant("g1")
	// Untouched: the right client redeems it, and no poll was recorded.
	g = &store.Grant{ID: "g2", ClientID: "c1", GrantType: store.GrantDeviceCode, CreatedAt: t0}
	d, err := f.s.PollDeviceCode(f.ctx, store.HashToken("dc1"), t0.Add(2*time.Second), g, nil)
	wantErr(f.t, "poll by its client", err, nil)
	if !d.LastPolledAt.IsZero() || d.GrantID != "g2" {
		f.t.Errorf("code after another client's poll: %+v", d)
	}
}

// testDevicePollFailure: a poll whose grant cannot be written (its ID is
// taken) fails whole: the code stays approved and unused.
func testDevicePollFailure(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.grant("taken", "u1", "c1", "")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", t0, nil, t0), nil)
	_, g, _, err := f.poll("dc1", t0.Add(time.Second), "taken", "rt1")
	if err == nil {
		f.t.Fatal("poll issuing a grant with a taken ID succeeded")
	}
	if g.UserID != "" {
		f.t.Errorf("caller's grant changed by a failed poll: %+v", g)
	}
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "token of the failed poll", err, store.ErrNotFound)
	d, _, _, err := f.poll("dc1", t0.Add(2*time.Second), "g1", "rt1")
	wantErr(f.t, "poll after the failure", err, nil)
	if !d.LastPolledAt.IsZero() || d.GrantID != "g1" {
		f.t.Errorf("the failed poll left a trace: %+v", d)
	}
}

func testDeviceCascade(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.client("c2", "Radio")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	f.device("dc2", "BBBB", "c2", t0.Add(10*time.Minute))
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("BBBB"), true, "u1", t0, nil, t0), nil)
	wantErr(f.t, "DeleteClient", f.s.DeleteClient(f.ctx, "c1"), nil)
	_, _, _, err := f.poll("dc1", t0, "g1", "")
	wantErr(f.t, "code of a deleted client", err, store.ErrNotFound)
	wantErr(f.t, "DeleteUser", f.s.DeleteUser(f.ctx, "u1"), nil)
	_, _, _, err = f.poll("dc2", t0, "g2", "")
	wantErr(f.t, "code approved by a deleted user", err, store.ErrNotFound)
}

func testDeviceDeleteExpired(f *fixture) {
	f.client("c1", "TV")
	now := t0.Add(time.Hour)
	for i := range 3 {
		f.device(fmt.Sprintf("old-%d", i), fmt.Sprintf("OLD%d", i), "c1", now)
	}
	f.device("fresh", "FRESH", "c1", now.Add(time.Second))
	n, err := f.s.DeleteExpired(f.ctx, now, 2)
	wantErr(f.t, "DeleteExpired", err, nil)
	if n != 2 {
		f.t.Errorf("first DeleteExpired = %d, want 2", n)
	}
	n, err = f.s.DeleteExpired(f.ctx, now, 2)
	wantErr(f.t, "DeleteExpired", err, nil)
	if n != 1 {
		f.t.Errorf("second DeleteExpired = %d, want 1", n)
	}
	for i := range 3 {
		_, _, _, err := f.poll(fmt.Sprintf("old-%d", i), t0, "g", "")
		wantErr(f.t, "expired device code", err, store.ErrNotFound)
	}
	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("FRESH"), now)
	wantErr(f.t, "fresh device code", err, nil)
}

// concDevicePoll: of N concurrent polls of an approved code exactly one
// gets the grant (RFC 8628: the device code is single use); the others see
// it used, and their grants and tokens were never written.
func concDevicePoll(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", t0, nil, t0), nil)
	errs := race(workers, func(i int) error {
		_, _, _, err := f.poll("dc1", t0.Add(time.Minute), fmt.Sprintf("g%d", i), fmt.Sprintf("rt%d", i))
		return err
	})
	ok, used := tally(f.t, "PollDeviceCode", errs, store.ErrAlreadyUsed)
	if ok != 1 || used != workers-1 {
		f.t.Fatalf("%d polls got the grant and %d saw the code used; want 1 and %d", ok, used, workers-1)
	}
	winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	for i := range workers {
		g, err := f.s.GetGrant(f.ctx, fmt.Sprintf("g%d", i))
		_, terr := f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("rt%d", i)))
		if i != winner {
			wantErr(f.t, "loser's grant", err, store.ErrNotFound)
			wantErr(f.t, "loser's token", terr, store.ErrNotFound)
			continue
		}
		wantErr(f.t, "winner's grant", err, nil)
		wantErr(f.t, "winner's token", terr, nil)
		if !g.Live(t0.Add(time.Minute)) {
			f.t.Error("winner's grant is not live")
		}
	}
}

// concDeviceDecide: of N concurrent answers to one authorization exactly one
// counts.
func concDeviceDecide(f *fixture) {
	f.client("c1", "TV")
	for i := range workers {
		f.user(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))
	}
	f.device("dc1", "AAAA", "c1", t0.Add(10*time.Minute))
	errs := race(workers, func(i int) error {
		return f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), i%2 == 0, fmt.Sprintf("u%d", i), t0, nil, t0)
	})
	ok, refused := tally(f.t, "DecideDeviceCode", errs, store.ErrNotFound)
	if ok != 1 || refused != workers-1 {
		f.t.Fatalf("%d answers counted and %d were refused; want 1 and %d", ok, refused, workers-1)
	}
	winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	d, _, _, err := f.poll("dc1", t0.Add(time.Second), "g", "")
	wantErr(f.t, "poll", err, nil)
	wantStatus, wantUser := store.DeviceDenied, ""
	if winner%2 == 0 {
		wantStatus, wantUser = store.DeviceApproved, fmt.Sprintf("u%d", winner)
	}
	if d.Status != wantStatus || d.UserID != wantUser {
		f.t.Errorf("code after the race = %s by %q, want %s by %q", d.Status, d.UserID, wantStatus, wantUser)
	}
}
