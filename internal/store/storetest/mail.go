package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// The outbox (MailStore) and mailed links (AccountTokenStore).

var mailTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"MailClaimLease", testMailClaimLease},
	{"MailRetryFailed", testMailRetryFailed},
	{"MailStaleClaim", testMailStaleClaim},
	{"MailList", testMailList},
	{"MailJanitor", testMailJanitor},
	{"UserWithToken", testUserWithToken},
	{"UserWithTokenConflictWritesNothing", testUserWithTokenConflict},
	{"IssueTokenByEmail", testIssueTokenByEmail},
	{"IssueTokenAtomic", testIssueTokenAtomic},
	{"UpdateUserNotify", testUpdateUserNotify},
	{"TokenSingleUseExpiry", testTokenSingleUse},
	{"TokenResetRevokes", testTokenReset},
	{"TokenEmailChange", testTokenEmailChange},
	{"TokenEmailChangeConflictWritesNothing", testTokenEmailChangeConflict},
	{"TokenCascade", testTokenCascade},
}

var mailConcurrencyTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"ClaimMail", concClaimMail},
	{"RedeemAccountToken", concRedeemToken},
}

func msg(id, to string) *store.OutboxMessage {
	return &store.OutboxMessage{ID: id, Kind: "verify", Recipient: to, Subject: "Hola " + id, Lang: "es",
		MessageID: "<" + id + "@example.com>", Body: []byte("sealed " + id), CreatedAt: t0}
}

func (f *fixture) claim(now time.Time, limit int) []*store.OutboxMessage {
	f.t.Helper()
	l, err := f.s.ClaimMail(f.ctx, now, time.Minute, limit)
	if err != nil {
		f.t.Fatalf("ClaimMail: %v", err)
	}
	return l
}

func ids(l []*store.OutboxMessage) []string {
	var out []string
	for _, m := range l {
		out = append(out, m.ID)
	}
	return out
}

func testMailClaimLease(f *fixture) {
	wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, msg("m1", "a@example.com"), msg("m2", "b@example.com")), nil)
	got := f.claim(t0, 1)
	if len(got) != 1 || got[0].ID != "m1" {
		f.t.Fatalf("first claim = %v, want [m1]", ids(got))
	}
	m := got[0]
	diff(f.t, "claimed body", string(m.Body), "sealed m1")
	if m.State != store.MailSending || m.Attempts != 1 || m.Claim == "" || !m.LeaseUntil.Equal(t0.Add(time.Minute)) {
		f.t.Fatalf("claimed message: %+v", m)
	}
	// Leased: not claimed again before the lease ends, even by a claim
	// that asks for everything.
	diff(f.t, "claim during lease", ids(f.claim(t0.Add(30*time.Second), 10)), []string{"m2"})
	diff(f.t, "nothing due", ids(f.claim(t0.Add(59*time.Second), 10)), []string(nil))
	// Its deliverer died: after the lease another claim takes it, with
	// another claim id and one more attempt.
	again := f.claim(t0.Add(2*time.Minute), 1)
	if len(again) != 1 || again[0].ID != "m1" || again[0].Claim == m.Claim || again[0].Attempts != 2 {
		f.t.Fatalf("claim after lease: %+v", again)
	}
	wantErr(f.t, "MarkMailSent with the dead claim", f.s.MarkMailSent(f.ctx, "m1", m.Claim, t0), store.ErrNotFound)
	wantErr(f.t, "MarkMailSent", f.s.MarkMailSent(f.ctx, "m1", again[0].Claim, t0.Add(2*time.Minute)), nil)
	wantErr(f.t, "MarkMailSent twice", f.s.MarkMailSent(f.ctx, "m1", again[0].Claim, t0), store.ErrNotFound)
	// Sent is final: never claimed again, body erased.
	diff(f.t, "claim after sent", ids(f.claim(t0.Add(time.Hour), 10)), []string{"m2"})
	l, _, err := f.s.ListMail(f.ctx, store.ListOptions{Filters: []store.Filter{flt("state", "eq", "sent")}})
	wantErr(f.t, "ListMail", err, nil)
	if len(l) != 1 || l[0].ID != "m1" || l[0].Body != nil || !l[0].SentAt.Equal(t0.Add(2*time.Minute)) {
		f.t.Fatalf("sent message listed as %+v", l)
	}
}

