package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// The outbox and the mailed links (migration 00010).

const outboxCols = `o.id, o.user_id, o.kind, o.recipient, o.subject, o.lang, o.message_id, o.state,
	o.attempts, o.next_attempt_at, o.lease_until, o.claim, o.last_error, o.created_at, o.sent_at`

func scanOutbox(r rowScanner, withBody bool) (*store.OutboxMessage, error) {
	var m store.OutboxMessage
	var next, lease, created, sent int64
	dest := []any{&m.ID, &m.UserID, &m.Kind, &m.Recipient, &m.Subject, &m.Lang, &m.MessageID, &m.State,
		&m.Attempts, &next, &lease, &m.Claim, &m.LastError, &created, &sent}
	if withBody {
		dest = append(dest, &m.Body)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	m.NextAttemptAt, m.LeaseUntil = fromMicros(next), fromMicros(lease)
	m.CreatedAt, m.SentAt = fromMicros(created), fromMicros(sent)
	return &m, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// enqueue inserts the messages in tx.
func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, msgs []*store.OutboxMessage) error {
	for _, m := range msgs {
		if m == nil {
			continue
		}
		if m.ID == "" {
			m.ID = randomHex(16)
		}
		m.State = store.MailQueued
		if m.NextAttemptAt.IsZero() {
			m.NextAttemptAt = m.CreatedAt
		}
		_, err := db.txExec(ctx, tx, `INSERT INTO outbox (id, user_id, kind, recipient, subject, lang, message_id, body,
			state, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			m.ID, m.UserID, m.Kind, m.Recipient, m.Subject, m.Lang, m.MessageID, blob(m.Body),
			m.State, micros(m.NextAttemptAt), micros(m.CreatedAt))
		if err != nil {
			return db.mapErr(err)
		}
	}
	return nil
}

// EnqueueMail adds messages to the outbox in one transaction.
func (db *DB) EnqueueMail(ctx context.Context, msgs ...*store.OutboxMessage) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.enqueue(ctx, tx, msgs) })
}

// ClaimMail claims due messages. On PostgreSQL the rows are picked with
// FOR UPDATE SKIP LOCKED, so concurrent deliverers (other instances) take
// other rows instead of waiting; on SQLite the transaction holds the only
// write lock, which serialises claims.
func (db *DB) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.OutboxMessage, error) {
	if limit <= 0 {
		limit = 10
	}
	lock := ""
	if db.d.ForUpdate != "" {
		lock = db.d.ForUpdate + " SKIP LOCKED"
	}
	t := micros(now)
	var out []*store.OutboxMessage
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id FROM outbox
			WHERE (state IN ('queued', 'retrying') AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until <= $1)
			ORDER BY next_attempt_at, id LIMIT `+strconv.Itoa(limit)+lock, t)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, id := range ids {
			m, err := scanOutbox(tx.QueryRowContext(ctx, `UPDATE outbox SET state = 'sending', claim = $2,
				lease_until = $3, attempts = attempts + 1 WHERE id = $1
				RETURNING `+strings.ReplaceAll(outboxCols, "o.", "")+`, body`,
				id, randomHex(12), micros(now.Add(lease))), true)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// markMail applies set to the message if claim is still current.
func (db *DB) markMail(ctx context.Context, id, claim, set string, a ...any) error {
	return mustAffect(db.wExec(ctx, `UPDATE outbox SET `+set+` WHERE id = $1 AND claim = $2 AND state = 'sending'`,
		append([]any{id, claim}, a...)...))
}

// MarkMailSent records a delivery and erases the body.
func (db *DB) MarkMailSent(ctx context.Context, id, claim string, now time.Time) error {
	ctx, cancel := detach(ctx) // the relay took it: record that even if the caller stops
	defer cancel()
	return db.markMail(ctx, id, claim, `state = 'sent', sent_at = $3, lease_until = 0, last_error = '', body = NULL`, micros(now))
}

// MarkMailRetry schedules another attempt.
func (db *DB) MarkMailRetry(ctx context.Context, id, claim string, next time.Time, reason string) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	return db.markMail(ctx, id, claim, `state = 'retrying', next_attempt_at = $3, lease_until = 0, last_error = $4`,
		micros(next), clipReason(reason))
}

// MarkMailFailed gives up on a message and erases its body.
func (db *DB) MarkMailFailed(ctx context.Context, id, claim string, now time.Time, reason string) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	return db.markMail(ctx, id, claim, `state = 'failed', sent_at = 0, lease_until = 0, last_error = $3, body = NULL`,
		clipReason(reason))
}

func clipReason(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

var mailList = listSpec{
	fields: map[string]field{
		"state":      {"o.state", textField},
		"kind":       {"o.kind", textField},
		"recipient":  {"o.recipient", textField},
		"created_at": {"o.created_at", timeField},
	},
	defaultSort: "-created_at",
	tieBreak:    "o.id",
}

// ListMail lists the outbox without bodies.
func (db *DB) ListMail(ctx context.Context, opt store.ListOptions) ([]*store.OutboxMessage, int, error) {
	var a args
	conds, order, limit, offset, err := db.listQuery(mailList, opt, &a)
	if err != nil {
		return nil, 0, err
	}
	from := ` FROM outbox o` + where(conds)
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*)`+from, a...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+outboxCols+from+` ORDER BY `+order+
		` LIMIT `+strconv.Itoa(limit)+` OFFSET `+strconv.Itoa(offset), a...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*store.OutboxMessage
	for rows.Next() {
		m, err := scanOutbox(rows, false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, total, rows.Err()
}

// Account tokens.

func (db *DB) insertToken(ctx context.Context, tx *sql.Tx, t *store.AccountToken) error {
	_, err := db.txExec(ctx, tx, `INSERT INTO account_tokens (hash, user_id, purpose, email_key, new_email,
		new_email_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Hash, t.UserID, t.Purpose, t.EmailKey, t.NewEmail, t.NewEmailKey, micros(t.CreatedAt), micros(t.ExpiresAt))
	return db.mapErr(err)
}

// CreateUserWithToken creates u, its first link and the message carrying
// it in one transaction.
func (db *DB) CreateUserWithToken(ctx context.Context, u *store.User, t *store.AccountToken, m *store.OutboxMessage) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.txExec(ctx, tx, insertUser, userArgs(u)...); err != nil {
			return db.mapErr(err)
		}
		t.UserID = u.ID
		if m != nil {
			m.UserID = u.ID
		}
		if err := db.insertToken(ctx, tx, t); err != nil {
			return err
		}
		return db.enqueue(ctx, tx, []*store.OutboxMessage{m})
	})
}

