package storetest

import (
	"fmt"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Second factors: MFAStore.

// mfaTests are the conformance tests of MFAStore, run by Run.
var mfaTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"TOTPEnrolment", testTOTPEnrolment},
	{"TOTPPendingReplaced", testTOTPPendingReplaced},
	{"TOTPUnknownUser", testTOTPUnknownUser},
	{"TOTPStepReplay", testTOTPStepReplay},
	{"TOTPDisable", testTOTPDisable},
	{"RecoveryCodes", testRecoveryCodes},
	{"RecoveryCodesCascade", testRecoveryCascade},
	{"EnableTOTPFailureWritesNothing", testEnableTOTPFailure},
}

// mfaConcurrencyTests are run by RunConcurrency.
var mfaConcurrencyTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"UseTOTPStep", concTOTPStep},
	{"UseRecoveryCode", concRecoveryCode},
	{"EnableTOTP", concEnableTOTP},
}

func hashes(codes ...string) [][]byte {
	var out [][]byte
	for _, c := range codes {
		out = append(out, store.HashToken(c))
	}
	return out
}

// totpUser creates user id with TOTP enabled on secret sealed at step,
// with recovery codes codes.
func (f *fixture) totpUser(id string, sealed []byte, step int64, codes ...string) {
	f.t.Helper()
	f.user(id, id+"@example.com")
	wantErr(f.t, "SetPendingTOTP", f.s.SetPendingTOTP(f.ctx, id, sealed, t0), nil)
	wantErr(f.t, "EnableTOTP", f.s.EnableTOTP(f.ctx, id, sealed, step, hashes(codes...), t0), nil)
}