func testMailRetryFailed(f *fixture) {
	wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, msg("m1", "a@example.com")), nil)
	m := f.claim(t0, 1)[0]
	next := t0.Add(10 * time.Minute)
	wantErr(f.t, "MarkMailRetry", f.s.MarkMailRetry(f.ctx, "m1", m.Claim, next, "421 try later"), nil)
	diff(f.t, "claim before next attempt", ids(f.claim(next.Add(-time.Microsecond), 10)), []string(nil))
	l, _, _ := f.s.ListMail(f.ctx, store.ListOptions{})
	if l[0].State != store.MailRetrying || l[0].LastError != "421 try later" || !l[0].NextAttemptAt.Equal(next) {
		f.t.Fatalf("retrying message listed as %+v", l[0])
	}
	m2 := f.claim(next, 10)
	if len(m2) != 1 || m2[0].Attempts != 2 || string(m2[0].Body) != "sealed m1" {
		f.t.Fatalf("claim at next attempt: %+v", m2)
	}
	wantErr(f.t, "MarkMailFailed", f.s.MarkMailFailed(f.ctx, "m1", m2[0].Claim, next, "550 no such user"), nil)
	diff(f.t, "claim after failed", ids(f.claim(next.Add(48*time.Hour), 10)), []string(nil))
	l, _, _ = f.s.ListMail(f.ctx, store.ListOptions{})
	if l[0].State != store.MailFailed || l[0].LastError != "550 no such user" || l[0].Attempts != 2 {
		f.t.Fatalf("failed message listed as %+v", l[0])
	}
}

// testMailStaleClaim: a deliverer whose lease ran out changes nothing.
func testMailStaleClaim(f *fixture) {
	wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, msg("m1", "a@example.com")), nil)
	old := f.claim(t0, 1)[0]
	cur := f.claim(t0.Add(time.Hour), 1)[0]
	wantErr(f.t, "stale retry", f.s.MarkMailRetry(f.ctx, "m1", old.Claim, t0, "x"), store.ErrNotFound)
	wantErr(f.t, "stale failed", f.s.MarkMailFailed(f.ctx, "m1", old.Claim, t0, "x"), store.ErrNotFound)
	wantErr(f.t, "current sent", f.s.MarkMailSent(f.ctx, "m1", cur.Claim, t0.Add(time.Hour)), nil)
}

func testMailList(f *fixture) {
	a, b := msg("m1", "a@example.com"), msg("m2", "b@example.com")
	b.CreatedAt = t0.Add(time.Second)
	wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, a, b), nil)
	l, n, err := f.s.ListMail(f.ctx, store.ListOptions{})
	wantErr(f.t, "ListMail", err, nil)
	if n != 2 || len(l) != 2 || l[0].ID != "m2" || l[0].Body != nil || l[0].State != store.MailQueued {
		f.t.Fatalf("ListMail = %d %+v", n, l)
	}
	l, n, _ = f.s.ListMail(f.ctx, store.ListOptions{Filters: []store.Filter{flt("recipient", "contains", "A@EX")}})
	if n != 1 || l[0].ID != "m1" {
		f.t.Fatalf("filtered ListMail = %d %v", n, ids(l))
	}
	_, _, err = f.s.ListMail(f.ctx, store.ListOptions{Sort: "body"})
	wantErr(f.t, "sort by body", err, store.ErrBadField)
}

func newUser(id, email string) *store.User {
	return &store.User{ID: id, Email: email, EmailKey: email, PasswordHash: "old", Activated: true,
		Lang: "en", CreatedAt: t0, UpdatedAt: t0}
}

func tok(secret, purpose string, expires time.Time) *store.AccountToken {
	return &store.AccountToken{Hash: store.HashToken(secret), Purpose: purpose, CreatedAt: t0, ExpiresAt: expires}
}

func (f *fixture) mailCount() int {
	f.t.Helper()
	_, n, err := f.s.ListMail(f.ctx, store.ListOptions{})
	wantErr(f.t, "ListMail", err, nil)
	return n
}

