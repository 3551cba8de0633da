package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Browser sessions.

const sessionCols = `id, secret_hash, user_id, auth_time, created_at, last_seen_at, expires_at, amr`

// CreateSession inserts s. store.ErrConflict when the ID is taken,
// store.ErrNotFound when its user does not exist.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	if err := checkWords("amr", s.AMR); err != nil {
		return err
	}
	_, err := db.wExec(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.ID, blob(s.SecretHash), s.UserID, micros(s.AuthTime), micros(s.CreatedAt),
		micros(s.LastSeenAt), micros(s.ExpiresAt), joinList(s.AMR))
	return db.mapErr(err)
}

// GetSession returns the session with id, or store.ErrNotFound. Expired
// sessions are returned until the janitor deletes them: the caller checks
// ExpiresAt (and compares SecretHash in constant time).
func (db *DB) GetSession(ctx context.Context, id string) (*store.Session, error) {
	var s store.Session
	var authTime, created, lastSeen, expires int64
	var amr string
	err := db.readRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.SecretHash, &s.UserID, &authTime, &created, &lastSeen, &expires, &amr)
	if err != nil {
		return nil, notFound(err)
	}
	s.AMR = splitList(amr)
	s.AuthTime, s.CreatedAt = fromMicros(authTime), fromMicros(created)
	s.LastSeenAt, s.ExpiresAt = fromMicros(lastSeen), fromMicros(expires)
	return &s, nil
}

// TouchSession records activity: LastSeenAt = now, ExpiresAt = expires.
// store.ErrNotFound for an unknown id.
func (db *DB) TouchSession(ctx context.Context, id string, now, expires time.Time) error {
	return mustAffect(db.wExec(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1`,
		id, micros(now), micros(expires)))
}

// DeleteSession deletes the session; deleting an unknown session is not an
// error (logging out twice is fine).
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return err
}

// DeleteUserSessions deletes every session of userID.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Consents.

// GetConsent returns the user's consent for the client, or store.ErrNotFound.
func (db *DB) GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error) {
	c := store.Consent{UserID: userID, ClientID: clientID}
	var scopes, resources string
	var created, updated int64
	err := db.readRow(ctx, `SELECT scopes, resources, created_at, updated_at FROM consents
		WHERE user_id = $1 AND client_id = $2`, userID, clientID).Scan(&scopes, &resources, &created, &updated)
	if err != nil {
		return nil, notFound(err)
	}
	c.Scopes, c.Resources = splitList(scopes), splitList(resources)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// SaveConsent adds c.Scopes and c.Resources to the user's consent for the
// client (creating it with CreatedAt = c.CreatedAt if absent). Scopes and
// resources already granted stay: each stored set is the union. UpdatedAt becomes c.UpdatedAt, or c.CreatedAt
// when that is zero. store.ErrNotFound when the user or client does not exist.
func (db *DB) SaveConsent(ctx context.Context, c *store.Consent) error {
	if err := checkWords("scope", c.Scopes); err != nil {
		return err
	}
	if err := checkWords("resource", c.Resources); err != nil {
		return err
	}
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = c.CreatedAt
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		// Insert first: of two concurrent first consents one inserts and the
		// other waits for it, then merges below.
		res, err := tx.ExecContext(ctx, `INSERT INTO consents (user_id, client_id, scopes, resources, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, client_id) DO NOTHING`,
			c.UserID, c.ClientID, joinList(c.Scopes), joinList(c.Resources), micros(c.CreatedAt), micros(updated))
		if err != nil {
			return db.mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var stored, storedRes string
		err = tx.QueryRowContext(ctx, `SELECT scopes, resources FROM consents WHERE user_id = $1 AND client_id = $2`+db.d.ForUpdate,
			c.UserID, c.ClientID).Scan(&stored, &storedRes)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				// Deleted between our insert attempt and the read: a retry
				// inserts. Should not happen inside one transaction.
				return errors.New("sqlstore: consent vanished during save")
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE consents SET scopes = $3, resources = $4, updated_at = $5
			WHERE user_id = $1 AND client_id = $2`,
			c.UserID, c.ClientID, joinList(union(splitList(stored), c.Scopes)),
			joinList(union(splitList(storedRes), c.Resources)), micros(updated))
		return err
	})
}

// DeleteConsent deletes the user's consent for the client; deleting an
// absent consent is not an error.
func (db *DB) DeleteConsent(ctx context.Context, userID, clientID string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	return err
}

// union is a followed by the items of b it lacks, in order.
func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}
