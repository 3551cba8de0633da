// Package storetest is the conformance suite every store.Store backend
// passes: Run checks each method's contract (results, errors, and that a
// failed operation wrote nothing); RunConcurrency checks the operations that
// must stay exact under concurrency (one winner per code redemption and per
// refresh-token rotation, one account per email, exact counters, one meta
// value). Backends call both from their tests with a constructor that
// returns a fresh, migrated, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/multinexo/auth/internal/store"
)

// t0 is the suite's "now": microsecond precision, UTC, as the store keeps it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

// equate treats nil and empty slices alike; times compare with Equal.
var equate = cmpopts.EquateEmpty()

// fixture is a store plus helpers that fail the test on error.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
}

func newFixture(t *testing.T, newStore func(t *testing.T) store.Store) *fixture {
	t.Helper()
	return &fixture{t: t, s: newStore(t), ctx: t.Context()}
}

func (f *fixture) user(id, email string) *store.User {
	f.t.Helper()
	u := &store.User{
		ID: id, Email: email, EmailKey: email, FirstName: "Nombre " + id, LastName: "Apellido",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Activated: true,
		CreatedAt: t0, UpdatedAt: t0,
	}
	if err := f.s.CreateUser(f.ctx, u); err != nil {
		f.t.Fatalf("CreateUser(%s): %v", id, err)
	}
	return u
}

func (f *fixture) client(id, name string) *store.Client {
	f.t.Helper()
	c := &store.Client{
		ID: id, Name: name, Type: store.ClientConfidential, SecretHash: store.HashToken("secret-" + id),
		RedirectURIs: []string{"https://app.example/cb?x=1 y", "http://127.0.0.1/cb"},
		Grants:       []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
		Scopes:       []string{"openid", "profile"},
		CreatedAt:    t0, UpdatedAt: t0,
	}
	if err := f.s.CreateClient(f.ctx, c); err != nil {
		f.t.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

func (f *fixture) grant(id, userID, clientID string, rt string) *store.Grant {
	f.t.Helper()
	g := &store.Grant{
		ID: id, UserID: userID, ClientID: clientID, GrantType: store.GrantAuthorizationCode,
		Scopes: []string{"openid", "profile"}, AuthTime: t0, CreatedAt: t0, LastUsedAt: t0,
	}
	var tok *store.RefreshToken
	if rt != "" {
		tok = &store.RefreshToken{Hash: store.HashToken(rt), Scopes: g.Scopes, CreatedAt: t0}
	}
	if err := f.s.IssueGrant(f.ctx, g, tok); err != nil {
		f.t.Fatalf("IssueGrant(%s): %v", id, err)
	}
	return g
}

func (f *fixture) code(secret, clientID, userID string, expires time.Time) *store.AuthCode {
	f.t.Helper()
	c := &store.AuthCode{
		Hash: store.HashToken(secret), ClientID: clientID, UserID: userID,
		RedirectURI: "https://app.example/cb", Scopes: []string{"openid", "email"}, Nonce: "n-0S6",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		AuthTime: t0.Add(-time.Minute), SessionID: "sess-1", CreatedAt: t0, ExpiresAt: expires,
	}
	if err := f.s.CreateAuthCode(f.ctx, c); err != nil {
		f.t.Fatalf("CreateAuthCode: %v", err)
	}
	return c
}

func (f *fixture) getGrant(id string) *store.Grant {
	f.t.Helper()
	g, err := f.s.GetGrant(f.ctx, id)
	if err != nil {
		f.t.Fatalf("GetGrant(%s): %v", id, err)
	}
	return g
}

// wantErr fails unless errors.Is(err, want) (want nil: err must be nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, equate); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func ptr[T any](v T) *T { return &v }

func flt(field, op, value string) store.Filter {
	return store.Filter{Field: field, Op: op, Value: value}
}

// Run runs the conformance suite: one named subtest per behaviour, each on
// a fresh store from newStore (which must return an empty, migrated store
// and arrange its own clean-up).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(f *fixture)
	}{
		{"Ping", testPing},
		{"UserCreateGet", testUserCreateGet},
		{"UserConflict", testUserConflict},
		{"UserNotFound", testUserNotFound},
		{"UserUpdate", testUserUpdate},
		{"UserUpdateConflictWritesNothing", testUserUpdateConflict},
		{"UserEmailVerified", testUserEmailVerified},
		{"UserUpdateDisableRevokes", testUserUpdateDisable},
		{"DisableUser", testDisableUser},
		{"DisableClient", testDisableClient},
		{"DeleteUserCascades", testDeleteUser},
		{"CountUsers", testCountUsers},
		{"ListUsersPaging", testListUsersPaging},
		{"ListUsersSort", testListUsersSort},
		{"ListUsersFilters", testListUsersFilters},
		{"ListBadFields", testListBadFields},
		{"ClientCreateGet", testClientCreateGet},
		{"ClientConflict", testClientConflict},
		{"ClientUpdate", testClientUpdate},
		{"DeleteClientCascades", testDeleteClient},
		{"ListClients", testListClients},
		{"GrantCreateGet", testGrantCreateGet},
		{"GrantUnknownRefs", testGrantUnknownRefs},
		{"TouchGrant", testTouchGrant},
		{"RevokeGrant", testRevokeGrant},
		{"RevokeGrants", testRevokeGrants},
		{"ListGrants", testListGrants},
		{"IssueGrantAtomic", testIssueGrantAtomic},
		{"RotateRefreshToken", testRotate},
		{"RotateUnknown", testRotateUnknown},
		{"RotateRevokedGrant", testRotateRevoked},
		{"RotateExpiredGrant", testRotateExpired},
		{"RotateReuseRevokes", testRotateReuse},
		{"RotateGrace", testRotateGrace},
		{"RotateGraceSuccessorUsed", testRotateGraceSuccessorUsed},
		{"RotateGraceExpired", testRotateGraceExpired},
		{"RotateFailureWritesNothing", testRotateFailure},
		{"RedeemAuthCode", testRedeem},
		{"RedeemRefreshIfScope", testRedeemIfScope},
		{"RedeemUnknown", testRedeemUnknown},
		{"RedeemReplayRevokes", testRedeemReplay},
		{"RedeemExpired", testRedeemExpired},
		{"RedeemWrongClient", testRedeemWrongClient},
		{"RedeemFailureWritesNothing", testRedeemFailure},
		{"Sessions", testSessions},
		{"Consents", testConsents},
		{"SigningKeys", testSigningKeys},
		{"Counters", testCounters},
		{"Events", testEvents},
		{"Meta", testMeta},
		{"DeleteExpired", testDeleteExpired},
		{"Times", testTimes},
	}
	tests = append(tests, deviceTests...)
	tests = append(tests, mfaTests...)
	tests = append(tests, passkeyTests...)
	tests = append(tests, mailTests...)
	tests = append(tests, goneTests...)
	tests = append(tests, resourceTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(newFixture(t, newStore))
		})
	}
}

func testPing(f *fixture) {
	wantErr(f.t, "Ping", f.s.Ping(f.ctx), nil)
}

// Users.

func testUserCreateGet(f *fixture) {
	u := &store.User{
		ID: "u1", Email: "José@Example.com", EmailKey: "josé@example.com", FirstName: "José",
		LastName: "Núñez", PasswordHash: "$argon2id$x", AvatarURL: "https://img.example/a.png",
		Admin: true, Disabled: false, Activated: true, EmailVerified: true, CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
	wantErr(f.t, "CreateUser", f.s.CreateUser(f.ctx, u), nil)
	got, err := f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "GetUser", err, nil)
	diff(f.t, "GetUser", got, u)
	got, err = f.s.GetUserByEmailKey(f.ctx, "josé@example.com")
	wantErr(f.t, "GetUserByEmailKey", err, nil)
	diff(f.t, "GetUserByEmailKey", got, u)
	if got.CreatedAt.Location() != time.UTC {
		f.t.Errorf("CreatedAt location %v, want UTC", got.CreatedAt.Location())
	}
}

func testUserConflict(f *fixture) {
	f.user("u1", "a@example.com")
	dup := &store.User{ID: "u2", Email: "A@example.com", EmailKey: "a@example.com", CreatedAt: t0, UpdatedAt: t0}
	wantErr(f.t, "CreateUser same email key", f.s.CreateUser(f.ctx, dup), store.ErrConflict)
	wantErr(f.t, "GetUser after conflict", func() error { _, err := f.s.GetUser(f.ctx, "u2"); return err }(), store.ErrNotFound)
	dupID := &store.User{ID: "u1", Email: "b@example.com", EmailKey: "b@example.com", CreatedAt: t0, UpdatedAt: t0}
	wantErr(f.t, "CreateUser same id", f.s.CreateUser(f.ctx, dupID), store.ErrConflict)
	n, err := f.s.CountUsers(f.ctx)
	wantErr(f.t, "CountUsers", err, nil)
	if n != 1 {
		f.t.Fatalf("CountUsers = %d after conflicts, want 1", n)
	}
}

func testUserNotFound(f *fixture) {
	_, err := f.s.GetUser(f.ctx, "nobody")
	wantErr(f.t, "GetUser", err, store.ErrNotFound)
	_, err = f.s.GetUserByEmailKey(f.ctx, "nobody@example.com")
	wantErr(f.t, "GetUserByEmailKey", err, store.ErrNotFound)
	_, err = f.s.UpdateUser(f.ctx, "nobody", store.UserUpdate{FirstName: ptr("x")}, t0)
	wantErr(f.t, "UpdateUser", err, store.ErrNotFound)
	wantErr(f.t, "DisableUser", f.s.DisableUser(f.ctx, "nobody", t0), store.ErrNotFound)
	wantErr(f.t, "DeleteUser", f.s.DeleteUser(f.ctx, "nobody"), store.ErrNotFound)
}

func testUserUpdate(f *fixture) {
	u := f.user("u1", "a@example.com")
	later := t0.Add(time.Hour)
	got, err := f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{
		Email: ptr("B@example.com"), EmailKey: ptr("b@example.com"), FirstName: ptr("Ana"),
		LastName: ptr(""), PasswordHash: ptr("$argon2id$new"), Admin: ptr(true),
	}, later)
	wantErr(f.t, "UpdateUser", err, nil)
	want := *u
	want.Email, want.EmailKey, want.FirstName, want.LastName = "B@example.com", "b@example.com", "Ana", ""
	want.PasswordHash, want.Admin, want.UpdatedAt = "$argon2id$new", true, later
	diff(f.t, "UpdateUser result", got, &want)
	stored, err := f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "GetUser", err, nil)
	diff(f.t, "stored user", stored, &want)
	_, err = f.s.GetUserByEmailKey(f.ctx, "a@example.com")
	wantErr(f.t, "old email key", err, store.ErrNotFound)

	// Empty update only touches UpdatedAt.
	got, err = f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{}, later.Add(time.Hour))
	wantErr(f.t, "empty UpdateUser", err, nil)
	want.UpdatedAt = later.Add(time.Hour)
	diff(f.t, "empty UpdateUser", got, &want)
}