func (f *fixture) getUser(id string) *store.User {
	f.t.Helper()
	u, err := f.s.GetUser(f.ctx, id)
	if err != nil {
		f.t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func testTOTPEnrolment(f *fixture) {
	f.user("u1", "a@example.com")
	if u := f.getUser("u1"); u.HasTOTP() || u.TOTPSecret != nil || !u.TOTPEnabledAt.IsZero() || u.TOTPLastStep != 0 {
		f.t.Fatalf("new user has a second factor: %+v", u)
	}
	sealed := []byte("sealed secret 1")
	t1 := t0.Add(time.Minute)
	wantErr(f.t, "SetPendingTOTP", f.s.SetPendingTOTP(f.ctx, "u1", sealed, t1), nil)
	u := f.getUser("u1")
	diff(f.t, "pending secret", u.TOTPSecret, sealed)
	if u.HasTOTP() || !u.TOTPEnabledAt.IsZero() {
		f.t.Fatalf("pending enrolment already enabled: %+v", u)
	}
	// A use of a step before enabling is refused.
	wantErr(f.t, "UseTOTPStep while pending", f.s.UseTOTPStep(f.ctx, "u1", sealed, 5), store.ErrAlreadyUsed)
	wantErr(f.t, "ReplaceRecoveryCodes while pending", f.s.ReplaceRecoveryCodes(f.ctx, "u1", hashes("x"), t1), store.ErrNotFound)

	t2 := t0.Add(2 * time.Minute)
	wantErr(f.t, "EnableTOTP wrong secret", f.s.EnableTOTP(f.ctx, "u1", []byte("other"), 100, hashes("a"), t2), store.ErrNotFound)
	wantErr(f.t, "EnableTOTP", f.s.EnableTOTP(f.ctx, "u1", sealed, 100, hashes("r1", "r2", "r3"), t2), nil)
	u = f.getUser("u1")
	if !u.HasTOTP() || !u.TOTPEnabledAt.Equal(t2) || u.TOTPLastStep != 100 || !u.UpdatedAt.Equal(t2) {
		f.t.Fatalf("after EnableTOTP: enabled %v at %v, last step %d, updated %v", u.HasTOTP(), u.TOTPEnabledAt, u.TOTPLastStep, u.UpdatedAt)
	}
	diff(f.t, "enabled secret", u.TOTPSecret, sealed)
	n, err := f.s.CountRecoveryCodes(f.ctx, "u1")
	wantErr(f.t, "CountRecoveryCodes", err, nil)
	if n != 3 {
		f.t.Fatalf("CountRecoveryCodes = %d, want 3", n)
	}
	// Enabled: no second enabling, no new pending secret.
	wantErr(f.t, "EnableTOTP twice", f.s.EnableTOTP(f.ctx, "u1", sealed, 101, nil, t2), store.ErrNotFound)
	wantErr(f.t, "SetPendingTOTP while enabled", f.s.SetPendingTOTP(f.ctx, "u1", []byte("new"), t2), store.ErrConflict)
	u = f.getUser("u1")
	diff(f.t, "secret after refused changes", u.TOTPSecret, sealed)
	if u.TOTPLastStep != 100 {
		f.t.Fatalf("last step %d after refused changes, want 100", u.TOTPLastStep)
	}
	// The reads every login does see the same fields.
	byEmail, err := f.s.GetUserByEmailKey(f.ctx, "a@example.com")
	wantErr(f.t, "GetUserByEmailKey", err, nil)
	diff(f.t, "GetUserByEmailKey", byEmail, u)
	// UpdateUser keeps them.
	upd, err := f.s.UpdateUser(f.ctx, "u1", store.UserUpdate{FirstName: ptr("Otro")}, t2)
	wantErr(f.t, "UpdateUser", err, nil)
	if !upd.HasTOTP() || upd.TOTPLastStep != 100 {
		f.t.Fatalf("UpdateUser returned %+v", upd)
	}
}

func testTOTPPendingReplaced(f *fixture) {
	f.user("u1", "a@example.com")
	wantErr(f.t, "SetPendingTOTP 1", f.s.SetPendingTOTP(f.ctx, "u1", []byte("first"), t0), nil)
	wantErr(f.t, "SetPendingTOTP 2", f.s.SetPendingTOTP(f.ctx, "u1", []byte("second"), t0), nil)
	// The page showing the first secret is stale: confirming it fails.
	wantErr(f.t, "EnableTOTP stale", f.s.EnableTOTP(f.ctx, "u1", []byte("first"), 1, nil, t0), store.ErrNotFound)
	wantErr(f.t, "EnableTOTP current", f.s.EnableTOTP(f.ctx, "u1", []byte("second"), 1, nil, t0), nil)
}

func testTOTPUnknownUser(f *fixture) {
	wantErr(f.t, "SetPendingTOTP", f.s.SetPendingTOTP(f.ctx, "nobody", []byte("s"), t0), store.ErrNotFound)
	wantErr(f.t, "EnableTOTP", f.s.EnableTOTP(f.ctx, "nobody", []byte("s"), 1, hashes("a"), t0), store.ErrNotFound)
	wantErr(f.t, "DisableTOTP", f.s.DisableTOTP(f.ctx, "nobody", t0), store.ErrNotFound)
	wantErr(f.t, "UseTOTPStep", f.s.UseTOTPStep(f.ctx, "nobody", []byte("s"), 1), store.ErrAlreadyUsed)
	wantErr(f.t, "UseRecoveryCode", f.s.UseRecoveryCode(f.ctx, "nobody", store.HashToken("a")), store.ErrNotFound)
	n, err := f.s.CountRecoveryCodes(f.ctx, "nobody")
	wantErr(f.t, "CountRecoveryCodes", err, nil)
	if n != 0 {
		f.t.Fatalf("CountRecoveryCodes = %d", n)
	}
}

func testTOTPStepReplay(f *fixture) {
	sealed := []byte("sealed")
	f.totpUser("u1", sealed, 1000)
	wantErr(f.t, "UseTOTPStep same as enabling", f.s.UseTOTPStep(f.ctx, "u1", sealed, 1000), store.ErrAlreadyUsed)
	wantErr(f.t, "UseTOTPStep older", f.s.UseTOTPStep(f.ctx, "u1", sealed, 999), store.ErrAlreadyUsed)
	wantErr(f.t, "UseTOTPStep next", f.s.UseTOTPStep(f.ctx, "u1", sealed, 1001), nil)
	wantErr(f.t, "UseTOTPStep replay", f.s.UseTOTPStep(f.ctx, "u1", sealed, 1001), store.ErrAlreadyUsed)
	wantErr(f.t, "UseTOTPStep other secret", f.s.UseTOTPStep(f.ctx, "u1", []byte("other"), 1005), store.ErrAlreadyUsed)
	wantErr(f.t, "UseTOTPStep later", f.s.UseTOTPStep(f.ctx, "u1", sealed, 1003), nil)
	if u := f.getUser("u1"); u.TOTPLastStep != 1003 {
		f.t.Fatalf("last step %d, want 1003", u.TOTPLastStep)
	}
}

func testTOTPDisable(f *fixture) {
	sealed := []byte("sealed")
	f.totpUser("u1", sealed, 10, "r1", "r2")
	f.totpUser("u2", sealed, 10, "r1")
	t1 := t0.Add(time.Hour)
	wantErr(f.t, "DisableTOTP", f.s.DisableTOTP(f.ctx, "u1", t1), nil)
	u := f.getUser("u1")
	if u.HasTOTP() || u.TOTPSecret != nil || !u.TOTPEnabledAt.IsZero() || u.TOTPLastStep != 0 || !u.UpdatedAt.Equal(t1) {
		f.t.Fatalf("after DisableTOTP: %+v", u)
	}
	n, err := f.s.CountRecoveryCodes(f.ctx, "u1")
	wantErr(f.t, "CountRecoveryCodes", err, nil)
	if n != 0 {
		f.t.Fatalf("%d recovery codes left after DisableTOTP", n)
	}
	wantErr(f.t, "UseRecoveryCode after disable", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("r1")), store.ErrNotFound)
	wantErr(f.t, "UseTOTPStep after disable", f.s.UseTOTPStep(f.ctx, "u1", sealed, 20), store.ErrAlreadyUsed)
	// The other user is untouched.
	if u2 := f.getUser("u2"); !u2.HasTOTP() {
		f.t.Fatal("DisableTOTP disabled another user's second factor")
	}
	wantErr(f.t, "other user's code", f.s.UseRecoveryCode(f.ctx, "u2", store.HashToken("r1")), nil)
	// Enrolling again starts from nothing.
	wantErr(f.t, "SetPendingTOTP again", f.s.SetPendingTOTP(f.ctx, "u1", []byte("new"), t1), nil)
	wantErr(f.t, "EnableTOTP again", f.s.EnableTOTP(f.ctx, "u1", []byte("new"), 3, hashes("n1"), t1), nil)
	wantErr(f.t, "UseTOTPStep after re-enrolment", f.s.UseTOTPStep(f.ctx, "u1", []byte("new"), 4), nil)
}

func testRecoveryCodes(f *fixture) {
	f.totpUser("u1", []byte("s"), 1, "r1", "r2")
	f.totpUser("u2", []byte("s"), 1, "r3")
	wantErr(f.t, "another user's code", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("r3")), store.ErrNotFound)
	wantErr(f.t, "unknown code", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("zz")), store.ErrNotFound)
	wantErr(f.t, "UseRecoveryCode", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("r1")), nil)
	wantErr(f.t, "UseRecoveryCode again", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("r1")), store.ErrNotFound)
	n, err := f.s.CountRecoveryCodes(f.ctx, "u1")
	wantErr(f.t, "CountRecoveryCodes", err, nil)
	if n != 1 {
		f.t.Fatalf("CountRecoveryCodes = %d, want 1", n)
	}
	wantErr(f.t, "ReplaceRecoveryCodes", f.s.ReplaceRecoveryCodes(f.ctx, "u1", hashes("n1", "n2", "n3"), t0), nil)
	wantErr(f.t, "old code after replace", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("r2")), store.ErrNotFound)
	wantErr(f.t, "new code", f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("n2")), nil)
	if n, _ := f.s.CountRecoveryCodes(f.ctx, "u1"); n != 2 {
		f.t.Fatalf("CountRecoveryCodes = %d after replace and one use, want 2", n)
	}
	if n, _ := f.s.CountRecoveryCodes(f.ctx, "u2"); n != 1 {
		f.t.Fatalf("other user's codes: %d, want 1", n)
	}
	wantErr(f.t, "ReplaceRecoveryCodes unknown user", f.s.ReplaceRecoveryCodes(f.ctx, "nobody", hashes("x"), t0), store.ErrNotFound)
}

