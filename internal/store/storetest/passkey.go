package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Passkeys and WebAuthn ceremonies: PasskeyStore.

var passkeyTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"PasskeyCRUD", testPasskeyCRUD},
	{"PasskeyConflict", testPasskeyConflict},
	{"PasskeyCounter", testPasskeyCounter},
	{"PasskeyCascade", testPasskeyCascade},
	{"CeremonySingleUse", testCeremonySingleUse},
	{"CeremonyBinding", testCeremonyBinding},
	{"CeremonyExpiry", testCeremonyExpiry},
	{"CeremonyDeleteExpired", testCeremonyDeleteExpired},
	{"AMRCarried", testAMRCarried},
}

var passkeyConcurrencyTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"ConsumeCeremony", concConsumeCeremony},
	{"UsePasskey", concUsePasskey},
}

func (f *fixture) passkey(id, userID string) *store.Passkey {
	f.t.Helper()
	p := &store.Passkey{
		CredentialID: []byte("cred-" + id), UserID: userID, PublicKey: []byte("cose-" + id),
		AttestationType: "none", AttestationFormat: "none", AAGUID: make([]byte, 16),
		SignCount: 1, Flags: 0x45 | 0x08, Transports: []string{"internal", "hybrid"},
		Name: "Llave " + id, CreatedAt: t0,
	}
	wantErr(f.t, "CreatePasskey "+id, f.s.CreatePasskey(f.ctx, p), nil)
	return p
}

func (f *fixture) ceremony(s store.Store, id, kind, userID, binding string, expires time.Time) *store.WebAuthnCeremony {
	f.t.Helper()
	c := &store.WebAuthnCeremony{IDHash: store.HashToken(id), Kind: kind, UserID: userID,
		Binding: store.HashToken(binding), Data: `{"challenge":"` + id + `"}`, CreatedAt: t0, ExpiresAt: expires}
	wantErr(f.t, "CreateCeremony "+id, s.CreateCeremony(f.ctx, c), nil)
	return c
}

func testPasskeyCRUD(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	p1 := f.passkey("1", "u1")
	p2 := f.passkey("2", "u1")
	f.passkey("3", "u2")
	if !p1.BackupEligible || p1.BackupState {
		f.t.Errorf("flags 0x%x: BackupEligible %v BackupState %v, want true false", p1.Flags, p1.BackupEligible, p1.BackupState)
	}
	got, err := f.s.GetPasskey(f.ctx, p1.CredentialID)
	wantErr(f.t, "GetPasskey", err, nil)
	diff(f.t, "GetPasskey", got, p1)
	list, err := f.s.ListPasskeys(f.ctx, "u1")
	wantErr(f.t, "ListPasskeys", err, nil)
	diff(f.t, "ListPasskeys", list, []*store.Passkey{p1, p2})

	wantErr(f.t, "RenamePasskey", f.s.RenamePasskey(f.ctx, "u1", p1.CredentialID, "Mi teléfono"), nil)
	wantErr(f.t, "RenamePasskey of another user", f.s.RenamePasskey(f.ctx, "u2", p1.CredentialID, "x"), store.ErrNotFound)
	got, _ = f.s.GetPasskey(f.ctx, p1.CredentialID)
	if got.Name != "Mi teléfono" {
		f.t.Errorf("renamed: %q", got.Name)
	}
	wantErr(f.t, "DeletePasskey of another user", f.s.DeletePasskey(f.ctx, "u2", p1.CredentialID), store.ErrNotFound)
	wantErr(f.t, "DeletePasskey", f.s.DeletePasskey(f.ctx, "u1", p1.CredentialID), nil)
	wantErr(f.t, "DeletePasskey again", f.s.DeletePasskey(f.ctx, "u1", p1.CredentialID), store.ErrNotFound)
	_, err = f.s.GetPasskey(f.ctx, p1.CredentialID)
	wantErr(f.t, "GetPasskey deleted", err, store.ErrNotFound)

	n, err := f.s.DeletePasskeys(f.ctx, "u1")
	wantErr(f.t, "DeletePasskeys", err, nil)
	if n != 1 {
		f.t.Errorf("DeletePasskeys deleted %d, want 1", n)
	}
	list, _ = f.s.ListPasskeys(f.ctx, "u2")
	if len(list) != 1 {
		f.t.Errorf("the other user's passkeys: %d, want 1", len(list))
	}
}