// testUserEmailVerified: the flag is stored, kept by unrelated changes and
// cleared, in the same statement, by a new address — never true for an
// address nobody proved.
func testUserEmailVerified(f *fixture) {
	u := f.user("u1", "a@example.com")
	if u.EmailVerified {
		f.t.Fatal("fixture user verified")
	}
	got, err := f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{EmailVerified: ptr(true)}, t0)
	wantErr(f.t, "UpdateUser verify", err, nil)
	if !got.EmailVerified {
		f.t.Fatal("EmailVerified not set")
	}
	got, err = f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{FirstName: ptr("Ana"), Email: ptr("a@example.com")}, t0)
	wantErr(f.t, "UpdateUser same address", err, nil)
	if !got.EmailVerified {
		f.t.Error("setting the same address again cleared EmailVerified")
	}
	// The same mailbox (same key) written in another case keeps the flag.
	got, err = f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{Email: ptr("A@Example.com"), EmailKey: ptr("a@example.com")}, t0)
	wantErr(f.t, "UpdateUser same key", err, nil)
	if !got.EmailVerified || got.Email != "A@Example.com" {
		f.t.Errorf("same key in another case: %q verified=%v", got.Email, got.EmailVerified)
	}
	got, err = f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{Email: ptr("b@example.com"), EmailKey: ptr("b@example.com")}, t0)
	wantErr(f.t, "UpdateUser new address", err, nil)
	if got.EmailVerified {
		f.t.Error("a new address is verified")
	}
	stored, err := f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "GetUser", err, nil)
	if stored.EmailVerified || stored.Email != "b@example.com" {
		f.t.Errorf("stored %q verified=%v, want b@example.com unverified", stored.Email, stored.EmailVerified)
	}
	// Verified together with the address (an operator's change, a followed link).
	got, err = f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{Email: ptr("c@example.com"), EmailKey: ptr("c@example.com"), EmailVerified: ptr(true)}, t0)
	wantErr(f.t, "UpdateUser new verified address", err, nil)
	if !got.EmailVerified {
		f.t.Error("EmailVerified with a new address not applied")
	}
	// The refresh path reads the user in its own join (where the store
	// has it): it must say the same.
	type refreshJoin interface {
		GetRefreshTokenGrant(ctx context.Context, hash []byte) (*store.RefreshToken, *store.Grant, *store.User, error)
	}
	if j, ok := f.s.(refreshJoin); ok {
		f.client("c1", "App")
		f.grant("g1", "u1", "c1", "rt-secret")
		_, _, ru, err := j.GetRefreshTokenGrant(f.ctx, store.HashToken("rt-secret"))
		wantErr(f.t, "GetRefreshTokenGrant", err, nil)
		if ru == nil || !ru.EmailVerified {
			f.t.Errorf("GetRefreshTokenGrant user = %+v, want u1 verified", ru)
		}
	}
}

func testUserUpdateConflict(f *fixture) {
	f.user("u1", "a@example.com")
	u2 := f.user("u2", "b@example.com")
	_, err := f.s.UpdateUser(f.ctx, "u2", store.UserUpdate{EmailKey: ptr("a@example.com"), FirstName: ptr("changed")}, t0.Add(time.Hour))
	wantErr(f.t, "UpdateUser to taken key", err, store.ErrConflict)
	got, err := f.s.GetUser(f.ctx, "u2")
	wantErr(f.t, "GetUser", err, nil)
	diff(f.t, "user after failed update", got, u2)
}

func testUserUpdateDisable(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	later := t0.Add(time.Hour)
	got, err := f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{Disabled: ptr(true)}, later)
	wantErr(f.t, "UpdateUser disable", err, nil)
	if !got.Disabled {
		f.t.Fatal("user not disabled")
	}
	if g := f.getGrant("g1"); !g.RevokedAt.Equal(later) {
		f.t.Fatalf("grant RevokedAt = %v, want %v", g.RevokedAt, later)
	}
}

// testDisableClient: disabling a client revokes every grant issued to it,
// in the same operation; other clients' grants and re-enabling change
// nothing else.
func testDisableClient(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	f.client("c1", "App")
	f.client("c2", "Other")
	f.grant("g1", "u1", "c1", "rt1")
	f.grant("g2", "u2", "c1", "")
	f.grant("g3", "u1", "c2", "rt3")
	wantErr(f.t, "RevokeGrant g2", f.s.RevokeGrant(f.ctx, "g2", t0), nil)
	later := t0.Add(time.Hour)
	yes, no := true, false
	name := "Renamed"
	// A change that does not disable revokes nothing.
	_, err := f.s.UpdateClient(f.ctx, "c1", store.ClientUpdate{Name: &name, Disabled: &no}, later)
	wantErr(f.t, "UpdateClient rename", err, nil)
	if g := f.getGrant("g1"); !g.RevokedAt.IsZero() {
		f.t.Errorf("g1 revoked by a rename")
	}
	c, err := f.s.UpdateClient(f.ctx, "c1", store.ClientUpdate{Disabled: &yes}, later)
	wantErr(f.t, "UpdateClient disable", err, nil)
	if c == nil || !c.Disabled {
		f.t.Fatalf("client after disabling: %+v", c)
	}
	if g := f.getGrant("g1"); !g.RevokedAt.Equal(later) {
		f.t.Errorf("g1 RevokedAt = %v, want %v", g.RevokedAt, later)
	}
	if g := f.getGrant("g2"); !g.RevokedAt.Equal(t0) {
		f.t.Errorf("g2 RevokedAt = %v, want the first revocation %v", g.RevokedAt, t0)
	}
	if g := f.getGrant("g3"); !g.RevokedAt.IsZero() {
		f.t.Errorf("another client's grant was revoked")
	}
	_, err = f.s.UpdateClient(f.ctx, "c1", store.ClientUpdate{Disabled: &no}, later.Add(time.Hour))
	wantErr(f.t, "UpdateClient enable", err, nil)
	if g := f.getGrant("g1"); g.Live(later.Add(2 * time.Hour)) {
		f.t.Errorf("re-enabling the client revived its grant")
	}
	_, err = f.s.UpdateClient(f.ctx, "nope", store.ClientUpdate{Disabled: &yes}, later)
	wantErr(f.t, "UpdateClient disable unknown", err, store.ErrNotFound)
}

func testDisableUser(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	f.client("c1", "App")
	f.client("c2", "Other")
	f.grant("g1", "u1", "c1", "rt1")
	f.grant("g2", "u1", "c2", "")
	f.grant("g3", "u2", "c1", "rt3")
	wantErr(f.t, "RevokeGrant g2", f.s.RevokeGrant(f.ctx, "g2", t0), nil)
	for _, id := range []string{"s1", "s2"} {
		wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: id, SecretHash: store.HashToken(id), UserID: "u1", ExpiresAt: t0.Add(time.Hour)}), nil)
	}
	wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: "s3", UserID: "u2", ExpiresAt: t0.Add(time.Hour)}), nil)
	f.code("code-u1", "c1", "u1", t0.Add(time.Minute))

	later := t0.Add(time.Hour)
	wantErr(f.t, "DisableUser", f.s.DisableUser(f.ctx, "u1", later), nil)
	u, err := f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "GetUser", err, nil)
	if !u.Disabled || !u.UpdatedAt.Equal(later) {
		f.t.Errorf("user after DisableUser: Disabled=%v UpdatedAt=%v", u.Disabled, u.UpdatedAt)
	}
	if g := f.getGrant("g1"); !g.RevokedAt.Equal(later) {
		f.t.Errorf("g1 RevokedAt = %v, want %v", g.RevokedAt, later)
	}
	if g := f.getGrant("g2"); !g.RevokedAt.Equal(t0) {
		f.t.Errorf("g2 RevokedAt = %v, want the first revocation %v", g.RevokedAt, t0)
	}
	if g := f.getGrant("g3"); !g.RevokedAt.IsZero() {
		f.t.Errorf("other user's grant revoked")
	}
	for _, id := range []string{"s1", "s2"} {
		_, err := f.s.GetSession(f.ctx, id)
		wantErr(f.t, "GetSession "+id, err, store.ErrNotFound)
	}
	_, err = f.s.GetSession(f.ctx, "s3")
	wantErr(f.t, "other user's session", err, nil)
	_, err = f.s.RotateRefreshToken(f.ctx, store.Rotation{OldHash: store.HashToken("rt1"), New: store.RefreshToken{Hash: store.HashToken("rt1b")}, Now: later})
	wantErr(f.t, "rotate after disable", err, store.ErrRevoked)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code-u1"), t0, &store.Grant{ID: "gx", GrantType: store.GrantAuthorizationCode, CreatedAt: t0}, nil)
	if err == nil {
		f.t.Error("a code issued before DisableUser could still be redeemed")
	}
}

func testDeleteUser(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	f.grant("g2", "u2", "c1", "rt2")
	wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: "s1", UserID: "u1", ExpiresAt: t0.Add(time.Hour)}), nil)
	wantErr(f.t, "SaveConsent", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}, CreatedAt: t0}), nil)
	f.code("code1", "c1", "u1", t0.Add(time.Minute))

	wantErr(f.t, "DeleteUser", f.s.DeleteUser(f.ctx, "u1"), nil)
	_, err := f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "GetUser", err, store.ErrNotFound)
	_, err = f.s.GetGrant(f.ctx, "g1")
	wantErr(f.t, "GetGrant", err, store.ErrNotFound)
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "GetRefreshToken", err, store.ErrNotFound)
	_, err = f.s.GetSession(f.ctx, "s1")
	wantErr(f.t, "GetSession", err, store.ErrNotFound)
	_, err = f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent", err, store.ErrNotFound)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "gx", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "RedeemAuthCode", err, store.ErrNotFound)
	// The other user is untouched.
	f.getGrant("g2")
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "other user's token", err, nil)
	wantErr(f.t, "DeleteUser again", f.s.DeleteUser(f.ctx, "u1"), store.ErrNotFound)
}

