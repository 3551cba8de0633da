package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Device authorizations (RFC 8628), table device_codes (migration 00003).

var _ store.DeviceStore = (*DB)(nil)

const deviceCols = `device_hash, user_code_hash, client_id, scopes, status, user_id, auth_time,
	created_at, expires_at, poll_interval, last_polled_at, used_at, grant_id, amr, resources`

func scanDevice(r rowScanner) (*store.DeviceCode, error) {
	var d store.DeviceCode
	var scopes string
	var userID sql.NullString
	var authTime, created, expires, interval, polled, used int64
	var amr, resources string
	if err := r.Scan(&d.DeviceHash, &d.UserCodeHash, &d.ClientID, &scopes, &d.Status, &userID, &authTime,
		&created, &expires, &interval, &polled, &used, &d.GrantID, &amr, &resources); err != nil {
		return nil, err
	}
	d.AMR = splitList(amr)
	d.Resources = splitList(resources)
	d.Scopes = splitList(scopes)
	d.UserID = userID.String
	d.AuthTime, d.CreatedAt, d.ExpiresAt = fromMicros(authTime), fromMicros(created), fromMicros(expires)
	d.Interval = time.Duration(interval)
	d.LastPolledAt, d.UsedAt = fromMicros(polled), fromMicros(used)
	return &d, nil
}