// IssueAccountToken stores a link and its messages in one transaction.
func (db *DB) IssueAccountToken(ctx context.Context, t *store.AccountToken, build func(u *store.User) []*store.OutboxMessage) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		q, arg := `SELECT `+userCols+` FROM users u WHERE u.id = $1`, t.UserID
		if t.UserID == "" {
			q, arg = `SELECT `+userCols+` FROM users u WHERE u.email_key = $1`, t.EmailKey
		}
		u, err := scanUser(tx.QueryRowContext(ctx, q, arg))
		if err != nil {
			return notFound(err)
		}
		if u.Disabled {
			return store.ErrNotFound
		}
		t.UserID = u.ID
		if err := db.insertToken(ctx, tx, t); err != nil {
			return err
		}
		var msgs []*store.OutboxMessage
		if build != nil {
			msgs = build(u)
		}
		return db.enqueue(ctx, tx, msgs)
	})
}

const tokenCols = `hash, user_id, purpose, email_key, new_email, new_email_key, created_at, expires_at, used_at`

func scanToken(r rowScanner) (*store.AccountToken, error) {
	var t store.AccountToken
	var created, expires, used int64
	if err := r.Scan(&t.Hash, &t.UserID, &t.Purpose, &t.EmailKey, &t.NewEmail, &t.NewEmailKey,
		&created, &expires, &used); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return &t, nil
}

