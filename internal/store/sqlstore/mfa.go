package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Second factors (store.MFAStore). The TOTP secret, its state and the last
// accepted time step are columns of users; recovery codes are rows of
// recovery_codes, by hash. Every decision about a code is one conditional
// statement: on PostgreSQL (READ COMMITTED) a second UPDATE or DELETE of the
// same row waits for the first to commit and then re-checks its WHERE
// clause against the new row, so it changes nothing; on SQLite writes are
// serialised. Either way, of two concurrent uses of a code one wins.

// SetPendingTOTP stores sealed as the user's TOTP secret, not yet enabled.
func (db *DB) SetPendingTOTP(ctx context.Context, userID string, sealed []byte, now time.Time) error {
	if len(sealed) == 0 {
		return errors.New("sqlstore: SetPendingTOTP: empty secret")
	}
	res, err := db.w.ExecContext(ctx, `UPDATE users SET totp_secret = $2, totp_last_step = 0, updated_at = $3
		WHERE id = $1 AND totp_enabled_at = 0`, userID, sealed, micros(now))
	if err := mustAffect(res, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Nothing changed: an unknown user, or one with TOTP enabled.
	if _, err := db.GetUser(ctx, userID); err != nil {
		return err
	}
	return store.ErrConflict
}

// EnableTOTP confirms the pending secret sealed and replaces the recovery
// codes, in one transaction.
func (db *DB) EnableTOTP(ctx context.Context, userID string, sealed []byte, step int64, recovery [][]byte, now time.Time) error {
	if len(sealed) == 0 {
		return store.ErrNotFound
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		ctx := db.stmtCtx(ctx)
		err := mustAffect(tx.ExecContext(ctx, `UPDATE users SET totp_enabled_at = $3, totp_last_step = $4, updated_at = $3
			WHERE id = $1 AND totp_secret = $2 AND totp_enabled_at = 0`, userID, sealed, micros(now), step))
		if err != nil {
			return err
		}
		return replaceRecovery(ctx, tx, userID, recovery, now)
	})
}

// replaceRecovery deletes the user's recovery codes and stores recovery.
func replaceRecovery(ctx context.Context, tx *sql.Tx, userID string, recovery [][]byte, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, h := range recovery {
		if len(h) == 0 {
			return errors.New("sqlstore: empty recovery code hash")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES ($1, $2, $3)`,
			userID, h, micros(now)); err != nil {
			return fmt.Errorf("sqlstore: storing a recovery code: %w", err)
		}
	}
	return nil
}

// DisableTOTP removes the secret and every recovery code of the user.
func (db *DB) DisableTOTP(ctx context.Context, userID string, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		ctx := db.stmtCtx(ctx)
		err := mustAffect(tx.ExecContext(ctx, `UPDATE users SET totp_secret = NULL, totp_enabled_at = 0, totp_last_step = 0,
			updated_at = $2 WHERE id = $1`, userID, micros(now)))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
		return err
	})
}

// UseTOTPStep advances the last accepted step to step, only if it is
// later and the enabled secret is still sealed.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, sealed []byte, step int64) error {
	err := mustAffect(db.w.ExecContext(ctx, `UPDATE users SET totp_last_step = $3
		WHERE id = $1 AND totp_secret = $2 AND totp_enabled_at <> 0 AND totp_last_step < $3`, userID, sealed, step))
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrAlreadyUsed
	}
	return err
}

// UseRecoveryCode deletes the user's recovery code with hash.
func (db *DB) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	return mustAffect(db.w.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND hash = $2`, userID, hash))
}

// ReplaceRecoveryCodes replaces the recovery codes of a user with TOTP
// enabled.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, recovery [][]byte, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		ctx := db.stmtCtx(ctx)
		err := mustAffect(tx.ExecContext(ctx, `UPDATE users SET updated_at = $2 WHERE id = $1 AND totp_enabled_at <> 0`,
			userID, micros(now)))
		if err != nil {
			return err
		}
		return replaceRecovery(ctx, tx, userID, recovery, now)
	})
}

// CountRecoveryCodes returns how many unused recovery codes the user has.
func (db *DB) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1`, userID).Scan(&n)
	return n, err
}