func testUserWithToken(f *fixture) {
	u := newUser("u1", "a@example.com")
	t := tok("v1", store.TokenVerify, t0.Add(24*time.Hour))
	t.EmailKey = u.EmailKey
	m := msg("m1", u.Email)
	wantErr(f.t, "CreateUserWithToken", f.s.CreateUserWithToken(f.ctx, u, t, m), nil)
	got := f.getUser("u1")
	if got.Lang != "en" || got.EmailVerified {
		f.t.Fatalf("created user %+v", got)
	}
	tk, tu, err := f.s.GetAccountToken(f.ctx, store.HashToken("v1"), store.TokenVerify, t0)
	wantErr(f.t, "GetAccountToken", err, nil)
	if tk.UserID != "u1" || tu.ID != "u1" {
		f.t.Fatalf("token %+v of %+v", tk, tu)
	}
	l, _, _ := f.s.ListMail(f.ctx, store.ListOptions{})
	if len(l) != 1 || l[0].UserID != "u1" {
		f.t.Fatalf("queued %+v", l)
	}
}

func testUserWithTokenConflict(f *fixture) {
	f.user("u0", "a@example.com")
	err := f.s.CreateUserWithToken(f.ctx, newUser("u1", "a@example.com"), tok("v1", store.TokenVerify, t0.Add(time.Hour)), msg("m1", "a@example.com"))
	wantErr(f.t, "CreateUserWithToken", err, store.ErrConflict)
	_, _, err = f.s.GetAccountToken(f.ctx, store.HashToken("v1"), store.TokenVerify, t0)
	wantErr(f.t, "token after a conflict", err, store.ErrNotFound)
	diff(f.t, "messages after a conflict", f.mailCount(), 0)
}

func testIssueTokenByEmail(f *fixture) {
	f.user("u1", "a@example.com")
	var seen *store.User
	t := tok("r1", store.TokenReset, t0.Add(30*time.Minute))
	t.EmailKey = "a@example.com"
	err := f.s.IssueAccountToken(f.ctx, t, func(u *store.User) []*store.OutboxMessage {
		seen = u
		return []*store.OutboxMessage{msg("m1", u.Email)}
	})
	wantErr(f.t, "IssueAccountToken", err, nil)
	if seen == nil || seen.ID != "u1" || t.UserID != "u1" {
		f.t.Fatalf("built for %+v, token %+v", seen, t)
	}
	diff(f.t, "messages", f.mailCount(), 1)
	// Unknown address: nothing written.
	t2 := tok("r2", store.TokenReset, t0.Add(30*time.Minute))
	t2.EmailKey = "nobody@example.com"
	wantErr(f.t, "unknown address", f.s.IssueAccountToken(f.ctx, t2, nil), store.ErrNotFound)
	// Disabled account: nothing written either.
	wantErr(f.t, "DisableUser", f.s.DisableUser(f.ctx, "u1", t0), nil)
	t3 := tok("r3", store.TokenReset, t0.Add(30*time.Minute))
	t3.EmailKey = "a@example.com"
	wantErr(f.t, "disabled account", f.s.IssueAccountToken(f.ctx, t3, func(u *store.User) []*store.OutboxMessage {
		return []*store.OutboxMessage{msg("m3", u.Email)}
	}), store.ErrNotFound)
	diff(f.t, "messages", f.mailCount(), 1)
	_, _, err = f.s.GetAccountToken(f.ctx, store.HashToken("r1"), store.TokenReset, t0)
	wantErr(f.t, "a disabled account's link", err, store.ErrNotFound)
}

func (f *fixture) issue(userID, secret, purpose string, expires time.Time, emailKey string) {
	f.t.Helper()
	t := tok(secret, purpose, expires)
	t.UserID, t.EmailKey = userID, emailKey
	wantErr(f.t, "IssueAccountToken", f.s.IssueAccountToken(f.ctx, t, nil), nil)
}

func (f *fixture) redeem(secret, purpose string, now time.Time, pw string) (*store.User, error) {
	_, u, err := f.s.RedeemAccountToken(f.ctx, store.Redemption{Hash: store.HashToken(secret), Purpose: purpose, Now: now, PasswordHash: pw})
	return u, err
}