func testPasskeyConflict(f *fixture) {
	f.user("u1", "a@example.com")
	f.user("u2", "b@example.com")
	p := f.passkey("1", "u1")
	dup := *p
	dup.UserID = "u2"
	wantErr(f.t, "CreatePasskey taken id", f.s.CreatePasskey(f.ctx, &dup), store.ErrConflict)
	other := *p
	other.CredentialID, other.UserID = []byte("cred-x"), "nobody"
	wantErr(f.t, "CreatePasskey unknown user", f.s.CreatePasskey(f.ctx, &other), store.ErrNotFound)
}

// testPasskeyCounter: the counter only moves forward; 0 stays usable for
// authenticators without one.
func testPasskeyCounter(f *fixture) {
	f.user("u1", "a@example.com")
	p := f.passkey("1", "u1") // counter 1
	t1 := t0.Add(time.Hour)
	wantErr(f.t, "UsePasskey 5", f.s.UsePasskey(f.ctx, p.CredentialID, 5, 0x05|0x08|0x10, t1), nil)
	got, _ := f.s.GetPasskey(f.ctx, p.CredentialID)
	if got.SignCount != 5 || !got.LastUsedAt.Equal(t1) || !got.BackupState || got.Flags != 0x1d {
		f.t.Errorf("after use: count %d, last use %v, backup state %v, flags 0x%x", got.SignCount, got.LastUsedAt, got.BackupState, got.Flags)
	}
	wantErr(f.t, "UsePasskey same counter", f.s.UsePasskey(f.ctx, p.CredentialID, 5, 0x05, t1), store.ErrAlreadyUsed)
	wantErr(f.t, "UsePasskey counter back", f.s.UsePasskey(f.ctx, p.CredentialID, 3, 0x05, t1), store.ErrAlreadyUsed)
	wantErr(f.t, "UsePasskey counter 0 after 5", f.s.UsePasskey(f.ctx, p.CredentialID, 0, 0x05, t1), store.ErrAlreadyUsed)
	got, _ = f.s.GetPasskey(f.ctx, p.CredentialID)
	if got.SignCount != 5 || !got.BackupState {
		f.t.Errorf("a refused use changed the passkey: count %d, backup state %v", got.SignCount, got.BackupState)
	}
	wantErr(f.t, "UsePasskey unknown", f.s.UsePasskey(f.ctx, []byte("nope"), 9, 0, t1), store.ErrNotFound)

	z := *p
	z.CredentialID, z.SignCount = []byte("cred-zero"), 0
	wantErr(f.t, "CreatePasskey", f.s.CreatePasskey(f.ctx, &z), nil)
	for range 2 {
		wantErr(f.t, "UsePasskey 0 on a counterless authenticator", f.s.UsePasskey(f.ctx, z.CredentialID, 0, 0x05, t1), nil)
	}
}

func testPasskeyCascade(f *fixture) {
	f.user("u1", "a@example.com")
	p := f.passkey("1", "u1")
	f.ceremony(f.s, "c1", store.CeremonyRegister, "u1", "b", t0.Add(time.Minute))
	wantErr(f.t, "DeleteUser", f.s.DeleteUser(f.ctx, "u1"), nil)
	_, err := f.s.GetPasskey(f.ctx, p.CredentialID)
	wantErr(f.t, "GetPasskey after DeleteUser", err, store.ErrNotFound)
	_, err = f.s.ConsumeCeremony(f.ctx, store.HashToken("c1"), store.HashToken("b"), t0)
	wantErr(f.t, "ConsumeCeremony after DeleteUser", err, store.ErrNotFound)
}

