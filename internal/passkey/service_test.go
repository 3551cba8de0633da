package passkey_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/passkey"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
)

func newService(t *testing.T) (*passkey.Service, store.Store) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, id := range []string{"u1", "u2"} {
		if err := db.CreateUser(t.Context(), &store.User{ID: id, Email: id + "@example.com", EmailKey: id + "@example.com",
			Activated: true, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := passkey.New(passkey.Config{Issuer: "https://auth.example.com", Store: db})
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// TestRegistrationOptions: a resident key and user verification, both
// required, no attestation, the relying party from the issuer, and the
// account's passkeys excluded (no second passkey on one authenticator).
func TestRegistrationOptions(t *testing.T) {
	s, db := newService(t)
	ctx := t.Context()
	if err := db.CreatePasskey(ctx, &store.Passkey{CredentialID: []byte("have"), UserID: "u1", PublicKey: []byte("k"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	u, _ := db.GetUser(ctx, "u1")
	b, err := s.BeginRegistration(ctx, u, []byte("binding"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b.Options)
	var o struct {
		PublicKey struct {
			RP                     struct{ ID string }
			User                   struct{ ID, Name string }
			Attestation            string
			AuthenticatorSelection struct {
				ResidentKey, UserVerification string
			}
			ExcludeCredentials []struct{ ID string }
		}
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	pk := o.PublicKey
	if pk.RP.ID != "auth.example.com" || pk.AuthenticatorSelection.ResidentKey != "required" ||
		pk.AuthenticatorSelection.UserVerification != "required" || pk.Attestation != "none" ||
		len(pk.ExcludeCredentials) != 1 || pk.User.Name != "u1@example.com" {
		t.Errorf("registration options %s", raw)
	}
}

// TestCeremonyKindAndOwner: a handle finishes only the ceremony it began,
// for the account it began it for, once; a mismatch uses it up.
func TestCeremonyKindAndOwner(t *testing.T) {
	s, db := newService(t)
	ctx := t.Context()
	u1, _ := db.GetUser(ctx, "u1")
	u2, _ := db.GetUser(ctx, "u2")
	bind := []byte("binding")
	b, err := s.BeginRegistration(ctx, u1, bind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRegistration(ctx, u2, b.Handle, bind, "", "es", []byte("{}"), ""); !errors.Is(err, passkey.ErrCeremony) {
		t.Errorf("another account finishing: %v", err)
	}
	if _, err := s.FinishRegistration(ctx, u1, b.Handle, bind, "", "es", []byte("{}"), ""); !errors.Is(err, passkey.ErrCeremony) {
		t.Errorf("after a mismatch the handle is used: %v", err)
	}
	b, err = s.BeginRegistration(ctx, u1, bind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishSecondFactor(ctx, u1, b.Handle, bind, []byte("{}"), ""); !errors.Is(err, passkey.ErrCeremony) {
		t.Errorf("a registration finished as a second factor: %v", err)
	}
	b, err = s.BeginLogin(ctx, bind, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b.Options)
	if !strings.Contains(string(raw), `"mediation":"conditional"`) || !strings.Contains(string(raw), `"userVerification":"required"`) {
		t.Errorf("conditional login options %s", raw)
	}
	if _, err := s.FinishLogin(ctx, b.Handle, []byte("other"), []byte("{}"), ""); !errors.Is(err, passkey.ErrCeremony) {
		t.Errorf("another binding finishing a login: %v", err)
	}
	if _, err := s.BeginSecondFactor(ctx, u2, bind); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("second factor for an account without passkeys: %v", err)
	}
}