func testTokenSingleUse(f *fixture) {
	f.user("u1", "a@example.com")
	f.issue("u1", "v1", store.TokenVerify, t0.Add(time.Hour), "a@example.com")
	f.issue("u1", "v2", store.TokenVerify, t0.Add(time.Hour), "a@example.com")
	f.issue("u1", "v3", store.TokenVerify, t0.Add(time.Minute), "a@example.com")
	_, err := f.redeem("v1", store.TokenReset, t0, "x")
	wantErr(f.t, "another purpose", err, store.ErrNotFound)
	_, err = f.redeem("nope", store.TokenVerify, t0, "")
	wantErr(f.t, "unknown", err, store.ErrNotFound)
	_, err = f.redeem("v3", store.TokenVerify, t0.Add(time.Minute), "")
	wantErr(f.t, "expired", err, store.ErrExpired)
	if f.getUser("u1").EmailVerified {
		f.t.Fatal("verified by a refused link")
	}
	u, err := f.redeem("v1", store.TokenVerify, t0, "")
	wantErr(f.t, "redeem", err, nil)
	if !u.EmailVerified || !f.getUser("u1").EmailVerified {
		f.t.Fatal("not verified after redeeming")
	}
	_, err = f.redeem("v1", store.TokenVerify, t0, "")
	wantErr(f.t, "second use", err, store.ErrAlreadyUsed)
	_, err = f.redeem("v2", store.TokenVerify, t0, "")
	wantErr(f.t, "a sibling link", err, store.ErrAlreadyUsed)
	// A link sent to an address the account no longer has is void.
	f.issue("u1", "v4", store.TokenVerify, t0.Add(time.Hour), "a@example.com")
	_, err = f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{Email: ptr("b@example.com"), EmailKey: ptr("b@example.com")}, t0)
	wantErr(f.t, "UpdateUser", err, nil)
	_, err = f.redeem("v4", store.TokenVerify, t0, "")
	wantErr(f.t, "link to the old address", err, store.ErrNotFound)
}

func testTokenReset(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: "s1", SecretHash: []byte("h"), UserID: "u1",
		AuthTime: t0, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}), nil)
	f.issue("u1", "r1", store.TokenReset, t0.Add(30*time.Minute), "a@example.com")
	f.issue("u1", "r2", store.TokenReset, t0.Add(30*time.Minute), "a@example.com")
	f.issue("u1", "v1", store.TokenVerify, t0.Add(time.Hour), "a@example.com")
	_, _, err := f.s.RedeemAccountToken(f.ctx, store.Redemption{Hash: store.HashToken("r1"), Purpose: store.TokenReset,
		Now: t0.Add(time.Minute), PasswordHash: "new",
		Notify: func(u *store.User) []*store.OutboxMessage { return []*store.OutboxMessage{msg("n1", u.Email)} }})
	wantErr(f.t, "redeem reset", err, nil)
	u := f.getUser("u1")
	if u.PasswordHash != "new" || !u.EmailVerified {
		f.t.Fatalf("after reset: %+v", u)
	}
	if g := f.getGrant("g1"); g.RevokedAt.IsZero() {
		f.t.Error("grant survived the reset")
	}
	_, err = f.s.GetSession(f.ctx, "s1")
	wantErr(f.t, "session after reset", err, store.ErrNotFound)
	_, err = f.redeem("r2", store.TokenReset, t0, "again")
	wantErr(f.t, "the other reset link", err, store.ErrAlreadyUsed)
	// A verification link is another purpose: it still works.
	_, err = f.redeem("v1", store.TokenVerify, t0, "")
	wantErr(f.t, "verification link", err, nil)
	diff(f.t, "notice queued", f.mailCount(), 1)
}

