package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Signing keys.

// CreateSigningKey inserts k; store.ErrConflict when the kid is taken.
func (db *DB) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, key_use, private_key,
		public_key, created_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.Algorithm, k.Use, k.Private, k.Public, micros(k.CreatedAt), micros(k.RetiredAt), micros(k.ExpiresAt))
	return db.mapErr(err)
}

// ListSigningKeys returns the keys whose ExpiresAt is zero or after now,
// newest (CreatedAt) first.
func (db *DB) ListSigningKeys(ctx context.Context, now time.Time) ([]*store.SigningKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, algorithm, key_use, private_key, public_key,
		created_at, retired_at, expires_at FROM signing_keys
		WHERE expires_at = 0 OR expires_at > $1 ORDER BY created_at DESC, id DESC`, micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var created, retired, expires int64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Use, &k.Private, &k.Public, &created, &retired, &expires); err != nil {
			return nil, err
		}
		k.CreatedAt, k.RetiredAt, k.ExpiresAt = fromMicros(created), fromMicros(retired), fromMicros(expires)
		out = append(out, &k)
	}
	return out, rows.Err()
}

// RetireSigningKeys retires every active key of use: RetiredAt = now,
// ExpiresAt = now + keep (they stay published until every token they signed
// has expired). Keys already retired keep their times.
func (db *DB) RetireSigningKeys(ctx context.Context, use string, now time.Time, keep time.Duration) error {
	_, err := db.w.ExecContext(ctx, `UPDATE signing_keys SET retired_at = $2, expires_at = $3
		WHERE key_use = $1 AND retired_at = 0`, use, micros(now), micros(now.Add(keep)))
	return err
}

// Rate counters.

// Hit adds one to key's counter for the window starting at windowStart and
// returns the new count. One statement (INSERT … ON CONFLICT DO UPDATE …
// RETURNING), so the count is exact under any concurrency, across instances.
func (db *DB) Hit(ctx context.Context, key string, windowStart, expires time.Time) (int, error) {
	ctx, cancel := detach(ctx) // counted and recorded even if the caller leaves
	defer cancel()
	var n int
	err := db.wScan(ctx, `INSERT INTO counters (counter_key, window_start, hits, expires_at)
		VALUES ($1, $2, 1, $3)
		ON CONFLICT (counter_key, window_start) DO UPDATE SET hits = counters.hits + 1
		RETURNING hits`, []any{key, micros(windowStart), micros(expires)}, &n)
	return n, err
}

// Count returns key's count for the window starting at windowStart (0 when
// there is none) without changing it.
func (db *DB) Count(ctx context.Context, key string, windowStart time.Time) (int, error) {
	var n int
	err := db.readRow(ctx, `SELECT hits FROM counters WHERE counter_key = $1 AND window_start = $2`,
		key, micros(windowStart)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// ResetCounter deletes every window of key.
func (db *DB) ResetCounter(ctx context.Context, key string) error {
	ctx, cancel := detach(ctx) // counted and recorded even if the caller leaves
	defer cancel()
	_, err := db.w.ExecContext(ctx, `DELETE FROM counters WHERE counter_key = $1`, key)
	return err
}

// Security events.

// RecordEvent inserts e and sets e.ID.
func (db *DB) RecordEvent(ctx context.Context, e *store.Event) error {
	ctx, cancel := detach(ctx) // counted and recorded even if the caller leaves
	defer cancel()
	return db.wScan(ctx, `INSERT INTO events (time, type, user_id, client_id, ip, detail)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		[]any{micros(e.Time), e.Type, e.UserID, e.ClientID, e.IP, e.Detail}, &e.ID)
}

// ListEvents lists events with opt (fields: store.EventFields; default order
// newest first).
func (db *DB) ListEvents(ctx context.Context, opt store.ListOptions) ([]*store.Event, int, error) {
	var a args
	conds, order, limit, offset, err := db.listQuery(eventList, opt, &a)
	if err != nil {
		return nil, 0, err
	}
	from := ` FROM events e` + where(conds)
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*)`+from, a...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT e.id, e.time, e.type, e.user_id, e.client_id, e.ip, e.detail` + from +
		` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit) + ` OFFSET ` + strconv.Itoa(offset)
	rows, err := db.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Type, &e.UserID, &e.ClientID, &e.IP, &e.Detail); err != nil {
			return nil, 0, err
		}
		e.Time = fromMicros(t)
		out = append(out, &e)
	}
	return out, total, rows.Err()
}

// Meta.

// GetMeta returns the value stored under key, or store.ErrNotFound.
func (db *DB) GetMeta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.readRow(ctx, `SELECT value FROM meta WHERE meta_key = $1`, key).Scan(&v)
	return v, notFound(err)
}

// SetMetaIfAbsent stores value under key unless key exists, and returns the
// value stored now. The insert is ON CONFLICT DO NOTHING and the read comes
// after it commits, so concurrent first callers all return the winner's
// value. It reads from the write pool so the read cannot miss the write.
func (db *DB) SetMetaIfAbsent(ctx context.Context, key, value string) (string, error) {
	if _, err := db.w.ExecContext(ctx, `INSERT INTO meta (meta_key, value) VALUES ($1, $2)
		ON CONFLICT (meta_key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	var v string
	err := db.w.QueryRowContext(ctx, `SELECT value FROM meta WHERE meta_key = $1`, key).Scan(&v)
	return v, notFound(err)
}

