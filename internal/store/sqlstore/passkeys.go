package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Passkeys and WebAuthn ceremonies (store.PasskeyStore), migration 00011.

var _ store.PasskeyStore = (*DB)(nil)

const passkeyCols = `credential_id, user_id, public_key, attestation_type, attestation_format, aaguid,
	sign_count, flags, backup_eligible, backup_state, transports, name, created_at, last_used_at`

// Authenticator-data flag bits (WebAuthn §6.1): backup eligible, backup state.
const (
	flagBE = 0x08
	flagBS = 0x10
)

func scanPasskey(r rowScanner) (*store.Passkey, error) {
	var p store.Passkey
	var count, flags, created, used int64
	var transports string
	if err := r.Scan(&p.CredentialID, &p.UserID, &p.PublicKey, &p.AttestationType, &p.AttestationFormat, &p.AAGUID,
		&count, &flags, &p.BackupEligible, &p.BackupState, &transports, &p.Name, &created, &used); err != nil {
		return nil, err
	}
	p.SignCount, p.Flags = uint32(count), byte(flags)
	p.Transports = splitList(transports)
	p.CreatedAt, p.LastUsedAt = fromMicros(created), fromMicros(used)
	return &p, nil
}

// CreatePasskey inserts p; BackupEligible and BackupState are taken from
// p.Flags.
func (db *DB) CreatePasskey(ctx context.Context, p *store.Passkey) error {
	if len(p.CredentialID) == 0 || len(p.PublicKey) == 0 {
		return errors.New("sqlstore: a passkey needs a credential id and a public key")
	}
	if err := checkWords("transport", p.Transports); err != nil {
		return err
	}
	p.BackupEligible, p.BackupState = p.Flags&flagBE != 0, p.Flags&flagBS != 0
	_, err := db.w.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.CredentialID, p.UserID, p.PublicKey, p.AttestationType, p.AttestationFormat, blob(p.AAGUID),
		int64(p.SignCount), int64(p.Flags), p.BackupEligible, p.BackupState, joinList(p.Transports), p.Name,
		micros(p.CreatedAt), micros(p.LastUsedAt))
	return db.mapErr(err)
}

// GetPasskey returns the passkey with credential id id.
func (db *DB) GetPasskey(ctx context.Context, id []byte) (*store.Passkey, error) {
	p, err := scanPasskey(db.readRow(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE credential_id = $1`, id))
	return p, notFound(err)
}

// ListPasskeys returns the user's passkeys, oldest first.
func (db *DB) ListPasskeys(ctx context.Context, userID string) ([]*store.Passkey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE user_id = $1
		ORDER BY created_at, credential_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RenamePasskey sets the name of the user's passkey id.
func (db *DB) RenamePasskey(ctx context.Context, userID string, id []byte, name string) error {
	return mustAffect(db.w.ExecContext(ctx, `UPDATE passkeys SET name = $3 WHERE user_id = $1 AND credential_id = $2`,
		userID, id, name))
}

// DeletePasskey deletes the user's passkey id.
func (db *DB) DeletePasskey(ctx context.Context, userID string, id []byte) error {
	return mustAffect(db.w.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2`, userID, id))
}

// DeletePasskeys deletes every passkey of the user.
func (db *DB) DeletePasskeys(ctx context.Context, userID string) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = $1`, userID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// UsePasskey records a sign-in, only if the counter moves forward (or
// stays 0 on an authenticator without one): one conditional UPDATE, so of
// two sign-ins presenting the same counter one wins.
func (db *DB) UsePasskey(ctx context.Context, id []byte, count uint32, flags byte, now time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE passkeys SET sign_count = $2, flags = $3, backup_state = $4, last_used_at = $5
		WHERE credential_id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		id, int64(count), int64(flags), flags&flagBS != 0, micros(now))
	if err := mustAffect(res, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := db.GetPasskey(ctx, id); err != nil {
		return err
	}
	return store.ErrAlreadyUsed
}

// CreateCeremony inserts c.
func (db *DB) CreateCeremony(ctx context.Context, c *store.WebAuthnCeremony) error {
	if len(c.IDHash) == 0 || len(c.Binding) == 0 || c.ExpiresAt.IsZero() {
		return errors.New("sqlstore: a ceremony needs a handle, a binding and an expiry")
	}
	switch c.Kind {
	case store.CeremonyRegister, store.CeremonyLogin, store.CeremonySecondFactor:
	default:
		return errors.New("sqlstore: unknown ceremony kind " + c.Kind)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (id_hash, kind, user_id, binding, data,
		created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
		c.IDHash, c.Kind, nullString(c.UserID), c.Binding, c.Data, micros(c.CreatedAt), micros(c.ExpiresAt))
	return db.mapErr(err)
}

// ConsumeCeremony marks the ceremony used with one conditional UPDATE …
// RETURNING (of concurrent finishes, on any instance, one wins); when it
// changes nothing, a read says why.
func (db *DB) ConsumeCeremony(ctx context.Context, idHash, binding []byte, now time.Time) (*store.WebAuthnCeremony, error) {
	c := store.WebAuthnCeremony{IDHash: idHash, Binding: binding}
	var userID sql.NullString
	var created, expires int64
	err := db.wScan(ctx, `UPDATE webauthn_ceremonies SET used_at = $3
		WHERE id_hash = $1 AND binding = $2 AND used_at = 0 AND expires_at > $3
		RETURNING kind, user_id, data, created_at, expires_at`,
		[]any{idHash, binding, micros(now)}, &c.Kind, &userID, &c.Data, &created, &expires)
	if err == nil {
		c.UserID = userID.String
		c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(micros(now))
		return &c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var used int64
	err = db.readRow(ctx, `SELECT used_at, expires_at FROM webauthn_ceremonies WHERE id_hash = $1 AND binding = $2`,
		idHash, binding).Scan(&used, &expires)
	switch {
	case err != nil:
		return nil, notFound(err)
	case used != 0:
		return nil, store.ErrAlreadyUsed
	default:
		return nil, store.ErrExpired
	}
}