func testTokenEmailChange(f *fixture) {
	f.user("u1", "a@example.com")
	t := tok("e1", store.TokenEmailChange, t0.Add(time.Hour))
	t.UserID, t.NewEmail, t.NewEmailKey = "u1", "New@Example.com", "new@example.com"
	wantErr(f.t, "IssueAccountToken", f.s.IssueAccountToken(f.ctx, t, nil), nil)
	f.issue("u1", "r1", store.TokenReset, t0.Add(30*time.Minute), "a@example.com")
	if u := f.getUser("u1"); u.Email != "a@example.com" {
		f.t.Fatalf("address changed before confirmation: %s", u.Email)
	}
	u, err := f.redeem("e1", store.TokenEmailChange, t0, "")
	wantErr(f.t, "redeem", err, nil)
	if u.Email != "New@Example.com" || u.EmailKey != "new@example.com" || !u.EmailVerified {
		f.t.Fatalf("after confirmation: %+v", u)
	}
	_, err = f.redeem("r1", store.TokenReset, t0, "x")
	wantErr(f.t, "reset link sent to the old address", err, store.ErrNotFound)
}

func testTokenEmailChangeConflict(f *fixture) {
	f.user("u1", "a@example.com")
	t := tok("e1", store.TokenEmailChange, t0.Add(time.Hour))
	t.UserID, t.NewEmail, t.NewEmailKey = "u1", "b@example.com", "b@example.com"
	wantErr(f.t, "IssueAccountToken", f.s.IssueAccountToken(f.ctx, t, nil), nil)
	f.user("u2", "b@example.com") // took the address meanwhile
	_, err := f.redeem("e1", store.TokenEmailChange, t0, "")
	wantErr(f.t, "redeem a taken address", err, store.ErrConflict)
	if u := f.getUser("u1"); u.Email != "a@example.com" {
		f.t.Fatalf("address changed: %s", u.Email)
	}
	if _, _, err := f.s.GetAccountToken(f.ctx, store.HashToken("e1"), store.TokenEmailChange, t0); err != nil {
		f.t.Fatalf("the link was used by a failed confirmation: %v", err)
	}
}

func testTokenCascade(f *fixture) {
	f.user("u1", "a@example.com")
	f.issue("u1", "v1", store.TokenVerify, t0.Add(time.Hour), "a@example.com")
	wantErr(f.t, "DeleteUser", f.s.DeleteUser(f.ctx, "u1"), nil)
	_, err := f.redeem("v1", store.TokenVerify, t0, "")
	wantErr(f.t, "a deleted account's link", err, store.ErrNotFound)
	// The janitor removes expired links.
	f.user("u2", "b@example.com")
	f.issue("u2", "v2", store.TokenVerify, t0.Add(time.Minute), "b@example.com")
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	_, err = f.redeem("v2", store.TokenVerify, t0.Add(time.Hour), "")
	wantErr(f.t, "an expired link the day it expired", err, store.ErrExpired)
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(25*time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	_, err = f.redeem("v2", store.TokenVerify, t0, "")
	wantErr(f.t, "an expired link after the janitor", err, store.ErrNotFound)
}

// concClaimMail: concurrent deliverers never claim one message twice, and
// together they claim every message.
func concClaimMail(f *fixture) {
	const n = 40
	for i := range n {
		wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, msg(fmt.Sprintf("m%02d", i), "a@example.com")), nil)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	errs := race(workers, func(int) error {
		for range n {
			l, err := f.s.ClaimMail(f.ctx, t0, time.Minute, 3)
			if err != nil {
				return err
			}
			if len(l) == 0 {
				return nil
			}
			mu.Lock()
			for _, m := range l {
				seen[m.ID]++
			}
			mu.Unlock()
		}
		return nil
	})
	tally(f.t, "ClaimMail", errs, nil)
	if len(seen) != n {
		f.t.Errorf("%d messages claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			f.t.Errorf("message %s claimed %d times", id, c)
		}
	}
}

// concRedeemToken: of N concurrent uses of one link exactly one wins.
func concRedeemToken(f *fixture) {
	f.user("u1", "a@example.com")
	f.issue("u1", "r1", store.TokenReset, t0.Add(time.Hour), "a@example.com")
	errs := race(workers, func(i int) error {
		_, err := f.redeem("r1", store.TokenReset, t0, fmt.Sprintf("pw%d", i))
		return err
	})
	ok, used := tally(f.t, "RedeemAccountToken", errs, store.ErrAlreadyUsed)
	if ok != 1 || used != workers-1 {
		f.t.Fatalf("%d uses succeeded and %d saw the link used; want 1 and %d", ok, used, workers-1)
	}
}