func testCountUsers(f *fixture) {
	n, err := f.s.CountUsers(f.ctx)
	wantErr(f.t, "CountUsers", err, nil)
	if n != 0 {
		f.t.Fatalf("CountUsers on empty store = %d", n)
	}
	for i := range 3 {
		f.user(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))
	}
	n, err = f.s.CountUsers(f.ctx)
	wantErr(f.t, "CountUsers", err, nil)
	if n != 3 {
		f.t.Fatalf("CountUsers = %d, want 3", n)
	}
}

func userIDs(l []*store.User) []string {
	var ids []string
	for _, u := range l {
		ids = append(ids, u.ID)
	}
	return ids
}

func testListUsersPaging(f *fixture) {
	for i := range 25 {
		u := &store.User{ID: fmt.Sprintf("u%02d", i), Email: fmt.Sprintf("u%02d@example.com", i), EmailKey: fmt.Sprintf("u%02d@example.com", i),
			CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}
		wantErr(f.t, "CreateUser", f.s.CreateUser(f.ctx, u), nil)
	}
	l, total, err := f.s.ListUsers(f.ctx, store.ListOptions{})
	wantErr(f.t, "ListUsers", err, nil)
	if total != 25 || len(l) != 20 {
		f.t.Fatalf("default page: %d rows, total %d; want 20, 25", len(l), total)
	}
	if l[0].ID != "u00" || l[19].ID != "u19" {
		f.t.Errorf("default order: first %s last %s", l[0].ID, l[19].ID)
	}
	l, total, err = f.s.ListUsers(f.ctx, store.ListOptions{Page: store.Page{Number: 3, Size: 10}})
	wantErr(f.t, "ListUsers page 3", err, nil)
	diff(f.t, "page 3", userIDs(l), []string{"u20", "u21", "u22", "u23", "u24"})
	if total != 25 {
		f.t.Errorf("total = %d, want 25", total)
	}
	l, total, err = f.s.ListUsers(f.ctx, store.ListOptions{Page: store.Page{Number: 9, Size: 10}})
	wantErr(f.t, "ListUsers past the end", err, nil)
	if len(l) != 0 || total != 25 {
		f.t.Errorf("past the end: %d rows, total %d", len(l), total)
	}
	l, _, err = f.s.ListUsers(f.ctx, store.ListOptions{Page: store.Page{Number: 1, Size: 1000}})
	wantErr(f.t, "ListUsers huge page", err, nil)
	if len(l) != 25 {
		f.t.Errorf("huge page: %d rows", len(l))
	}
	l, _, err = f.s.ListUsers(f.ctx, store.ListOptions{Page: store.Page{Number: 0, Size: -5}})
	wantErr(f.t, "ListUsers bad page", err, nil)
	if len(l) != 20 || l[0].ID != "u00" {
		f.t.Errorf("page 0 size -5: %d rows", len(l))
	}
}

func testListUsersSort(f *fixture) {
	for i, n := range []struct{ id, first, last string }{{"a", "Carla", "Zapata"}, {"b", "Ana", "Mora"}, {"c", "Beto", "Álvarez"}} {
		u := &store.User{ID: n.id, Email: n.id + "@example.com", EmailKey: n.id + "@example.com", FirstName: n.first, LastName: n.last,
			CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}
		wantErr(f.t, "CreateUser", f.s.CreateUser(f.ctx, u), nil)
	}
	for _, tc := range []struct {
		sort string
		want []string
	}{
		{"first_name", []string{"b", "c", "a"}},
		{"-first_name", []string{"a", "c", "b"}},
		{"created_at", []string{"a", "b", "c"}},
		{"-created_at", []string{"c", "b", "a"}},
		{"email", []string{"a", "b", "c"}},
		{"-email", []string{"c", "b", "a"}},
	} {
		l, _, err := f.s.ListUsers(f.ctx, store.ListOptions{Sort: tc.sort})
		wantErr(f.t, "ListUsers sort "+tc.sort, err, nil)
		diff(f.t, "sort "+tc.sort, userIDs(l), tc.want)
	}
}