// checkToken applies the rules every use of a link shares.
func checkToken(t *store.AccountToken, u *store.User, purpose string, now time.Time) error {
	switch {
	case t.Purpose != purpose || u.Disabled || (t.EmailKey != "" && t.EmailKey != u.EmailKey):
		return store.ErrNotFound
	case !t.UsedAt.IsZero():
		return store.ErrAlreadyUsed
	case !now.Before(t.ExpiresAt):
		return store.ErrExpired
	}
	return nil
}

// GetAccountToken returns a usable link and its account.
func (db *DB) GetAccountToken(ctx context.Context, hash []byte, purpose string, now time.Time) (*store.AccountToken, *store.User, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM account_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, nil, notFound(err)
	}
	u, err := db.GetUser(ctx, t.UserID)
	if err != nil {
		return nil, nil, err
	}
	if err := checkToken(t, u, purpose, now); err != nil {
		return nil, nil, err
	}
	return t, u, nil
}

// RedeemAccountToken consumes a link and applies it in one transaction.
func (db *DB) RedeemAccountToken(ctx context.Context, r store.Redemption) (*store.AccountToken, *store.User, error) {
	ctx, cancel, err := finish(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer cancel()
	var t *store.AccountToken
	var u *store.User
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(db.txQueryRow(ctx, tx, `SELECT `+tokenCols+` FROM account_tokens WHERE hash = $1`+db.d.ForUpdate, r.Hash))
		if err != nil {
			return notFound(err)
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = $1`+db.d.ForUpdate, t.UserID))
		if err != nil {
			return notFound(err)
		}
		if err := checkToken(t, u, r.Purpose, r.Now); err != nil {
			return err
		}
		if u, err = db.applyToken(ctx, tx, t, r); err != nil {
			return err
		}
		var msgs []*store.OutboxMessage
		if r.Notify != nil {
			msgs = r.Notify(u)
		}
		return db.enqueue(ctx, tx, msgs)
	})
	if err != nil {
		return nil, nil, err
	}
	t.UsedAt = r.Now
	return t, u, nil
}

// applyToken marks t used (with every other live link of its purpose, and
// on an address change every link sent to the old address) and makes its
// change; it returns the account as changed.
func (db *DB) applyToken(ctx context.Context, tx *sql.Tx, t *store.AccountToken, r store.Redemption) (*store.User, error) {
	now := micros(r.Now)
	void := `UPDATE account_tokens SET used_at = $3 WHERE user_id = $1 AND used_at = 0 AND purpose = $2`
	a := args{t.UserID, now}
	var set string
	switch t.Purpose {
	case store.TokenVerify:
		set = `email_verified = TRUE`
	case store.TokenReset:
		if r.PasswordHash == "" {
			return nil, errors.New("sqlstore: a password reset needs the new password hash")
		}
		set = `password_hash = ` + a.add(r.PasswordHash) + `, email_verified = TRUE`
	case store.TokenEmailChange:
		set = `email = ` + a.add(t.NewEmail) + `, email_key = ` + a.add(t.NewEmailKey) + `, email_verified = TRUE`
		// Links sent to the old address die with it.
		void = `UPDATE account_tokens SET used_at = $3 WHERE user_id = $1 AND used_at = 0 AND (purpose = $2 OR email_key <> '')`
		defer db.changed() // the new address moves the revocation epoch (trigger)
	default:
		return nil, store.ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, void, t.UserID, t.Purpose, now); err != nil {
		return nil, err
	}
	u, err := scanUser(tx.QueryRowContext(ctx, `UPDATE users SET `+set+`, updated_at = $2 WHERE id = $1 RETURNING `+
		strings.ReplaceAll(userCols, "u.", ""), a...))
	if err != nil {
		return nil, db.mapErr(notFound(err))
	}
	if t.Purpose == store.TokenReset {
		defer db.changed()
		if err := revokeUser(ctx, tx, t.UserID, r.Now); err != nil {
			return nil, err
		}
	}
	return u, nil
}