// Janitor.

// defaultJanitorLimit is used when DeleteExpired is given limit ≤ 0.
const defaultJanitorLimit = 1000

// DeleteExpired deletes, at most limit rows from each table per call:
// authorization codes, device authorizations and RFC 7591 initial access
// tokens with ExpiresAt ≤ now,
// mailed links a day after theirs, sent and failed messages after 30 days,
// WebAuthn ceremonies with ExpiresAt ≤ now,
// metadata-document clients nobody authorized a day after their last refresh,
// sessions and rate counters whose
// non-zero ExpiresAt ≤ now, and the refresh tokens of grants that are revoked
// or whose non-zero ExpiresAt ≤ now (such tokens can never be used again;
// grants themselves are kept). It returns the number of rows deleted; call
// it again while it returns a positive number to drain a backlog.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = defaultJanitorLimit
	}
	t := micros(now)
	stmts := []string{
		`DELETE FROM auth_codes WHERE hash IN (SELECT hash FROM auth_codes WHERE expires_at <= $1 LIMIT $2)`,
		`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <> 0 AND expires_at <= $1 LIMIT $2)`,
		`DELETE FROM counters WHERE (counter_key, window_start) IN (SELECT counter_key, window_start FROM counters
			WHERE expires_at <> 0 AND expires_at <= $1 LIMIT $2)`,
		`DELETE FROM refresh_tokens WHERE hash IN (SELECT t.hash FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id
			WHERE g.revoked_at <> 0 OR (g.expires_at <> 0 AND g.expires_at <= $1) LIMIT $2)`,
		`DELETE FROM webauthn_ceremonies WHERE id_hash IN (SELECT id_hash FROM webauthn_ceremonies
			WHERE expires_at <= $1 LIMIT $2)`,
		`DELETE FROM registration_tokens WHERE hash IN (SELECT hash FROM registration_tokens WHERE expires_at <= $1 LIMIT $2)`,
	}
	total := 0
	for _, q := range stmts {
		res, err := db.w.ExecContext(ctx, q, t, limit)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
	}
	for _, q := range []struct {
		sql    string
		before time.Time
	}{
		// Delivered and failed messages are listed for 30 days, then go.
		{`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
			WHERE state IN ('sent', 'failed') AND created_at <= $1 LIMIT $2)`, now.Add(-OutboxKeep)},
		// Mailed links stay a day past their end, so a late click is
		// told "expired" (ask for a new one) rather than "not valid".
		{`DELETE FROM account_tokens WHERE hash IN (SELECT hash FROM account_tokens WHERE expires_at <= $1 LIMIT $2)`,
			now.Add(-LinkKeep)},
		// Clients made from metadata documents that nobody authorized
		// (no grant, code or consent) go a day after they were last
		// refreshed: anyone can make such rows by publishing documents.
		{`DELETE FROM clients WHERE id IN (SELECT c.id FROM clients c WHERE c.origin = 'metadata' AND c.updated_at <= $1
			AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id)
			AND NOT EXISTS (SELECT 1 FROM auth_codes a WHERE a.client_id = c.id)
			AND NOT EXISTS (SELECT 1 FROM consents k WHERE k.client_id = c.id) LIMIT $2)`, now.Add(-MetadataClientKeep)},
	} {
		res, err := db.w.ExecContext(ctx, q.sql, micros(q.before), limit)
		if err != nil {
			return total, err
		}
		if n, err := res.RowsAffected(); err == nil {
			total += int(n)
		}
	}
	n, err := db.deleteExpiredDevices(ctx, now, limit)
	return total + n, err
}

// OutboxKeep is how long sent and failed messages stay listed; LinkKeep
// how long a mailed link is kept past its end.
const (
	OutboxKeep = 30 * 24 * time.Hour
	LinkKeep   = 24 * time.Hour
	// MetadataClientKeep: how long an unused metadata-document client row
	// stays after its last refresh.
	MetadataClientKeep = 24 * time.Hour
)

// RevocationEpoch returns the revocation epoch: a counter that the database
// itself (triggers, migration 00002) bumps in the same transaction as every
// grant revocation or deletion, every user disabled, enabled or deleted, and
// every client change or deletion. A cache of grant liveness or of clients
// tags each entry with the epoch read before loading it and trusts the entry
// only while RevocationEpoch returns that same value: a change committed
// before the epoch was read is then always seen, by every instance.
func (db *DB) RevocationEpoch(ctx context.Context) (int64, error) {
	var n int64
	err := db.readRow(ctx, `SELECT epoch FROM revocation_epoch WHERE id = 1`).Scan(&n)
	return n, err
}

// LocalChanges counts the changes this DB made that move the revocation
// epoch (revocations, users disabled or deleted, client changes), counted
// after their transaction committed. A cache sharing epoch reads over a
// short window uses it to see this process's own changes at once: a read
// that started before the last local change is not reused.
func (db *DB) LocalChanges() int64 { return db.local.Load() }

func (db *DB) changed() { db.local.Add(1) }