func testCeremonySingleUse(f *fixture) {
	f.user("u1", "a@example.com")
	for _, kind := range []string{store.CeremonyLogin, store.CeremonyRegister, store.CeremonySecondFactor} {
		uid := "u1"
		if kind == store.CeremonyLogin {
			uid = ""
		}
		c := f.ceremony(f.s, "c-"+kind, kind, uid, "browser", t0.Add(5*time.Minute))
		got, err := f.s.ConsumeCeremony(f.ctx, c.IDHash, c.Binding, t0.Add(time.Minute))
		wantErr(f.t, "ConsumeCeremony "+kind, err, nil)
		want := *c
		want.UsedAt = t0.Add(time.Minute)
		diff(f.t, "consumed "+kind, got, &want)
		_, err = f.s.ConsumeCeremony(f.ctx, c.IDHash, c.Binding, t0.Add(time.Minute))
		wantErr(f.t, "ConsumeCeremony again "+kind, err, store.ErrAlreadyUsed)
	}
	err := f.s.CreateCeremony(f.ctx, &store.WebAuthnCeremony{IDHash: []byte("x"), Kind: "other", Binding: []byte("b"), ExpiresAt: t0})
	if err == nil {
		f.t.Error("CreateCeremony of an unknown kind succeeded")
	}
	_, err = f.s.ConsumeCeremony(f.ctx, store.HashToken("unknown"), store.HashToken("browser"), t0)
	wantErr(f.t, "ConsumeCeremony unknown", err, store.ErrNotFound)
}

// testCeremonyBinding: another browser's binding finds nothing and leaves
// the ceremony for its own browser.
func testCeremonyBinding(f *fixture) {
	c := f.ceremony(f.s, "c1", store.CeremonyLogin, "", "browser-a", t0.Add(5*time.Minute))
	_, err := f.s.ConsumeCeremony(f.ctx, c.IDHash, store.HashToken("browser-b"), t0)
	wantErr(f.t, "ConsumeCeremony other binding", err, store.ErrNotFound)
	_, err = f.s.ConsumeCeremony(f.ctx, c.IDHash, c.Binding, t0)
	wantErr(f.t, "ConsumeCeremony own binding", err, nil)
}

func testCeremonyExpiry(f *fixture) {
	c := f.ceremony(f.s, "c1", store.CeremonyLogin, "", "b", t0.Add(5*time.Minute))
	_, err := f.s.ConsumeCeremony(f.ctx, c.IDHash, c.Binding, t0.Add(5*time.Minute))
	wantErr(f.t, "ConsumeCeremony at expiry", err, store.ErrExpired)
	_, err = f.s.ConsumeCeremony(f.ctx, c.IDHash, c.Binding, t0.Add(4*time.Minute))
	wantErr(f.t, "ConsumeCeremony before expiry (an expired try wrote nothing)", err, nil)
}

func testCeremonyDeleteExpired(f *fixture) {
	f.ceremony(f.s, "old", store.CeremonyLogin, "", "b", t0.Add(time.Minute))
	f.ceremony(f.s, "new", store.CeremonyLogin, "", "b", t0.Add(time.Hour))
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(2*time.Minute), 0); err != nil {
		f.t.Fatal(err)
	}
	_, err := f.s.ConsumeCeremony(f.ctx, store.HashToken("old"), store.HashToken("b"), t0)
	wantErr(f.t, "expired ceremony after DeleteExpired", err, store.ErrNotFound)
	_, err = f.s.ConsumeCeremony(f.ctx, store.HashToken("new"), store.HashToken("b"), t0)
	wantErr(f.t, "live ceremony after DeleteExpired", err, nil)
}

