package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
)

const userCols = `u.id, u.email, u.email_key, u.first_name, u.last_name, u.password_hash,
	u.avatar_url, u.admin, u.disabled, u.activated, u.email_verified, u.created_at, u.updated_at,
	u.totp_secret, u.totp_enabled_at, u.totp_last_step, u.lang`

func scanUser(r rowScanner) (*store.User, error) {
	var u store.User
	var created, updated, totpEnabled int64
	if err := r.Scan(&u.ID, &u.Email, &u.EmailKey, &u.FirstName, &u.LastName, &u.PasswordHash,
		&u.AvatarURL, &u.Admin, &u.Disabled, &u.Activated, &u.EmailVerified, &created, &updated,
		&u.TOTPSecret, &totpEnabled, &u.TOTPLastStep, &u.Lang); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	u.TOTPEnabledAt = fromMicros(totpEnabled)
	return &u, nil
}

// CreateUser inserts u (without a second factor: the TOTP fields are set
// only through the MFAStore methods). A taken EmailKey (or ID) is store.ErrConflict; the
// unique index decides, so two concurrent registrations cannot both win.
func (db *DB) CreateUser(ctx context.Context, u *store.User) error {
	_, err := db.w.ExecContext(ctx, insertUser, userArgs(u)...)
	return db.mapErr(err)
}

const insertUser = `INSERT INTO users (id, email, email_key, first_name, last_name,
		password_hash, avatar_url, admin, disabled, activated, email_verified, created_at, updated_at, lang)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

func userArgs(u *store.User) []any {
	return []any{u.ID, u.Email, u.EmailKey, u.FirstName, u.LastName, u.PasswordHash, u.AvatarURL,
		u.Admin, u.Disabled, u.Activated, u.EmailVerified, micros(u.CreatedAt), micros(u.UpdatedAt), u.Lang}
}

// GetUser returns the user with id, or store.ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (*store.User, error) {
	u, err := scanUser(db.readRow(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = $1`, id))
	return u, notFound(err)
}

// GetUserByEmailKey returns the user whose EmailKey is emailKey (compared
// exactly: the caller folds), or store.ErrNotFound.
func (db *DB) GetUserByEmailKey(ctx context.Context, emailKey string) (*store.User, error) {
	u, err := scanUser(db.readRow(ctx, `SELECT `+userCols+` FROM users u WHERE u.email_key = $1`, emailKey))
	return u, notFound(err)
}

// UpdateUser applies upd, sets UpdatedAt to now and returns the user as
// stored. store.ErrNotFound for an unknown id, store.ErrConflict when the new
// EmailKey is taken. Setting Disabled to true has the effect of DisableUser
// (grants revoked, sessions and pending codes deleted) in the same
// transaction, so an account can never be disabled while its tokens live on.
func (db *DB) UpdateUser(ctx context.Context, id string, upd store.UserUpdate, now time.Time) (*store.User, error) {
	return db.updateUser(ctx, id, upd, now, nil)
}

// UpdateUserNotify is UpdateUser that queues the messages notify builds
// for the account as changed, in the same transaction.
func (db *DB) UpdateUserNotify(ctx context.Context, id string, upd store.UserUpdate, now time.Time,
	notify func(u *store.User) []*store.OutboxMessage) (*store.User, error) {
	return db.updateUser(ctx, id, upd, now, notify)
}

func (db *DB) updateUser(ctx context.Context, id string, upd store.UserUpdate, now time.Time,
	notify func(u *store.User) []*store.OutboxMessage) (*store.User, error) {
	if upd.Disabled != nil || upd.Email != nil {
		// Both move the revocation epoch (triggers); count the change so
		// this process's caches see it at once.
		defer db.changed()
	}
	var a args
	var set []string
	add := func(col string, v any) { set = append(set, col+" = "+a.add(v)) }
	if upd.Email != nil {
		add("email", *upd.Email)
	}
	switch {
	case upd.EmailVerified != nil:
		add("email_verified", *upd.EmailVerified)
	case upd.EmailKey != nil:
		// A new address is unproven until its owner follows a link. In
		// the same statement, so no reader sees the new address verified.
		// The same mailbox again (same key: another case or width) keeps
		// the flag.
		set = append(set, "email_verified = (email_verified AND email_key = "+a.add(*upd.EmailKey)+")")
	case upd.Email != nil:
		set = append(set, "email_verified = (email_verified AND email = "+a.add(*upd.Email)+")")
	}
	if upd.EmailKey != nil {
		add("email_key", *upd.EmailKey)
	}
	if upd.FirstName != nil {
		add("first_name", *upd.FirstName)
	}
	if upd.LastName != nil {
		add("last_name", *upd.LastName)
	}
	if upd.PasswordHash != nil {
		add("password_hash", *upd.PasswordHash)
	}
	if upd.Admin != nil {
		add("admin", *upd.Admin)
	}
	if upd.Disabled != nil {
		add("disabled", *upd.Disabled)
	}
	add("updated_at", micros(now))
	q := `UPDATE users SET ` + strings.Join(set, ", ") + ` WHERE id = ` + a.add(id) + ` RETURNING ` + strings.ReplaceAll(userCols, "u.", "")

	var u *store.User
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, q, a...))
		if err != nil {
			return db.mapErr(notFound(err))
		}
		if notify != nil {
			if err := db.enqueue(ctx, tx, notify(u)); err != nil {
				return err
			}
		}
		if upd.Disabled != nil && *upd.Disabled {
			return revokeUser(ctx, tx, id, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// revokeUser revokes every grant of the user and deletes its sessions and
// unredeemed authorization codes (which would otherwise create a new grant).
func revokeUser(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at = 0`, id, micros(now)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM auth_codes WHERE user_id = $1 AND used_at = 0`, id)
	return err
}

// DisableUser disables the account and, in the same transaction, revokes
// every grant, deletes every session and every unredeemed authorization code
// of the user. store.ErrNotFound for an unknown id.
func (db *DB) DisableUser(ctx context.Context, id string, now time.Time) error {
	defer db.changed()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		err := mustAffect(tx.ExecContext(ctx, `UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1`, id, true, micros(now)))
		if err != nil {
			return err
		}
		return revokeUser(ctx, tx, id, now)
	})
}

// DeleteUser deletes the account; foreign keys (ON DELETE CASCADE) delete
// its grants, their refresh tokens, its sessions, consents and codes.
// store.ErrNotFound for an unknown id.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	defer db.changed()
	return mustAffect(db.w.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id))
}

// ListUsers lists users with opt (fields: store.UserFields; default order
// created_at ascending) and returns the page and the total number matching.
func (db *DB) ListUsers(ctx context.Context, opt store.ListOptions) ([]*store.User, int, error) {
	var a args
	conds, order, limit, offset, err := db.listQuery(userList, opt, &a)
	if err != nil {
		return nil, 0, err
	}
	from := ` FROM users u` + where(conds)
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*)`+from, a...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT ` + userCols + from + ` ORDER BY ` + order +
		` LIMIT ` + strconv.Itoa(limit) + ` OFFSET ` + strconv.Itoa(offset)
	rows, err := db.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, total, rows.Err()
}

// CountUsers returns the number of accounts.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}