// testMailJanitor: sent and failed messages go after 30 days; waiting
// ones stay.
func testMailJanitor(f *fixture) {
	wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, msg("m1", "a@example.com"), msg("m2", "b@example.com"), msg("m3", "c@example.com")), nil)
	l := f.claim(t0, 2)
	wantErr(f.t, "sent", f.s.MarkMailSent(f.ctx, l[0].ID, l[0].Claim, t0), nil)
	wantErr(f.t, "failed", f.s.MarkMailFailed(f.ctx, l[1].ID, l[1].Claim, t0, "550"), nil)
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(29*24*time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	diff(f.t, "messages after 29 days", f.mailCount(), 3)
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(31*24*time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	left, _, _ := f.s.ListMail(f.ctx, store.ListOptions{})
	diff(f.t, "messages after 31 days", ids(left), []string{"m3"})
}

// testIssueTokenAtomic: a message that cannot be queued takes its link
// with it (one transaction).
func testIssueTokenAtomic(f *fixture) {
	f.user("u1", "a@example.com")
	wantErr(f.t, "EnqueueMail", f.s.EnqueueMail(f.ctx, msg("m1", "a@example.com")), nil)
	t := tok("v1", store.TokenVerify, t0.Add(time.Hour))
	t.UserID = "u1"
	err := f.s.IssueAccountToken(f.ctx, t, func(u *store.User) []*store.OutboxMessage {
		return []*store.OutboxMessage{msg("m1", u.Email)} // the id is taken
	})
	wantErr(f.t, "IssueAccountToken", err, store.ErrConflict)
	_, _, err = f.s.GetAccountToken(f.ctx, store.HashToken("v1"), store.TokenVerify, t0)
	wantErr(f.t, "the link of a message that was not queued", err, store.ErrNotFound)
	// And a redemption whose notice cannot be queued changes nothing.
	f.issue("u1", "r1", store.TokenReset, t0.Add(time.Hour), "a@example.com")
	_, _, err = f.s.RedeemAccountToken(f.ctx, store.Redemption{Hash: store.HashToken("r1"), Purpose: store.TokenReset, Now: t0,
		PasswordHash: "new", Notify: func(u *store.User) []*store.OutboxMessage { return []*store.OutboxMessage{msg("m1", u.Email)} }})
	wantErr(f.t, "RedeemAccountToken", err, store.ErrConflict)
	if u := f.getUser("u1"); u.PasswordHash == "new" {
		f.t.Fatal("the password changed although its notice was not queued")
	}
	if _, _, err := f.s.GetAccountToken(f.ctx, store.HashToken("r1"), store.TokenReset, t0); err != nil {
		f.t.Fatalf("the link was used up: %v", err)
	}
}

// testUpdateUserNotify: the change and its notice are one transaction.
func testUpdateUserNotify(f *fixture) {
	f.user("u1", "a@example.com")
	notice := func(id string) func(u *store.User) []*store.OutboxMessage {
		return func(u *store.User) []*store.OutboxMessage { return []*store.OutboxMessage{msg(id, u.Email)} }
	}
	u, err := f.s.UpdateUserNotify(f.ctx, "u1", store.UserUpdate{PasswordHash: ptr("new")}, t0, notice("n1"))
	wantErr(f.t, "UpdateUserNotify", err, nil)
	if u.PasswordHash != "new" || f.mailCount() != 1 {
		f.t.Fatalf("after the change: %+v, %d messages", u, f.mailCount())
	}
	_, err = f.s.UpdateUserNotify(f.ctx, "u1", store.UserUpdate{PasswordHash: ptr("newer")}, t0, notice("n1")) // the id is taken
	wantErr(f.t, "UpdateUserNotify with a message that cannot be queued", err, store.ErrConflict)
	if u := f.getUser("u1"); u.PasswordHash != "new" {
		f.t.Fatalf("the password changed although its notice was not queued: %+v", u)
	}
	_, err = f.s.UpdateUserNotify(f.ctx, "nobody", store.UserUpdate{PasswordHash: ptr("x")}, t0, notice("n2"))
	wantErr(f.t, "unknown user", err, store.ErrNotFound)
	diff(f.t, "messages", f.mailCount(), 1)
}