// testAMRCarried: the session's methods go to the code, from the code to
// the grant, and are read back with it (also through the refresh read).
func testAMRCarried(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	amr := []string{"hwk", "user"}
	s := &store.Session{ID: "s1", UserID: "u1", AuthTime: t0, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), AMR: amr}
	wantErr(f.t, "CreateSession", f.s.CreateSession(f.ctx, s), nil)
	got, err := f.s.GetSession(f.ctx, "s1")
	wantErr(f.t, "GetSession", err, nil)
	diff(f.t, "session amr", got.AMR, amr)
	c := &store.AuthCode{Hash: store.HashToken("code"), ClientID: "c1", UserID: "u1", RedirectURI: "http://127.0.0.1/cb",
		Scopes: []string{"openid"}, AuthTime: t0, SessionID: "s1", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), AMR: amr}
	wantErr(f.t, "CreateAuthCode", f.s.CreateAuthCode(f.ctx, c), nil)
	g := &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode, CreatedAt: t0, LastUsedAt: t0}
	rt := &store.RefreshToken{Hash: store.HashToken("rt"), CreatedAt: t0}
	code, err := f.s.RedeemAuthCode(f.ctx, c.Hash, t0, g, rt)
	wantErr(f.t, "RedeemAuthCode", err, nil)
	diff(f.t, "code amr", code.AMR, amr)
	diff(f.t, "redeemed grant amr", g.AMR, amr)
	diff(f.t, "stored grant amr", f.getGrant("g1").AMR, amr)
	_, rg, _, err := f.s.GetRefreshTokenGrant(f.ctx, rt.Hash)
	wantErr(f.t, "GetRefreshTokenGrant", err, nil)
	diff(f.t, "refresh read grant amr", rg.AMR, amr)
	rot, err := f.s.RotateRefreshToken(f.ctx, store.Rotation{OldHash: rt.Hash,
		New: store.RefreshToken{Hash: store.HashToken("rt2"), CreatedAt: t0}, Now: t0.Add(time.Second)})
	wantErr(f.t, "RotateRefreshToken", err, nil)
	diff(f.t, "rotated grant amr", rot.AMR, amr)

	f.device("dev", "AAAA", "c1", t0.Add(time.Hour))
	wantErr(f.t, "DecideDeviceCode", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", t0, []string{"pwd", "otp", "mfa"}, t0), nil)
	_, dg, _, err := f.poll("dev", t0.Add(time.Second), "g2", "")
	wantErr(f.t, "PollDeviceCode", err, nil)
	diff(f.t, "device grant amr", dg.AMR, []string{"pwd", "otp", "mfa"})
	diff(f.t, "stored device grant amr", f.getGrant("g2").AMR, []string{"pwd", "otp", "mfa"})
}

// concConsumeCeremony: of many concurrent finishes of one ceremony exactly
// one gets it.
func concConsumeCeremony(f *fixture) {
	c := f.ceremony(f.s, "c1", store.CeremonyLogin, "", "b", t0.Add(5*time.Minute))
	errs := race(16, func(int) error {
		_, err := f.s.ConsumeCeremony(f.ctx, c.IDHash, c.Binding, t0)
		return err
	})
	if ok, used := tally(f.t, "ConsumeCeremony", errs, store.ErrAlreadyUsed); ok != 1 || used != 15 {
		f.t.Errorf("ConsumeCeremony: %d succeeded, %d already used; want 1 and 15", ok, used)
	}
}

// concUsePasskey: sign-ins presenting the same counter at once: one wins.
func concUsePasskey(f *fixture) {
	f.user("u1", "a@example.com")
	p := f.passkey("1", "u1")
	errs := race(16, func(int) error { return f.s.UsePasskey(f.ctx, p.CredentialID, 7, 0x05, t0) })
	if ok, used := tally(f.t, "UsePasskey", errs, store.ErrAlreadyUsed); ok != 1 || used != 15 {
		f.t.Errorf("UsePasskey: %d succeeded, %d refused; want 1 and 15", ok, used)
	}
}

// CeremonyAcrossInstances begins a ceremony on one store handle and
// finishes it on another (two server instances on one database): the
// second sees it, consumes it once, and the first then sees it used.
func CeremonyAcrossInstances(t *testing.T, a, b store.Store) {
	f := &fixture{t: t, s: a, ctx: t.Context()}
	f.user("u1", "a@example.com")
	now := time.Now().UTC()
	c := f.ceremony(a, "across", store.CeremonyRegister, "u1", "browser", now.Add(5*time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got, err := b.ConsumeCeremony(ctx, c.IDHash, c.Binding, now)
	wantErr(t, "ConsumeCeremony on the other instance", err, nil)
	if got.UserID != "u1" || got.Data != c.Data || got.Kind != store.CeremonyRegister {
		t.Errorf("the other instance read %+v", got)
	}
	_, err = a.ConsumeCeremony(ctx, c.IDHash, c.Binding, now)
	wantErr(t, "ConsumeCeremony again on the first instance", err, store.ErrAlreadyUsed)
}