func testRecoveryCascade(f *fixture) {
	f.totpUser("u1", []byte("s"), 1, "r1", "r2")
	wantErr(f.t, "DeleteUser", f.s.DeleteUser(f.ctx, "u1"), nil)
	n, err := f.s.CountRecoveryCodes(f.ctx, "u1")
	wantErr(f.t, "CountRecoveryCodes", err, nil)
	if n != 0 {
		f.t.Fatalf("%d recovery codes outlived their user", n)
	}
	// The same id may be registered again without inheriting anything.
	f.user("u1", "b@example.com")
	if u := f.getUser("u1"); u.HasTOTP() {
		f.t.Fatal("a new account inherited a second factor")
	}
}

// testEnableTOTPFailure: a failing EnableTOTP (a duplicate recovery hash)
// leaves the enrolment pending and the old codes in place.
func testEnableTOTPFailure(f *fixture) {
	f.user("u1", "a@example.com")
	wantErr(f.t, "SetPendingTOTP", f.s.SetPendingTOTP(f.ctx, "u1", []byte("s"), t0), nil)
	if err := f.s.EnableTOTP(f.ctx, "u1", []byte("s"), 7, hashes("dup", "dup"), t0); err == nil {
		f.t.Fatal("EnableTOTP with a duplicate recovery code succeeded")
	}
	u := f.getUser("u1")
	if u.HasTOTP() || u.TOTPLastStep != 0 {
		f.t.Fatalf("failed EnableTOTP left %+v", u)
	}
	if n, _ := f.s.CountRecoveryCodes(f.ctx, "u1"); n != 0 {
		f.t.Fatalf("failed EnableTOTP left %d recovery codes", n)
	}
	wantErr(f.t, "EnableTOTP after failure", f.s.EnableTOTP(f.ctx, "u1", []byte("s"), 7, hashes("a"), t0), nil)
}