// CreateDeviceCode inserts d. Status "" is stored as store.DevicePending.
// store.ErrConflict when either hash is taken (the caller draws new codes
// and tries again), store.ErrNotFound when the client does not exist.
func (db *DB) CreateDeviceCode(ctx context.Context, d *store.DeviceCode) error {
	if len(d.DeviceHash) == 0 || len(d.UserCodeHash) == 0 {
		return errors.New("sqlstore: device code without hashes")
	}
	if err := checkWords("scope", d.Scopes); err != nil {
		return err
	}
	if err := checkWords("resource", d.Resources); err != nil {
		return err
	}
	status := d.Status
	if status == "" {
		status = store.DevicePending
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO device_codes (`+deviceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		d.DeviceHash, d.UserCodeHash, d.ClientID, joinList(d.Scopes), status, nullString(d.UserID),
		micros(d.AuthTime), micros(d.CreatedAt), micros(d.ExpiresAt), int64(d.Interval),
		micros(d.LastPolledAt), micros(d.UsedAt), d.GrantID, joinList(d.AMR), joinList(d.Resources))
	if err == nil {
		d.Status = status
	}
	return db.mapErr(err)
}

// GetDeviceCodeByUserCode returns the pending authorization whose user code
// hashes to userCodeHash and that has not expired at now; store.ErrNotFound
// for anything else (unknown, decided, expired), so the page that asks
// tells nothing about which.
func (db *DB) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte, now time.Time) (*store.DeviceCode, error) {
	d, err := scanDevice(db.readRow(ctx, `SELECT `+deviceCols+` FROM device_codes
		WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2`, userCodeHash, micros(now)))
	return d, notFound(err)
}

// DecideDeviceCode records the person's answer: approve sets the status to
// approved with userID, authTime and amr, otherwise denied (UserID stays empty).
// One conditional UPDATE, so of two answers to one authorization only the
// first counts; store.ErrNotFound when it is unknown, already decided or
// expired at now.
func (db *DB) DecideDeviceCode(ctx context.Context, userCodeHash []byte, approve bool, userID string, authTime time.Time, amr []string, now time.Time) error {
	if approve && userID == "" {
		return errors.New("sqlstore: approving a device code needs a user")
	}
	if err := checkWords("amr", amr); err != nil {
		return err
	}
	status, uid, at, methods := store.DeviceDenied, sql.NullString{}, int64(0), ""
	if approve {
		status, uid, at, methods = store.DeviceApproved, nullString(userID), micros(authTime), joinList(amr)
	}
	return db.mapErr(mustAffect(db.w.ExecContext(ctx, `UPDATE device_codes SET status = $2, user_id = $3, auth_time = $4, amr = $6
		WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $5`,
		userCodeHash, status, uid, at, micros(now), methods)))
}

// PollDeviceCode is the device's poll (RFC 8628 §3.4), one transaction:
//
//   - unknown code, or g.ClientID set and not the code's client:
//     store.ErrNotFound, and the code is left untouched (a client holding
//     another client's device code can neither redeem nor slow it);
//   - redeemed before: store.ErrAlreadyUsed (nothing is revoked: a device
//     polling twice at once must not lose what the first poll got);
//   - expired (now ≥ ExpiresAt): store.ErrExpired; nothing written;
//   - otherwise LastPolledAt becomes now — and, for a pending code polled
//     too soon (store.DeviceCode.PolledTooSoon), Interval grows by
//     store.DeviceSlowDown (RFC 8628 §3.5) — and the code is returned as it
//     was before this poll (LastPolledAt, Interval), so the caller answers
//     slow_down, authorization_pending or access_denied from it;
//   - when it is approved, the code is also marked used at now and g is
//     created (with rt, if not nil) in the same transaction; the returned
//     code has UsedAt and GrantID set.
//
// Fields of g left empty are filled from the code: ClientID, UserID, Scopes
// (nil), AuthTime (zero); rt.GrantID is set to g.ID and nil rt.Scopes
// default to g.Scopes. The caller's g and rt change only when the
// transaction committed.
//
// The row is locked (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite),
// so of N concurrent polls of an approved code exactly one gets the grant
// and the others see store.ErrAlreadyUsed.
func (db *DB) PollDeviceCode(ctx context.Context, deviceHash []byte, now time.Time, g *store.Grant, rt *store.RefreshToken) (*store.DeviceCode, error) {
	var (
		out *store.DeviceCode
		ng  store.Grant
		nrt store.RefreshToken
	)
	issued := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		issued = false
		d, err := scanDevice(db.txQueryRow(ctx, tx,
			`SELECT `+deviceCols+` FROM device_codes WHERE device_hash = $1`+db.d.ForUpdate, deviceHash))
		if err != nil {
			return notFound(err)
		}
		if g != nil && g.ClientID != "" && g.ClientID != d.ClientID {
			return store.ErrNotFound
		}
		if !d.UsedAt.IsZero() {
			return store.ErrAlreadyUsed
		}
		if !now.Before(d.ExpiresAt) {
			return store.ErrExpired
		}
		interval := d.Interval
		if d.Status == store.DevicePending && d.PolledTooSoon(now) {
			interval += store.DeviceSlowDown
		}
		if _, err := db.txExec(ctx, tx, `UPDATE device_codes SET last_polled_at = $2, poll_interval = $3
			WHERE device_hash = $1`, deviceHash, micros(now), int64(interval)); err != nil {
			return err
		}
		if d.Status != store.DeviceApproved {
			out = d
			return nil
		}
		if g == nil {
			return errors.New("sqlstore: polling an approved device code needs a grant to issue")
		}

		if ng, nrt, err = db.issueFromCode(ctx, tx, g, rt, store.Grant{
			ClientID: d.ClientID, UserID: d.UserID, Scopes: d.Scopes, AuthTime: d.AuthTime, AMR: d.AMR, Resources: d.Resources,
		}); err != nil {
			return err
		}
		if _, err := db.txExec(ctx, tx, `UPDATE device_codes SET used_at = $2, grant_id = $3 WHERE device_hash = $1`,
			deviceHash, micros(now), ng.ID); err != nil {
			return err
		}
		d.UsedAt, d.GrantID = fromMicros(micros(now)), ng.ID
		out = d
		issued = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if issued {
		*g = ng
		if rt != nil {
			*rt = nrt
		}
	}
	return out, nil
}

// deleteExpiredDevices deletes at most limit device authorizations whose
// ExpiresAt ≤ now (used, denied or never answered: none can be used any
// more; the grants that approved ones created are kept). DeleteExpired
// calls it.
func (db *DB) deleteExpiredDevices(ctx context.Context, now time.Time, limit int) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM device_codes WHERE device_hash IN
		(SELECT device_hash FROM device_codes WHERE expires_at <= $1 LIMIT $2)`, micros(now), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
