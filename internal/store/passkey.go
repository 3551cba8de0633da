package store

import (
	"context"
	"time"
)

// Passkey is a WebAuthn credential of an account: a discoverable
// credential (resident key) created with user verification. The fields
// are the credential record of WebAuthn Level 3 §4 as the relying party
// keeps it; only PublicKey is needed to verify a sign-in, and nothing here
// is secret.
type Passkey struct {
	CredentialID      []byte // unique across accounts
	UserID            string
	PublicKey         []byte // COSE_Key
	AttestationType   string // "none", "basic_full", ...
	AttestationFormat string // "none", "packed", ...
	AAGUID            []byte // the authenticator model (16 bytes; zero when not told)
	SignCount         uint32
	// Flags is the authenticator-data flags byte last seen (UP, UV, BE,
	// BS...), kept so the credential round-trips; BackupEligible and
	// BackupState are its BE and BS bits, kept as columns for display.
	Flags          byte
	BackupEligible bool
	BackupState    bool
	Transports     []string // "internal", "usb", "hybrid", ...
	Name           string   // chosen by the person; may be renamed
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero: never used to sign in
}

// WebAuthn ceremony kinds.
const (
	CeremonyRegister     = "register"      // adding a passkey to a signed-in account
	CeremonyLogin        = "login"         // signing in with a discoverable passkey
	CeremonySecondFactor = "second-factor" // a passkey after the password
)

// WebAuthnCeremony is a registration or authentication begun and not
// finished: the challenge and the rest of the library's session data
// (Data, JSON), stored so that any instance can finish it. The handle the
// browser presents is stored only as IDHash (HashToken); Binding ties it
// to the browser that began it (the caller hashes a secret only that
// browser holds). Single use, short-lived.
type WebAuthnCeremony struct {
	IDHash    []byte
	Kind      string // CeremonyRegister, CeremonyLogin or CeremonySecondFactor
	UserID    string // "" for CeremonyLogin: the passkey will say who
	Binding   []byte
	Data      string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // set by ConsumeCeremony
}

// PasskeyStore keeps passkeys and the ceremonies that create and use them.
type PasskeyStore interface {
	// CreatePasskey stores p. ErrConflict when the credential id is taken
	// (by this account or another); ErrNotFound for an unknown user.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// GetPasskey returns the passkey with credential id id, or ErrNotFound.
	GetPasskey(ctx context.Context, id []byte) (*Passkey, error)
	// ListPasskeys returns the user's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]*Passkey, error)
	// RenamePasskey names the user's passkey id; ErrNotFound when the user
	// has no such passkey.
	RenamePasskey(ctx context.Context, userID string, id []byte, name string) error
	// DeletePasskey deletes the user's passkey id; ErrNotFound when the
	// user has no such passkey.
	DeletePasskey(ctx context.Context, userID string, id []byte) error
	// DeletePasskeys deletes every passkey of the user and returns how
	// many there were.
	DeletePasskeys(ctx context.Context, userID string) (int, error)
	// UsePasskey records a sign-in with passkey id: its counter becomes
	// count, its flags byte flags (and the backup state with it),
	// LastUsedAt now — only if count is greater than the stored counter,
	// or both are 0 (an authenticator without a counter), in one
	// conditional statement. ErrAlreadyUsed otherwise: the counter did not
	// move forward (a cloned authenticator, or a concurrent sign-in with
	// the same counter); ErrNotFound for an unknown passkey.
	UsePasskey(ctx context.Context, id []byte, count uint32, flags byte, now time.Time) error

	// CreateCeremony stores c (IDHash, Kind, Binding and ExpiresAt set).
	CreateCeremony(ctx context.Context, c *WebAuthnCeremony) error
	// ConsumeCeremony marks the ceremony stored under idHash used and
	// returns it, in one conditional statement, only if it is bound to
	// binding, unused and unexpired at now: of concurrent finishes exactly
	// one gets it. ErrNotFound when there is no such ceremony for this
	// binding; ErrAlreadyUsed when it was consumed before; ErrExpired when
	// its time is up (it is left as it was).
	ConsumeCeremony(ctx context.Context, idHash, binding []byte, now time.Time) (*WebAuthnCeremony, error)
}