func testListUsersFilters(f *fixture) {
	for _, n := range []struct{ id, email, first, last string }{
		{"a", "ana@example.com", "Ana", "NÚÑEZ"},
		{"b", "beto@example.org", "Beto", "Núñez"},
		{"c", "carla@example.com", "Carla", "100% Pérez"},
		{"d", "dario@example.com", "Darío", "Gómez_Ruiz"},
		{"e", "eva@example.com", "Eva", "GómezXRuiz"},
	} {
		u := &store.User{ID: n.id, Email: n.email, EmailKey: n.email, FirstName: n.first, LastName: n.last, CreatedAt: t0, UpdatedAt: t0}
		wantErr(f.t, "CreateUser", f.s.CreateUser(f.ctx, u), nil)
	}
	for _, tc := range []struct {
		name    string
		filters []store.Filter
		want    []string
	}{
		{"eq case-insensitive", []store.Filter{flt("first_name", "eq", "ANA")}, []string{"a"}},
		{"eq non-ASCII case", []store.Filter{flt("last_name", "eq", "núñez")}, []string{"a", "b"}},
		{"ne", []store.Filter{flt("first_name", "ne", "ana")}, []string{"b", "c", "d", "e"}},
		{"contains", []store.Filter{flt("email", "contains", "EXAMPLE.COM")}, []string{"a", "c", "d", "e"}},
		{"contains non-ASCII", []store.Filter{flt("last_name", "contains", "úñ")}, []string{"a", "b"}},
		{"contains percent literal", []store.Filter{flt("last_name", "contains", "0%")}, []string{"c"}},
		{"contains percent only", []store.Filter{flt("last_name", "contains", "%")}, []string{"c"}},
		{"contains underscore literal", []store.Filter{flt("last_name", "contains", "z_r")}, []string{"d"}},
		{"contains backslash", []store.Filter{flt("last_name", "contains", `\`)}, nil},
		{"nc", []store.Filter{flt("email", "nc", ".com")}, []string{"b"}},
		{"nc underscore literal", []store.Filter{flt("last_name", "nc", "_")}, []string{"a", "b", "c", "e"}},
		{"like pattern", []store.Filter{flt("email", "like", "%@EXAMPLE.___")}, []string{"a", "b", "c", "d", "e"}},
		{"like prefix", []store.Filter{flt("first_name", "like", "d%")}, []string{"d"}},
		{"like underscore wildcard", []store.Filter{flt("last_name", "like", "gómez_ruiz")}, []string{"d", "e"}},
		{"and", []store.Filter{flt("email", "contains", "example"), flt("last_name", "contains", "núñez")}, []string{"a", "b"}},
		{"injection is a value", []store.Filter{flt("first_name", "eq", "x' OR '1'='1")}, nil},
		{"created_at eq", []store.Filter{flt("created_at", "eq", t0.Format(time.RFC3339Nano))}, []string{"a", "b", "c", "d", "e"}},
		{"created_at ne", []store.Filter{flt("created_at", "ne", t0.Format(time.RFC3339Nano))}, nil},
	} {
		l, total, err := f.s.ListUsers(f.ctx, store.ListOptions{Filters: tc.filters, Sort: "email"})
		wantErr(f.t, "ListUsers "+tc.name, err, nil)
		diff(f.t, tc.name, userIDs(l), tc.want)
		if total != len(tc.want) {
			f.t.Errorf("%s: total %d, want %d", tc.name, total, len(tc.want))
		}
	}
	// The table survived the injection attempt.
	n, err := f.s.CountUsers(f.ctx)
	wantErr(f.t, "CountUsers", err, nil)
	if n != 5 {
		f.t.Errorf("CountUsers = %d", n)
	}
}

func testListBadFields(f *fixture) {
	bad := []store.ListOptions{
		{Sort: "password_hash"},
		{Sort: "-password_hash"},
		{Sort: "email; DROP TABLE users"},
		{Sort: "--email"},
		{Filters: []store.Filter{flt("password_hash", "eq", "x")}},
		{Filters: []store.Filter{flt("email", "gt", "x")}},
		{Filters: []store.Filter{flt("email", "", "x")}},
		{Filters: []store.Filter{flt("1=1 OR email", "eq", "x")}},
		{Filters: []store.Filter{flt("created_at", "contains", "2025")}},
		{Filters: []store.Filter{flt("created_at", "eq", "yesterday")}},
	}
	for _, opt := range bad {
		_, _, err := f.s.ListUsers(f.ctx, opt)
		wantErr(f.t, fmt.Sprintf("ListUsers %+v", opt), err, store.ErrBadField)
	}
	_, _, err := f.s.ListClients(f.ctx, "", store.ListOptions{Sort: "email"})
	wantErr(f.t, "ListClients sort email", err, store.ErrBadField)
	_, _, err = f.s.ListClients(f.ctx, "", store.ListOptions{Filters: []store.Filter{flt("secret_hash", "eq", "x")}})
	wantErr(f.t, "ListClients filter secret_hash", err, store.ErrBadField)
	_, _, err = f.s.ListGrants(f.ctx, "u1", store.ListOptions{Sort: "user_id"})
	wantErr(f.t, "ListGrants sort user_id", err, store.ErrBadField)
	_, _, err = f.s.ListGrants(f.ctx, "u1", store.ListOptions{Filters: []store.Filter{flt("scopes", "contains", "x")}})
	wantErr(f.t, "ListGrants filter scopes", err, store.ErrBadField)
	_, _, err = f.s.ListEvents(f.ctx, store.ListOptions{Sort: "ip"})
	wantErr(f.t, "ListEvents sort ip", err, store.ErrBadField)
	_, _, err = f.s.ListEvents(f.ctx, store.ListOptions{Filters: []store.Filter{flt("detail", "contains", "x")}})
	wantErr(f.t, "ListEvents filter detail", err, store.ErrBadField)
	// Every advertised field and operator is accepted.
	for _, fld := range store.UserFields {
		_, _, err := f.s.ListUsers(f.ctx, store.ListOptions{Sort: "-" + fld})
		wantErr(f.t, "ListUsers sort "+fld, err, nil)
	}
	for _, op := range store.FilterOps {
		_, _, err := f.s.ListUsers(f.ctx, store.ListOptions{Filters: []store.Filter{flt("email", op, "x")}})
		wantErr(f.t, "ListUsers op "+op, err, nil)
	}
	for _, fld := range store.ClientFields {
		_, _, err := f.s.ListClients(f.ctx, "", store.ListOptions{Sort: fld, Filters: []store.Filter{flt(fld, "ne", t0.Format(time.RFC3339))}})
		wantErr(f.t, "ListClients field "+fld, err, nil)
	}
	for _, fld := range store.GrantFields {
		_, _, err := f.s.ListGrants(f.ctx, "u1", store.ListOptions{Sort: fld, Filters: []store.Filter{flt(fld, "ne", t0.Format(time.RFC3339))}})
		wantErr(f.t, "ListGrants field "+fld, err, nil)
	}
	for _, fld := range store.EventFields {
		_, _, err := f.s.ListEvents(f.ctx, store.ListOptions{Sort: fld, Filters: []store.Filter{flt(fld, "ne", t0.Format(time.RFC3339))}})
		wantErr(f.t, "ListEvents field "+fld, err, nil)
	}
}

// Clients.

func testClientCreateGet(f *fixture) {
	f.user("dev", "dev@example.com")
	c := &store.Client{
		ID: "c1", Name: "Aplicación", Type: store.ClientConfidential, SecretHash: store.HashToken("s"),
		RedirectURIs:           []string{"https://app.example/cb", "https://app.example/cb?a=b c&d=\"e\""},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		Grants:                 []string{store.GrantAuthorizationCode, store.GrantDeviceCode},
		Scopes:                 []string{"openid", "email"}, OwnerID: "dev", Legacy: true, FirstParty: true, OfflineAccessRequired: true, Disabled: true,
		AccessTokenTTL: 90 * time.Second, IDTokenAlg: "ES256", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute),
	}
	wantErr(f.t, "CreateClient", f.s.CreateClient(f.ctx, c), nil)
	got, err := f.s.GetClient(f.ctx, "c1")
	wantErr(f.t, "GetClient", err, nil)
	diff(f.t, "GetClient", got, c)

	pub := &store.Client{ID: "pub", Name: "SPA", Type: store.ClientPublic, CreatedAt: t0, UpdatedAt: t0}
	wantErr(f.t, "CreateClient public", f.s.CreateClient(f.ctx, pub), nil)
	got, err = f.s.GetClient(f.ctx, "pub")
	wantErr(f.t, "GetClient public", err, nil)
	diff(f.t, "public client", got, pub)
	if got.SecretHash != nil {
		f.t.Errorf("public client SecretHash = %x, want nil", got.SecretHash)
	}
	_, err = f.s.GetClient(f.ctx, "nope")
	wantErr(f.t, "GetClient unknown", err, store.ErrNotFound)
}

func testClientConflict(f *fixture) {
	c := f.client("c1", "App")
	dup := &store.Client{ID: "c1", Name: "Other", Type: store.ClientPublic, CreatedAt: t0, UpdatedAt: t0}
	wantErr(f.t, "CreateClient dup", f.s.CreateClient(f.ctx, dup), store.ErrConflict)
	got, err := f.s.GetClient(f.ctx, "c1")
	wantErr(f.t, "GetClient", err, nil)
	diff(f.t, "client after conflict", got, c)
}

func testClientUpdate(f *fixture) {
	c := f.client("c1", "App")
	later := t0.Add(time.Hour)
	newHash := store.HashToken("rotated")
	got, err := f.s.UpdateClient(f.ctx, "c1", store.ClientUpdate{
		Name: ptr("Nueva"), SecretHash: newHash, RedirectURIs: ptr([]string{"https://new.example/cb"}),
		PostLogoutRedirectURIs: ptr([]string{"https://new.example/bye"}), Grants: ptr([]string{store.GrantClientCredentials}),
		Scopes: ptr([]string{}), Disabled: ptr(true), IDTokenAlg: ptr("ES256"), FirstParty: ptr(true), OfflineAccessRequired: ptr(true),
	}, later)
	wantErr(f.t, "UpdateClient", err, nil)
	want := *c
	want.Name, want.SecretHash, want.RedirectURIs = "Nueva", newHash, []string{"https://new.example/cb"}
	want.PostLogoutRedirectURIs, want.Grants, want.Scopes = []string{"https://new.example/bye"}, []string{store.GrantClientCredentials}, nil
	want.Disabled, want.UpdatedAt, want.IDTokenAlg, want.FirstParty, want.OfflineAccessRequired = true, later, "ES256", true, true
	diff(f.t, "UpdateClient", got, &want)
	stored, err := f.s.GetClient(f.ctx, "c1")
	wantErr(f.t, "GetClient", err, nil)
	diff(f.t, "stored client", stored, &want)

	// nil fields are left alone.
	got, err = f.s.UpdateClient(f.ctx, "c1", store.ClientUpdate{Disabled: ptr(false)}, later)
	wantErr(f.t, "UpdateClient enable", err, nil)
	want.Disabled = false
	diff(f.t, "UpdateClient enable", got, &want)

	_, err = f.s.UpdateClient(f.ctx, "nope", store.ClientUpdate{Name: ptr("x")}, later)
	wantErr(f.t, "UpdateClient unknown", err, store.ErrNotFound)
}

func testDeleteClient(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.client("c2", "Other")
	f.grant("g1", "u1", "c1", "rt1")
	f.grant("g2", "u1", "c2", "rt2")
	wantErr(f.t, "SaveConsent", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}, CreatedAt: t0}), nil)
	wantErr(f.t, "SaveConsent", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c2", Scopes: []string{"openid"}, CreatedAt: t0}), nil)
	f.code("code1", "c1", "u1", t0.Add(time.Minute))

	wantErr(f.t, "DeleteClient", f.s.DeleteClient(f.ctx, "c1"), nil)
	_, err := f.s.GetClient(f.ctx, "c1")
	wantErr(f.t, "GetClient", err, store.ErrNotFound)
	_, err = f.s.GetGrant(f.ctx, "g1")
	wantErr(f.t, "GetGrant", err, store.ErrNotFound)
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "GetRefreshToken", err, store.ErrNotFound)
	_, err = f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent", err, store.ErrNotFound)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "gx", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "RedeemAuthCode", err, store.ErrNotFound)
	f.getGrant("g2")
	_, err = f.s.GetConsent(f.ctx, "u1", "c2")
	wantErr(f.t, "other consent", err, nil)
	_, err = f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "user", err, nil)
	wantErr(f.t, "DeleteClient again", f.s.DeleteClient(f.ctx, "c1"), store.ErrNotFound)
}

func clientIDs(l []*store.Client) []string {
	var ids []string
	for _, c := range l {
		ids = append(ids, c.ID)
	}
	return ids
}

func testListClients(f *fixture) {
	for i, c := range []struct{ id, name, owner string }{{"c1", "Zeta", "dev1"}, {"c2", "alfa", "dev2"}, {"c3", "Beta_1", "dev1"}, {"c4", "Gamma1", ""}} {
		cl := &store.Client{ID: c.id, Name: c.name, Type: store.ClientPublic, OwnerID: c.owner, CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}
		wantErr(f.t, "CreateClient", f.s.CreateClient(f.ctx, cl), nil)
	}
	l, total, err := f.s.ListClients(f.ctx, "", store.ListOptions{})
	wantErr(f.t, "ListClients", err, nil)
	diff(f.t, "all clients", clientIDs(l), []string{"c1", "c2", "c3", "c4"})
	if total != 4 {
		f.t.Errorf("total %d", total)
	}
	l, total, err = f.s.ListClients(f.ctx, "dev1", store.ListOptions{})
	wantErr(f.t, "ListClients dev1", err, nil)
	diff(f.t, "dev1 clients", clientIDs(l), []string{"c1", "c3"})
	if total != 2 {
		f.t.Errorf("dev1 total %d", total)
	}
	l, _, err = f.s.ListClients(f.ctx, "", store.ListOptions{Sort: "name"})
	wantErr(f.t, "ListClients by name", err, nil)
	diff(f.t, "by name", clientIDs(l), []string{"c2", "c3", "c4", "c1"})
	l, total, err = f.s.ListClients(f.ctx, "", store.ListOptions{Filters: []store.Filter{flt("name", "contains", "A_")}, Sort: "-id"})
	wantErr(f.t, "ListClients contains", err, nil)
	diff(f.t, "contains A_", clientIDs(l), []string{"c3"})
	if total != 1 {
		f.t.Errorf("contains total %d", total)
	}
	l, _, err = f.s.ListClients(f.ctx, "dev1", store.ListOptions{Filters: []store.Filter{flt("id", "ne", "C1")}})
	wantErr(f.t, "ListClients owner+filter", err, nil)
	diff(f.t, "owner+filter", clientIDs(l), []string{"c3"})
}

// Grants.

func testGrantCreateGet(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "Mi App")
	g := &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword, Scopes: []string{"openid"},
		AuthTime: t0, CreatedAt: t0, LastUsedAt: t0.Add(time.Second), ExpiresAt: t0.Add(24 * time.Hour)}
	wantErr(f.t, "CreateGrant", f.s.CreateGrant(f.ctx, g), nil)
	got := f.getGrant("g1")
	want := *g
	want.ClientName = "Mi App"
	diff(f.t, "GetGrant", got, &want)

	cc := &store.Grant{ID: "g2", ClientID: "c1", GrantType: store.GrantClientCredentials, CreatedAt: t0}
	wantErr(f.t, "CreateGrant client credentials", f.s.CreateGrant(f.ctx, cc), nil)
	got = f.getGrant("g2")
	want = *cc
	want.ClientName = "Mi App"
	diff(f.t, "client-credentials grant", got, &want)

	wantErr(f.t, "CreateGrant dup", f.s.CreateGrant(f.ctx, &store.Grant{ID: "g1", ClientID: "c1", GrantType: store.GrantClientCredentials}), store.ErrConflict)
	_, err := f.s.GetGrant(f.ctx, "nope")
	wantErr(f.t, "GetGrant unknown", err, store.ErrNotFound)
}

func testGrantUnknownRefs(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	if err := f.s.CreateGrant(f.ctx, &store.Grant{ID: "g1", UserID: "u1", ClientID: "nope", GrantType: store.GrantPassword}); err == nil {
		f.t.Error("CreateGrant with unknown client succeeded")
	}
	if err := f.s.CreateGrant(f.ctx, &store.Grant{ID: "g2", UserID: "nobody", ClientID: "c1", GrantType: store.GrantPassword}); err == nil {
		f.t.Error("CreateGrant with unknown user succeeded")
	}
	for _, id := range []string{"g1", "g2"} {
		_, err := f.s.GetGrant(f.ctx, id)
		wantErr(f.t, "GetGrant "+id, err, store.ErrNotFound)
	}
}

func testTouchGrant(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "")
	later := t0.Add(time.Hour)
	wantErr(f.t, "TouchGrant", f.s.TouchGrant(f.ctx, "g1", later), nil)
	if g := f.getGrant("g1"); !g.LastUsedAt.Equal(later) {
		f.t.Errorf("LastUsedAt = %v, want %v", g.LastUsedAt, later)
	}
	wantErr(f.t, "TouchGrant unknown", f.s.TouchGrant(f.ctx, "nope", later), store.ErrNotFound)
}

func testRevokeGrant(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	wantErr(f.t, "RevokeGrant", f.s.RevokeGrant(f.ctx, "g1", t0.Add(time.Minute)), nil)
	g := f.getGrant("g1")
	if !g.RevokedAt.Equal(t0.Add(time.Minute)) || g.Live(t0.Add(time.Minute)) {
		f.t.Errorf("after RevokeGrant: RevokedAt %v", g.RevokedAt)
	}
	wantErr(f.t, "RevokeGrant again", f.s.RevokeGrant(f.ctx, "g1", t0.Add(time.Hour)), nil)
	if g := f.getGrant("g1"); !g.RevokedAt.Equal(t0.Add(time.Minute)) {
		f.t.Errorf("second RevokeGrant moved RevokedAt to %v", g.RevokedAt)
	}
	wantErr(f.t, "RevokeGrant unknown", f.s.RevokeGrant(f.ctx, "nope", t0), store.ErrNotFound)
}

func testRevokeGrants(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	f.client("c1", "App")
	f.client("c2", "Other")
	f.grant("g1", "u1", "c1", "")
	f.grant("g2", "u1", "c1", "")
	f.grant("g3", "u1", "c2", "")
	f.grant("g4", "u2", "c1", "")
	wantErr(f.t, "CreateGrant cc", f.s.CreateGrant(f.ctx, &store.Grant{ID: "g5", ClientID: "c1", GrantType: store.GrantClientCredentials, CreatedAt: t0}), nil)
	wantErr(f.t, "RevokeGrant g2", f.s.RevokeGrant(f.ctx, "g2", t0), nil)

	n, err := f.s.RevokeGrants(f.ctx, "u1", "c1", t0.Add(time.Hour))
	wantErr(f.t, "RevokeGrants u1 c1", err, nil)
	if n != 1 {
		f.t.Errorf("RevokeGrants u1 c1 = %d, want 1 (g2 was already revoked)", n)
	}
	if g := f.getGrant("g3"); !g.RevokedAt.IsZero() {
		f.t.Error("grant of another client revoked")
	}
	n, err = f.s.RevokeGrants(f.ctx, "u1", "", t0.Add(2*time.Hour))
	wantErr(f.t, "RevokeGrants u1 all", err, nil)
	if n != 1 {
		f.t.Errorf("RevokeGrants u1 all = %d, want 1", n)
	}
	for _, id := range []string{"g4", "g5"} {
		if g := f.getGrant(id); !g.RevokedAt.IsZero() {
			f.t.Errorf("%s revoked by another user's RevokeGrants", id)
		}
	}
	if g := f.getGrant("g1"); !g.RevokedAt.Equal(t0.Add(time.Hour)) {
		f.t.Errorf("g1 RevokedAt %v", g.RevokedAt)
	}
	n, err = f.s.RevokeGrants(f.ctx, "nobody", "", t0)
	wantErr(f.t, "RevokeGrants nobody", err, nil)
	if n != 0 {
		f.t.Errorf("RevokeGrants nobody = %d", n)
	}
}

func grantIDs(l []*store.Grant) []string {
	var ids []string
	for _, g := range l {
		ids = append(ids, g.ID)
	}
	return ids
}

func testListGrants(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	f.client("c1", "Zeta App")
	f.client("c2", "alfa app")
	f.client("c3", "Beta")
	for i, g := range []struct{ id, user, client string }{{"g1", "u1", "c1"}, {"g2", "u1", "c2"}, {"g3", "u1", "c3"}, {"g4", "u2", "c1"}, {"g5", "u1", "c1"}} {
		gr := &store.Grant{ID: g.id, UserID: g.user, ClientID: g.client, GrantType: store.GrantAuthorizationCode,
			CreatedAt: t0.Add(time.Duration(i) * time.Minute), LastUsedAt: t0.Add(time.Duration(10-i) * time.Minute)}
		wantErr(f.t, "CreateGrant", f.s.CreateGrant(f.ctx, gr), nil)
	}
	wantErr(f.t, "RevokeGrant g5", f.s.RevokeGrant(f.ctx, "g5", t0), nil)

	l, total, err := f.s.ListGrants(f.ctx, "u1", store.ListOptions{})
	wantErr(f.t, "ListGrants", err, nil)
	diff(f.t, "default newest first, revoked left out", grantIDs(l), []string{"g3", "g2", "g1"})
	if total != 3 {
		f.t.Errorf("total %d", total)
	}
	if len(l) == 3 && (l[0].ClientName != "Beta" || l[2].ClientName != "Zeta App") {
		f.t.Errorf("ClientName not filled: %q %q", l[0].ClientName, l[2].ClientName)
	}
	for _, tc := range []struct {
		opt  store.ListOptions
		want []string
	}{
		{store.ListOptions{Sort: "name"}, []string{"g2", "g3", "g1"}},
		{store.ListOptions{Sort: "-name"}, []string{"g1", "g3", "g2"}},
		{store.ListOptions{Sort: "last_used_at"}, []string{"g3", "g2", "g1"}},
		{store.ListOptions{Sort: "created_at"}, []string{"g1", "g2", "g3"}},
		{store.ListOptions{Sort: "client_id"}, []string{"g1", "g2", "g3"}},
		{store.ListOptions{Filters: []store.Filter{flt("name", "contains", "APP")}}, []string{"g2", "g1"}},
		{store.ListOptions{Filters: []store.Filter{flt("name", "eq", "beta")}}, []string{"g3"}},
		{store.ListOptions{Filters: []store.Filter{flt("client_id", "ne", "c1")}}, []string{"g3", "g2"}},
		{store.ListOptions{Page: store.Page{Number: 2, Size: 2}}, []string{"g1"}},
	} {
		l, _, err := f.s.ListGrants(f.ctx, "u1", tc.opt)
		wantErr(f.t, fmt.Sprintf("ListGrants %+v", tc.opt), err, nil)
		diff(f.t, fmt.Sprintf("ListGrants %+v", tc.opt), grantIDs(l), tc.want)
	}
	l, total, err = f.s.ListGrants(f.ctx, "u1", store.ListOptions{IncludeRevoked: true})
	wantErr(f.t, "ListGrants IncludeRevoked", err, nil)
	diff(f.t, "revoked included", grantIDs(l), []string{"g5", "g3", "g2", "g1"})
	if total != 4 || len(l) == 4 && l[0].RevokedAt.IsZero() {
		f.t.Errorf("IncludeRevoked: total %d, revoked grant %+v", total, l[0])
	}
	l, _, err = f.s.ListGrants(f.ctx, "u2", store.ListOptions{})
	wantErr(f.t, "ListGrants u2", err, nil)
	diff(f.t, "u2 grants", grantIDs(l), []string{"g4"})
	l, total, err = f.s.ListGrants(f.ctx, "", store.ListOptions{})
	wantErr(f.t, "ListGrants no user", err, nil)
	if len(l) != 0 || total != 0 {
		f.t.Errorf(`ListGrants("") returned user grants: %v`, grantIDs(l))
	}
}

// Refresh tokens.

func testIssueGrantAtomic(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	g := f.grant("g1", "u1", "c1", "rt1")
	rt, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "GetRefreshToken", err, nil)
	diff(f.t, "refresh token", rt, &store.RefreshToken{Hash: store.HashToken("rt1"), GrantID: "g1", Scopes: g.Scopes, CreatedAt: t0})
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("unknown"))
	wantErr(f.t, "GetRefreshToken unknown", err, store.ErrNotFound)

	// The token's hash is taken: the grant must not be created either.
	g2 := &store.Grant{ID: "g2", UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword, CreatedAt: t0}
	err = f.s.IssueGrant(f.ctx, g2, &store.RefreshToken{Hash: store.HashToken("rt1"), CreatedAt: t0})
	if err == nil {
		f.t.Fatal("IssueGrant with a duplicate token hash succeeded")
	}
	_, err = f.s.GetGrant(f.ctx, "g2")
	wantErr(f.t, "grant of failed IssueGrant", err, store.ErrNotFound)

	// Without a refresh token.
	g3 := &store.Grant{ID: "g3", ClientID: "c1", GrantType: store.GrantClientCredentials, CreatedAt: t0}
	wantErr(f.t, "IssueGrant without token", f.s.IssueGrant(f.ctx, g3, nil), nil)
	f.getGrant("g3")
}

func rotation(oldSecret, newSecret string, now time.Time, grace time.Duration) store.Rotation {
	return store.Rotation{
		OldHash: store.HashToken(oldSecret),
		New:     store.RefreshToken{Hash: store.HashToken(newSecret), Scopes: []string{"openid"}, CreatedAt: now},
		Now:     now, Grace: grace,
	}
}

func testRotate(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	t1 := t0.Add(time.Minute)
	g, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t1, 0))
	wantErr(f.t, "RotateRefreshToken", err, nil)
	if g.ID != "g1" || g.ClientName != "App" || !g.LastUsedAt.Equal(t1) || g.UserID != "u1" {
		f.t.Errorf("returned grant %+v", g)
	}
	if sg := f.getGrant("g1"); !sg.LastUsedAt.Equal(t1) {
		f.t.Errorf("stored LastUsedAt %v, want %v", sg.LastUsedAt, t1)
	}
	old, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "old token", err, nil)
	if !old.RotatedAt.Equal(t1) {
		f.t.Errorf("old RotatedAt %v, want %v", old.RotatedAt, t1)
	}
	nt, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "new token", err, nil)
	diff(f.t, "new token", nt, &store.RefreshToken{Hash: store.HashToken("rt2"), GrantID: "g1", ParentHash: store.HashToken("rt1"), Scopes: []string{"openid"}, CreatedAt: t1})

	// The chain goes on; nil scopes inherit the old token's.
	t2 := t1.Add(time.Minute)
	r := rotation("rt2", "rt3", t2, 0)
	r.New.Scopes = nil
	_, err = f.s.RotateRefreshToken(f.ctx, r)
	wantErr(f.t, "second rotation", err, nil)
	nt, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt3"))
	wantErr(f.t, "third token", err, nil)
	diff(f.t, "inherited scopes", nt.Scopes, []string{"openid"})
}

func testRotateUnknown(f *fixture) {
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("nope", "rt2", t0, 0))
	wantErr(f.t, "RotateRefreshToken unknown", err, store.ErrNotFound)
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "new token after failure", err, store.ErrNotFound)
}

func testRotateRevoked(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	wantErr(f.t, "RevokeGrant", f.s.RevokeGrant(f.ctx, "g1", t0), nil)
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0.Add(time.Minute), 0))
	wantErr(f.t, "rotate on revoked grant", err, store.ErrRevoked)
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "new token", err, store.ErrNotFound)
	old, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "old token", err, nil)
	if !old.RotatedAt.IsZero() {
		f.t.Error("old token marked rotated by a failed rotation")
	}
}

func testRotateExpired(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	g := &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	wantErr(f.t, "IssueGrant", f.s.IssueGrant(f.ctx, g, &store.RefreshToken{Hash: store.HashToken("rt1"), CreatedAt: t0}), nil)
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0.Add(time.Hour), 0))
	wantErr(f.t, "rotate at expiry", err, store.ErrRevoked)
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "new token", err, store.ErrNotFound)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0.Add(time.Hour-time.Microsecond), 0))
	wantErr(f.t, "rotate before expiry", err, nil)
}

func testRotateReuse(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	t1 := t0.Add(time.Minute)
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t1, 0))
	wantErr(f.t, "first rotation", err, nil)
	t2 := t1.Add(time.Second)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt3", t2, 0))
	wantErr(f.t, "reuse", err, store.ErrReused)
	g := f.getGrant("g1")
	if !g.RevokedAt.Equal(t2) {
		f.t.Fatalf("grant RevokedAt %v after reuse, want %v (the revocation must be committed)", g.RevokedAt, t2)
	}
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt3"))
	wantErr(f.t, "token of the reuse attempt", err, store.ErrNotFound)
	// The legitimate successor is dead with its family.
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt2", "rt4", t2.Add(time.Second), 0))
	wantErr(f.t, "successor after reuse", err, store.ErrRevoked)
}

func testRotateGrace(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	grace := 10 * time.Second
	t1 := t0.Add(time.Minute)
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t1, grace))
	wantErr(f.t, "first rotation", err, nil)
	// The response was lost; the client retries with rt1 within the window.
	t2 := t1.Add(grace)
	g, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2b", t2, grace))
	wantErr(f.t, "retry within grace", err, nil)
	if g.ID != "g1" || !g.Live(t2) {
		f.t.Errorf("grant after grace retry: %+v", g)
	}
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "retired successor", err, store.ErrNotFound)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt2", "rt3", t2, grace))
	wantErr(f.t, "rotating the retired successor", err, store.ErrNotFound)
	nt, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt2b"))
	wantErr(f.t, "replacement", err, nil)
	if !nt.RotatedAt.IsZero() || string(nt.ParentHash) != string(store.HashToken("rt1")) || nt.GrantID != "g1" {
		f.t.Errorf("replacement token %+v", nt)
	}
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt2b", "rt3", t2.Add(time.Second), grace))
	wantErr(f.t, "rotating the replacement", err, nil)
	if g := f.getGrant("g1"); !g.RevokedAt.IsZero() {
		f.t.Error("grant revoked")
	}
}

func testRotateGraceSuccessorUsed(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	grace := time.Minute
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0, grace))
	wantErr(f.t, "first rotation", err, nil)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt2", "rt3", t0.Add(time.Second), grace))
	wantErr(f.t, "second rotation", err, nil)
	// rt1 again, within its window, but its successor was already used: the
	// presenter is not a client whose response was lost.
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt4", t0.Add(2*time.Second), grace))
	wantErr(f.t, "rt1 after its successor was used", err, store.ErrReused)
	if g := f.getGrant("g1"); g.RevokedAt.IsZero() {
		f.t.Error("grant not revoked")
	}
}

func testRotateGraceExpired(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	grace := 10 * time.Second
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0, grace))
	wantErr(f.t, "first rotation", err, nil)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt3", t0.Add(grace+time.Microsecond), grace))
	wantErr(f.t, "retry after grace", err, store.ErrReused)
	if g := f.getGrant("g1"); g.RevokedAt.IsZero() {
		f.t.Error("grant not revoked")
	}
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt3"))
	wantErr(f.t, "token of the reuse attempt", err, store.ErrNotFound)
}

func testRotateFailure(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g1", "u1", "c1", "rt1")
	f.grant("g2", "u1", "c1", "taken")
	// The new hash collides with an existing token: the rotation fails and
	// rt1 stays current.
	_, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "taken", t0.Add(time.Minute), 0))
	if err == nil {
		f.t.Fatal("rotation onto a taken hash succeeded")
	}
	old, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "old token", err, nil)
	if !old.RotatedAt.IsZero() {
		f.t.Error("failed rotation marked the old token rotated")
	}
	if g := f.getGrant("g1"); !g.LastUsedAt.Equal(t0) || !g.RevokedAt.IsZero() {
		f.t.Errorf("failed rotation changed the grant: %+v", g)
	}
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0.Add(time.Minute), 0))
	wantErr(f.t, "rotation after failure", err, nil)
}

// Authorization codes.

func testRedeem(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	c := f.code("code1", "c1", "u1", t0.Add(time.Minute))
	now := t0.Add(10 * time.Second)
	g := &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode, CreatedAt: now, LastUsedAt: now}
	rt := &store.RefreshToken{Hash: store.HashToken("rt1"), CreatedAt: now}
	got, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), now, g, rt)
	wantErr(f.t, "RedeemAuthCode", err, nil)
	want := *c
	want.UsedAt, want.GrantID = now, "g1"
	diff(f.t, "redeemed code", got, &want)

	sg := f.getGrant("g1")
	wantG := &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantAuthorizationCode, Scopes: c.Scopes,
		AuthTime: c.AuthTime, CreatedAt: now, LastUsedAt: now, ClientName: "App"}
	diff(f.t, "grant from code", sg, wantG)
	if g.UserID != "u1" || g.ClientID != "c1" {
		f.t.Errorf("caller's grant not filled: %+v", g)
	}
	st, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "refresh token", err, nil)
	diff(f.t, "refresh token", st, &store.RefreshToken{Hash: store.HashToken("rt1"), GrantID: "g1", Scopes: c.Scopes, CreatedAt: now})

	// Explicit matching ids and no refresh token.
	f.code("code2", "c1", "u1", t0.Add(time.Minute))
	g2 := &store.Grant{ID: "g2", UserID: "u1", ClientID: "c1", GrantType: store.GrantAuthorizationCode, Scopes: []string{"openid"}, CreatedAt: now}
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code2"), now, g2, nil)
	wantErr(f.t, "RedeemAuthCode without refresh token", err, nil)
	diff(f.t, "explicit scopes kept", f.getGrant("g2").Scopes, []string{"openid"})
	if sg.Claims != "" || got.Claims != "" {
		f.t.Errorf("no claims request: code %q grant %q", got.Claims, sg.Claims)
	}

	// The OIDC claims request travels from the code to the grant, and is
	// read back by every grant reader.
	const claims = `{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}`
	c3 := &store.AuthCode{Hash: store.HashToken("code3"), ClientID: "c1", UserID: "u1", Scopes: []string{"openid"},
		Claims: claims, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := f.s.CreateAuthCode(f.ctx, c3); err != nil {
		f.t.Fatalf("CreateAuthCode with claims: %v", err)
	}
	g3 := &store.Grant{ID: "g3", GrantType: store.GrantAuthorizationCode, CreatedAt: now, LastUsedAt: now}
	got3, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code3"), now, g3, &store.RefreshToken{Hash: store.HashToken("rt3"), CreatedAt: now})
	wantErr(f.t, "RedeemAuthCode with claims", err, nil)
	if got3.Claims != claims || g3.Claims != claims {
		f.t.Errorf("claims: code %q, caller's grant %q", got3.Claims, g3.Claims)
	}
	if g := f.getGrant("g3"); g.Claims != claims {
		f.t.Errorf("stored grant claims %q", g.Claims)
	}
	if rr, ok := f.s.(interface {
		GetRefreshTokenGrant(ctx context.Context, hash []byte) (*store.RefreshToken, *store.Grant, *store.User, error)
	}); ok {
		_, g, _, err := rr.GetRefreshTokenGrant(f.ctx, store.HashToken("rt3"))
		wantErr(f.t, "GetRefreshTokenGrant", err, nil)
		if g.Claims != claims {
			f.t.Errorf("GetRefreshTokenGrant claims %q", g.Claims)
		}
	}
	rg, err := f.s.RotateRefreshToken(f.ctx, rotation("rt3", "rt4", now, 0))
	wantErr(f.t, "RotateRefreshToken", err, nil)
	if rg.Claims != claims {
		f.t.Errorf("RotateRefreshToken grant claims %q", rg.Claims)
	}
}

// testRedeemIfScope: a first refresh token with IfScope is stored only when
// the code grants that scope (offline_access, OpenID Connect Core §11); the
// grant is issued either way.
func testRedeemIfScope(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	now := t0.Add(10 * time.Second)
	f.code("code1", "c1", "u1", t0.Add(time.Minute)) // scopes openid email
	rt := &store.RefreshToken{Hash: store.HashToken("rt1"), CreatedAt: now, IfScope: "offline_access"}
	g := &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode, CreatedAt: now, LastUsedAt: now}
	_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), now, g, rt)
	wantErr(f.t, "RedeemAuthCode", err, nil)
	if rt.Hash != nil {
		f.t.Errorf("refresh token left set although not stored: %+v", rt)
	}
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "refresh token without the scope", err, store.ErrNotFound)
	f.getGrant("g1")

	f.code("code2", "c1", "u1", t0.Add(time.Minute))
	rt = &store.RefreshToken{Hash: store.HashToken("rt2"), CreatedAt: now, IfScope: "email"}
	g = &store.Grant{ID: "g2", GrantType: store.GrantAuthorizationCode, CreatedAt: now, LastUsedAt: now}
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code2"), now, g, rt)
	wantErr(f.t, "RedeemAuthCode", err, nil)
	st, err := f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "refresh token with the scope", err, nil)
	if st.GrantID != "g2" || rt.GrantID != "g2" || rt.IfScope != "" {
		f.t.Errorf("stored %+v, caller's %+v", st, rt)
	}
}

func testRedeemUnknown(f *fixture) {
	_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("nope"), t0, &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "RedeemAuthCode unknown", err, store.ErrNotFound)
	_, err = f.s.GetGrant(f.ctx, "g1")
	wantErr(f.t, "grant", err, store.ErrNotFound)
}

func testRedeemReplay(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.code("code1", "c1", "u1", t0.Add(time.Minute))
	_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode, CreatedAt: t0}, &store.RefreshToken{Hash: store.HashToken("rt1"), CreatedAt: t0})
	wantErr(f.t, "first redemption", err, nil)
	t1 := t0.Add(5 * time.Second)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t1, &store.Grant{ID: "g2", GrantType: store.GrantAuthorizationCode, CreatedAt: t1}, &store.RefreshToken{Hash: store.HashToken("rt2"), CreatedAt: t1})
	wantErr(f.t, "replay", err, store.ErrAlreadyUsed)
	if g := f.getGrant("g1"); !g.RevokedAt.Equal(t1) {
		f.t.Errorf("first grant RevokedAt %v after replay, want %v (committed)", g.RevokedAt, t1)
	}
	_, err = f.s.GetGrant(f.ctx, "g2")
	wantErr(f.t, "replay's grant", err, store.ErrNotFound)
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("rt2"))
	wantErr(f.t, "replay's token", err, store.ErrNotFound)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt3", t1, 0))
	wantErr(f.t, "token of the first redemption", err, store.ErrRevoked)
	// Replayed after expiry too: still reported as used.
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0.Add(time.Hour), &store.Grant{ID: "g3", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "replay after expiry", err, store.ErrAlreadyUsed)
}

func testRedeemExpired(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.code("code1", "c1", "u1", t0.Add(time.Minute))
	_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0.Add(time.Minute), &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "redeem at ExpiresAt", err, store.ErrExpired)
	_, err = f.s.GetGrant(f.ctx, "g1")
	wantErr(f.t, "grant of expired redemption", err, store.ErrNotFound)
	// Nothing was written: the code is still unused.
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0.Add(time.Minute-time.Microsecond), &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "redeem just before expiry", err, nil)
}

func testRedeemWrongClient(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	f.client("c1", "App")
	f.client("c2", "Evil")
	f.code("code1", "c1", "u1", t0.Add(time.Minute))
	_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g1", ClientID: "c2", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "redeem by another client", err, store.ErrNotFound)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g1", UserID: "u2", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "redeem for another user", err, store.ErrNotFound)
	_, err = f.s.GetGrant(f.ctx, "g1")
	wantErr(f.t, "grant", err, store.ErrNotFound)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g1", ClientID: "c1", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "redeem by the right client", err, nil)
}

func testRedeemFailure(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	f.grant("g0", "u1", "c1", "taken")
	f.code("code1", "c1", "u1", t0.Add(time.Minute))
	// The grant id is taken: nothing is written, the code stays redeemable.
	_, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g0", GrantType: store.GrantAuthorizationCode}, nil)
	if err == nil {
		f.t.Fatal("redemption with a taken grant id succeeded")
	}
	// The refresh token hash is taken: the grant is not created either.
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode}, &store.RefreshToken{Hash: store.HashToken("taken")})
	if err == nil {
		f.t.Fatal("redemption with a taken token hash succeeded")
	}
	_, err = f.s.GetGrant(f.ctx, "g1")
	wantErr(f.t, "grant of failed redemption", err, store.ErrNotFound)
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0, &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "redemption after failures", err, nil)
}

// Sessions.

func testSessions(f *fixture) {
	f.user("u1", "a@example.com")
	s := &store.Session{ID: "s1", SecretHash: store.HashToken("secret"), UserID: "u1", AuthTime: t0,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, s), nil)
	got, err := f.s.GetSession(f.ctx, "s1")
	wantErr(f.t, "GetSession", err, nil)
	diff(f.t, "GetSession", got, s)
	wantErr(f.t, "CreateSession dup", f.s.CreateSession(f.ctx, s), store.ErrConflict)
	if err := f.s.CreateSession(f.ctx, &store.Session{ID: "s2", UserID: "nobody", ExpiresAt: t0}); err == nil {
		f.t.Error("CreateSession for unknown user succeeded")
	}

	t1, exp := t0.Add(time.Minute), t0.Add(2*time.Hour)
	wantErr(f.t, "TouchSession", f.s.TouchSession(f.ctx, "s1", t1, exp), nil)
	got, err = f.s.GetSession(f.ctx, "s1")
	wantErr(f.t, "GetSession", err, nil)
	want := *s
	want.LastSeenAt, want.ExpiresAt = t1, exp
	diff(f.t, "touched session", got, &want)
	wantErr(f.t, "TouchSession unknown", f.s.TouchSession(f.ctx, "nope", t1, exp), store.ErrNotFound)

	wantErr(f.t, "DeleteSession", f.s.DeleteSession(f.ctx, "s1"), nil)
	_, err = f.s.GetSession(f.ctx, "s1")
	wantErr(f.t, "GetSession deleted", err, store.ErrNotFound)
	wantErr(f.t, "DeleteSession again", f.s.DeleteSession(f.ctx, "s1"), nil)

	f.user("u2", "b@example.com")
	for _, id := range []string{"a", "b"} {
		wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: id, UserID: "u1", ExpiresAt: exp}), nil)
	}
	wantErr(f.t, "CreateSession u2", f.s.CreateSession(f.ctx, &store.Session{ID: "c", UserID: "u2", ExpiresAt: exp}), nil)
	n, err := f.s.DeleteUserSessions(f.ctx, "u1")
	wantErr(f.t, "DeleteUserSessions", err, nil)
	if n != 2 {
		f.t.Errorf("DeleteUserSessions = %d, want 2", n)
	}
	for _, id := range []string{"a", "b"} {
		_, err = f.s.GetSession(f.ctx, id)
		wantErr(f.t, "GetSession after DeleteUserSessions", err, store.ErrNotFound)
	}
	_, err = f.s.GetSession(f.ctx, "c")
	wantErr(f.t, "other user's session", err, nil)
	n, err = f.s.DeleteUserSessions(f.ctx, "u1")
	wantErr(f.t, "DeleteUserSessions again", err, nil)
	if n != 0 {
		f.t.Errorf("DeleteUserSessions again = %d", n)
	}
}

// Consents.

func testConsents(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	_, err := f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent none", err, store.ErrNotFound)
	wantErr(f.t, "SaveConsent", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid", "profile"}, CreatedAt: t0, UpdatedAt: t0}), nil)
	t1 := t0.Add(time.Hour)
	wantErr(f.t, "SaveConsent merge", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"email", "openid"}, CreatedAt: t1, UpdatedAt: t1}), nil)
	got, err := f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent", err, nil)
	diff(f.t, "merged consent", got, &store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid", "profile", "email"}, CreatedAt: t0, UpdatedAt: t1})

	if err := f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "nope", Scopes: []string{"openid"}, CreatedAt: t0}); err == nil {
		f.t.Error("SaveConsent for unknown client succeeded")
	}
	wantErr(f.t, "DeleteConsent", f.s.DeleteConsent(f.ctx, "u1", "c1"), nil)
	_, err = f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent deleted", err, store.ErrNotFound)
	wantErr(f.t, "DeleteConsent again", f.s.DeleteConsent(f.ctx, "u1", "c1"), nil)
}

// Signing keys.

func testSigningKeys(f *fixture) {
	mk := func(id, use string, created time.Time) *store.SigningKey {
		k := &store.SigningKey{ID: id, Algorithm: "ES256", Use: use, Private: []byte("enc-" + id), Public: []byte(`{"kid":"` + id + `"}`), CreatedAt: created}
		wantErr(f.t, "CreateSigningKey "+id, f.s.CreateSigningKey(f.ctx, k), nil)
		return k
	}
	k1 := mk("k1", "access", t0)
	k2 := mk("k2", "id", t0.Add(time.Second))
	k3 := mk("k3", "access", t0.Add(2*time.Second))
	wantErr(f.t, "CreateSigningKey dup", f.s.CreateSigningKey(f.ctx, &store.SigningKey{ID: "k1", Algorithm: "RS256", Use: "id", Private: []byte("x"), Public: []byte("y"), CreatedAt: t0}), store.ErrConflict)

	l, err := f.s.ListSigningKeys(f.ctx, t0.Add(time.Hour))
	wantErr(f.t, "ListSigningKeys", err, nil)
	diff(f.t, "keys newest first", l, []*store.SigningKey{k3, k2, k1})

	now, keep := t0.Add(time.Hour), 30*time.Minute
	wantErr(f.t, "RetireSigningKeys", f.s.RetireSigningKeys(f.ctx, "access", now, keep), nil)
	l, err = f.s.ListSigningKeys(f.ctx, now)
	wantErr(f.t, "ListSigningKeys", err, nil)
	r1, r3 := *k1, *k3
	r1.RetiredAt, r1.ExpiresAt = now, now.Add(keep)
	r3.RetiredAt, r3.ExpiresAt = now, now.Add(keep)
	diff(f.t, "after retirement", l, []*store.SigningKey{&r3, k2, &r1})
	// Retiring again leaves retired keys' times alone.
	wantErr(f.t, "RetireSigningKeys again", f.s.RetireSigningKeys(f.ctx, "access", now.Add(time.Minute), keep), nil)
	l, err = f.s.ListSigningKeys(f.ctx, now.Add(keep-time.Microsecond))
	wantErr(f.t, "ListSigningKeys", err, nil)
	diff(f.t, "just before expiry", l, []*store.SigningKey{&r3, k2, &r1})
	l, err = f.s.ListSigningKeys(f.ctx, now.Add(keep))
	wantErr(f.t, "ListSigningKeys at expiry", err, nil)
	diff(f.t, "at expiry", l, []*store.SigningKey{k2})
}

// Counters.

func testCounters(f *fixture) {
	w1, w2 := t0, t0.Add(time.Minute)
	for i := 1; i <= 3; i++ {
		n, err := f.s.Hit(f.ctx, "login:a@example.com", w1, w1.Add(time.Minute))
		wantErr(f.t, "Hit", err, nil)
		if n != i {
			f.t.Fatalf("Hit #%d = %d", i, n)
		}
	}
	n, err := f.s.Hit(f.ctx, "login:a@example.com", w2, w2.Add(time.Minute))
	wantErr(f.t, "Hit new window", err, nil)
	if n != 1 {
		f.t.Errorf("Hit in new window = %d", n)
	}
	n, err = f.s.Hit(f.ctx, "login:b@example.com", w1, w1.Add(time.Minute))
	wantErr(f.t, "Hit other key", err, nil)
	if n != 1 {
		f.t.Errorf("Hit other key = %d", n)
	}
	for _, tc := range []struct {
		key  string
		w    time.Time
		want int
	}{{"login:a@example.com", w1, 3}, {"login:a@example.com", w2, 1}, {"login:b@example.com", w1, 1}, {"none", w1, 0}} {
		n, err := f.s.Count(f.ctx, tc.key, tc.w)
		wantErr(f.t, "Count", err, nil)
		if n != tc.want {
			f.t.Errorf("Count(%s, %v) = %d, want %d", tc.key, tc.w, n, tc.want)
		}
	}
	wantErr(f.t, "ResetCounter", f.s.ResetCounter(f.ctx, "login:a@example.com"), nil)
	for _, w := range []time.Time{w1, w2} {
		n, err := f.s.Count(f.ctx, "login:a@example.com", w)
		wantErr(f.t, "Count after reset", err, nil)
		if n != 0 {
			f.t.Errorf("Count after reset = %d", n)
		}
	}
	n, err = f.s.Count(f.ctx, "login:b@example.com", w1)
	wantErr(f.t, "Count other key", err, nil)
	if n != 1 {
		f.t.Errorf("ResetCounter touched another key: %d", n)
	}
	wantErr(f.t, "ResetCounter unknown", f.s.ResetCounter(f.ctx, "none"), nil)
}

// Events.

func testEvents(f *fixture) {
	var evs []*store.Event
	for i, e := range []struct{ typ, user, client string }{
		{"login.failed", "u1", ""}, {"login.succeeded", "u1", "c1"}, {"refresh.reused", "u2", "c1"}, {"LOGIN.FAILED", "u2", ""},
	} {
		ev := &store.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: e.typ, UserID: e.user, ClientID: e.client, IP: "192.0.2.1", Detail: "d"}
		wantErr(f.t, "RecordEvent", f.s.RecordEvent(f.ctx, ev), nil)
		if ev.ID == 0 {
			f.t.Fatal("RecordEvent did not set ID")
		}
		if i > 0 && ev.ID <= evs[i-1].ID {
			f.t.Errorf("event ids not increasing: %d after %d", ev.ID, evs[i-1].ID)
		}
		evs = append(evs, ev)
	}
	l, total, err := f.s.ListEvents(f.ctx, store.ListOptions{})
	wantErr(f.t, "ListEvents", err, nil)
	diff(f.t, "newest first", l, []*store.Event{evs[3], evs[2], evs[1], evs[0]})
	if total != 4 {
		f.t.Errorf("total %d", total)
	}
	l, total, err = f.s.ListEvents(f.ctx, store.ListOptions{Filters: []store.Filter{flt("type", "eq", "login.failed")}, Sort: "time"})
	wantErr(f.t, "ListEvents type", err, nil)
	diff(f.t, "type filter", l, []*store.Event{evs[0], evs[3]})
	if total != 2 {
		f.t.Errorf("total %d", total)
	}
	// Part of a type finds every event of the family, as the admin panel's
	// filter offers it ("refresh" finds refresh.reused).
	l, _, err = f.s.ListEvents(f.ctx, store.ListOptions{Filters: []store.Filter{flt("type", "contains", "refresh")}})
	wantErr(f.t, "ListEvents type contains", err, nil)
	diff(f.t, "type contains refresh", l, []*store.Event{evs[2]})
	l, total, err = f.s.ListEvents(f.ctx, store.ListOptions{Filters: []store.Filter{flt("type", "contains", "Login.")}, Sort: "time"})
	wantErr(f.t, "ListEvents type contains login", err, nil)
	diff(f.t, "type contains Login.", l, []*store.Event{evs[0], evs[1], evs[3]})
	if total != 3 {
		f.t.Errorf("total %d", total)
	}
	l, _, err = f.s.ListEvents(f.ctx, store.ListOptions{Filters: []store.Filter{flt("user_id", "eq", "u2"), flt("client_id", "eq", "c1")}})
	wantErr(f.t, "ListEvents user+client", err, nil)
	diff(f.t, "user+client", l, []*store.Event{evs[2]})
	l, _, err = f.s.ListEvents(f.ctx, store.ListOptions{Filters: []store.Filter{flt("time", "eq", evs[1].Time.Format(time.RFC3339Nano))}})
	wantErr(f.t, "ListEvents time", err, nil)
	diff(f.t, "time eq", l, []*store.Event{evs[1]})
	l, _, err = f.s.ListEvents(f.ctx, store.ListOptions{Page: store.Page{Number: 2, Size: 3}})
	wantErr(f.t, "ListEvents page 2", err, nil)
	diff(f.t, "page 2", l, []*store.Event{evs[0]})
}

// Meta.

func testMeta(f *fixture) {
	_, err := f.s.GetMeta(f.ctx, "jwks.secret.check")
	wantErr(f.t, "GetMeta none", err, store.ErrNotFound)
	v, err := f.s.SetMetaIfAbsent(f.ctx, "jwks.secret.check", "first")
	wantErr(f.t, "SetMetaIfAbsent", err, nil)
	if v != "first" {
		f.t.Errorf("SetMetaIfAbsent = %q", v)
	}
	v, err = f.s.SetMetaIfAbsent(f.ctx, "jwks.secret.check", "second")
	wantErr(f.t, "SetMetaIfAbsent again", err, nil)
	if v != "first" {
		f.t.Errorf("SetMetaIfAbsent on existing key = %q, want the stored %q", v, "first")
	}
	v, err = f.s.GetMeta(f.ctx, "jwks.secret.check")
	wantErr(f.t, "GetMeta", err, nil)
	if v != "first" {
		f.t.Errorf("GetMeta = %q", v)
	}
	v, err = f.s.SetMetaIfAbsent(f.ctx, "empty", "")
	wantErr(f.t, "SetMetaIfAbsent empty", err, nil)
	if v != "" {
		f.t.Errorf("empty value = %q", v)
	}
}

// Janitor.

func testDeleteExpired(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	now := t0.Add(time.Hour)
	for i := range 3 {
		f.code(fmt.Sprintf("old-code-%d", i), "c1", "u1", now.Add(-time.Second))
	}
	f.code("fresh-code", "c1", "u1", now.Add(time.Minute))
	for i := range 3 {
		wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: fmt.Sprintf("old-%d", i), UserID: "u1", ExpiresAt: now}), nil)
	}
	wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, &store.Session{ID: "fresh", UserID: "u1", ExpiresAt: now.Add(time.Hour)}), nil)
	for i := range 3 {
		_, err := f.s.Hit(f.ctx, fmt.Sprintf("old-%d", i), t0, now.Add(-time.Minute))
		wantErr(f.t, "Hit", err, nil)
	}
	_, err := f.s.Hit(f.ctx, "fresh", now, now.Add(time.Minute))
	wantErr(f.t, "Hit", err, nil)
	f.grant("live", "u1", "c1", "live-rt")
	f.grant("dead", "u1", "c1", "dead-rt1")
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("dead-rt1", "dead-rt2", t0, 0))
	wantErr(f.t, "rotate", err, nil)
	_, err = f.s.RotateRefreshToken(f.ctx, rotation("dead-rt2", "dead-rt3", t0, 0))
	wantErr(f.t, "rotate", err, nil)
	wantErr(f.t, "RevokeGrant", f.s.RevokeGrant(f.ctx, "dead", t0), nil)

	// 3 codes + 3 sessions + 3 counters + 3 tokens, at most 2 per table per call.
	n, err := f.s.DeleteExpired(f.ctx, now, 2)
	wantErr(f.t, "DeleteExpired", err, nil)
	if n != 8 {
		f.t.Errorf("first DeleteExpired = %d, want 8 (2 per table)", n)
	}
	n, err = f.s.DeleteExpired(f.ctx, now, 2)
	wantErr(f.t, "DeleteExpired", err, nil)
	if n != 4 {
		f.t.Errorf("second DeleteExpired = %d, want 4", n)
	}
	n, err = f.s.DeleteExpired(f.ctx, now, 2)
	wantErr(f.t, "DeleteExpired", err, nil)
	if n != 0 {
		f.t.Errorf("third DeleteExpired = %d, want 0", n)
	}

	for i := range 3 {
		_, err := f.s.GetSession(f.ctx, fmt.Sprintf("old-%d", i))
		wantErr(f.t, "expired session", err, store.ErrNotFound)
		c, err := f.s.Count(f.ctx, fmt.Sprintf("old-%d", i), t0)
		wantErr(f.t, "Count", err, nil)
		if c != 0 {
			f.t.Errorf("expired counter survived: %d", c)
		}
		_, err = f.s.GetRefreshToken(f.ctx, store.HashToken(fmt.Sprintf("dead-rt%d", i+1)))
		wantErr(f.t, "revoked grant's token", err, store.ErrNotFound)
		_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken(fmt.Sprintf("old-code-%d", i)), t0, &store.Grant{ID: "gx", GrantType: store.GrantAuthorizationCode}, nil)
		wantErr(f.t, "expired code", err, store.ErrNotFound)
	}
	_, err = f.s.GetSession(f.ctx, "fresh")
	wantErr(f.t, "fresh session", err, nil)
	c, err := f.s.Count(f.ctx, "fresh", now)
	wantErr(f.t, "fresh counter", err, nil)
	if c != 1 {
		f.t.Errorf("fresh counter = %d", c)
	}
	_, err = f.s.GetRefreshToken(f.ctx, store.HashToken("live-rt"))
	wantErr(f.t, "live token", err, nil)
	f.getGrant("dead") // grants themselves are kept
	_, err = f.s.RedeemAuthCode(f.ctx, store.HashToken("fresh-code"), now, &store.Grant{ID: "g-fresh", GrantType: store.GrantAuthorizationCode}, nil)
	wantErr(f.t, "fresh code", err, nil)
}

// Times.

func testTimes(f *fixture) {
	local := time.FixedZone("ART", -3*3600)
	nano := time.Date(2024, 2, 29, 23, 59, 59, 999999999, local)
	u := &store.User{ID: "u1", Email: "a@example.com", EmailKey: "a@example.com", CreatedAt: nano}
	wantErr(f.t, "CreateUser", f.s.CreateUser(f.ctx, u), nil)
	got, err := f.s.GetUser(f.ctx, "u1")
	wantErr(f.t, "GetUser", err, nil)
	if !got.CreatedAt.Equal(nano.Truncate(time.Microsecond)) || got.CreatedAt.Location() != time.UTC {
		f.t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, nano.Truncate(time.Microsecond))
	}
	if !got.UpdatedAt.IsZero() {
		f.t.Errorf("zero UpdatedAt read back as %v", got.UpdatedAt)
	}
	old := time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)
	u2 := &store.User{ID: "u2", Email: "b@example.com", EmailKey: "b@example.com", CreatedAt: old}
	wantErr(f.t, "CreateUser", f.s.CreateUser(f.ctx, u2), nil)
	got, err = f.s.GetUser(f.ctx, "u2")
	wantErr(f.t, "GetUser", err, nil)
	if !got.CreatedAt.Equal(old) {
		f.t.Errorf("pre-1970 time = %v, want %v", got.CreatedAt, old)
	}
}