// concTOTPStep: of N concurrent uses of one time step exactly one is
// accepted; the step is recorded.
func concTOTPStep(f *fixture) {
	sealed := []byte("sealed")
	f.totpUser("u1", sealed, 50)
	errs := race(workers, func(int) error { return f.s.UseTOTPStep(f.ctx, "u1", sealed, 51) })
	ok, used := tally(f.t, "UseTOTPStep", errs, store.ErrAlreadyUsed)
	if ok != 1 || used != workers-1 {
		f.t.Fatalf("%d uses of one step accepted and %d refused; want 1 and %d", ok, used, workers-1)
	}
	// Different steps racing: the latest always ends recorded, and never
	// goes backwards.
	errs = race(workers, func(i int) error { return f.s.UseTOTPStep(f.ctx, "u1", sealed, int64(52+i)) })
	ok, _ = tally(f.t, "UseTOTPStep different steps", errs, store.ErrAlreadyUsed)
	if ok < 1 {
		f.t.Fatal("no step accepted")
	}
	if u := f.getUser("u1"); u.TOTPLastStep != int64(52+workers-1) {
		// The largest step is accepted whatever the order: every smaller
		// value is below it.
		f.t.Fatalf("last step %d, want %d", u.TOTPLastStep, 52+workers-1)
	}
}

// concRecoveryCode: of N concurrent uses of one recovery code exactly one
// wins.
func concRecoveryCode(f *fixture) {
	f.totpUser("u1", []byte("s"), 1, "r1", "r2")
	errs := race(workers, func(int) error { return f.s.UseRecoveryCode(f.ctx, "u1", store.HashToken("r1")) })
	ok, gone := tally(f.t, "UseRecoveryCode", errs, store.ErrNotFound)
	if ok != 1 || gone != workers-1 {
		f.t.Fatalf("%d uses of one recovery code accepted and %d refused; want 1 and %d", ok, gone, workers-1)
	}
	if n, _ := f.s.CountRecoveryCodes(f.ctx, "u1"); n != 1 {
		f.t.Fatalf("CountRecoveryCodes = %d, want 1", n)
	}
}

// concEnableTOTP: of N concurrent confirmations of one enrolment exactly
// one wins, and the recovery codes are the winner's alone.
func concEnableTOTP(f *fixture) {
	f.user("u1", "a@example.com")
	wantErr(f.t, "SetPendingTOTP", f.s.SetPendingTOTP(f.ctx, "u1", []byte("s"), t0), nil)
	errs := race(workers, func(i int) error {
		return f.s.EnableTOTP(f.ctx, "u1", []byte("s"), 9, hashes(fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)), t0)
	})
	ok, lost := tally(f.t, "EnableTOTP", errs, store.ErrNotFound)
	if ok != 1 || lost != workers-1 {
		f.t.Fatalf("%d confirmations won and %d lost; want 1 and %d", ok, lost, workers-1)
	}
	if n, _ := f.s.CountRecoveryCodes(f.ctx, "u1"); n != 2 {
		f.t.Fatalf("CountRecoveryCodes = %d, want the winner's 2", n)
	}
}
