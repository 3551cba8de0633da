package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/multinexo/auth/internal/store"
)

const grantCols = `g.id, g.user_id, g.client_id, g.grant_type, g.scopes, g.auth_time, g.created_at,
	g.last_used_at, g.expires_at, g.revoked_at, c.name, g.claims, g.amr, g.resources`

// grantFrom joins the client for ClientName; a grant cannot outlive its
// client (ON DELETE CASCADE), so the inner join loses nothing.
const grantFrom = ` FROM grants g JOIN clients c ON c.id = g.client_id`

// scanPrefix is a rowScanner that scans dest first, then the columns the
// wrapped scanner's caller asks for (a joined row read by two scanners).
func scanPrefix(r rowScanner, dest ...any) rowScanner { return prefixScanner{r, dest} }

type prefixScanner struct {
	r    rowScanner
	dest []any
}

func (p prefixScanner) Scan(rest ...any) error { return p.r.Scan(append(p.dest, rest...)...) }

func scanGrant(r rowScanner) (*store.Grant, error) {
	var g store.Grant
	var userID sql.NullString
	var scopes string
	var authTime, created, lastUsed, expires, revoked int64
	var claims sql.NullString
	var amr, resources string
	if err := r.Scan(&g.ID, &userID, &g.ClientID, &g.GrantType, &scopes, &authTime, &created,
		&lastUsed, &expires, &revoked, &g.ClientName, &claims, &amr, &resources); err != nil {
		return nil, err
	}
	g.AMR = splitList(amr)
	g.Resources = splitList(resources)
	g.UserID = userID.String
	g.Claims = claims.String
	g.Scopes = splitList(scopes)
	g.AuthTime, g.CreatedAt, g.LastUsedAt = fromMicros(authTime), fromMicros(created), fromMicros(lastUsed)
	g.ExpiresAt, g.RevokedAt = fromMicros(expires), fromMicros(revoked)
	return &g, nil
}

func (db *DB) insertGrant(ctx context.Context, tx *sql.Tx, g *store.Grant) error {
	if err := checkWords("scope", g.Scopes); err != nil {
		return err
	}
	if err := checkWords("amr", g.AMR); err != nil {
		return err
	}
	if err := checkWords("resource", g.Resources); err != nil {
		return err
	}
	_, err := db.txExec(ctx, tx, `INSERT INTO grants (id, user_id, client_id, grant_type, scopes,
		auth_time, created_at, last_used_at, expires_at, revoked_at, claims, amr, resources)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		g.ID, nullString(g.UserID), g.ClientID, g.GrantType, joinList(g.Scopes), micros(g.AuthTime),
		micros(g.CreatedAt), micros(g.LastUsedAt), micros(g.ExpiresAt), micros(g.RevokedAt), nullString(g.Claims),
		joinList(g.AMR), joinList(g.Resources))
	return db.mapErr(err)
}

// CreateGrant inserts g. store.ErrConflict when the ID is taken,
// store.ErrNotFound when its user or client does not exist.
func (db *DB) CreateGrant(ctx context.Context, g *store.Grant) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.insertGrant(ctx, tx, g) })
}

// GetGrant returns the grant with id (revoked or not; the caller checks
// Live), with ClientName filled, or store.ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	g, err := scanGrant(db.readRow(ctx, `SELECT `+grantCols+grantFrom+` WHERE g.id = $1`, id))
	return g, notFound(err)
}

// TouchGrant sets the grant's LastUsedAt; store.ErrNotFound for an unknown id.
func (db *DB) TouchGrant(ctx context.Context, id string, now time.Time) error {
	return mustAffect(db.wExec(ctx, `UPDATE grants SET last_used_at = $2 WHERE id = $1`, id, micros(now)))
}

// RevokeGrant revokes the grant (and so every token hanging from it).
// Idempotent: a revoked grant keeps its first RevokedAt. store.ErrNotFound
// for an unknown id.
func (db *DB) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	ctx, cancel := detach(ctx) // asked for: done even if the caller leaves
	defer cancel()
	defer db.changed()
	return mustAffect(db.w.ExecContext(ctx, `UPDATE grants
		SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END WHERE id = $1`, id, micros(now)))
}

// RevokeGrants revokes every live grant of userID ("" means grants without a
// user, i.e. client credentials) for clientID ("" for every client) and
// returns how many it revoked.
func (db *DB) RevokeGrants(ctx context.Context, userID, clientID string, now time.Time) (int, error) {
	ctx, cancel := detach(ctx) // asked for: done even if the caller leaves
	defer cancel()
	defer db.changed()
	var a args
	q := `UPDATE grants SET revoked_at = ` + a.add(micros(now)) + ` WHERE revoked_at = 0`
	if userID == "" {
		q += ` AND user_id IS NULL`
	} else {
		q += ` AND user_id = ` + a.add(userID)
	}
	if clientID != "" {
		q += ` AND client_id = ` + a.add(clientID)
	}
	res, err := db.w.ExecContext(ctx, q, a...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ListGrants lists the grants of userID ("" means grants without a user)
// that are not revoked, with ClientName filled (fields: store.GrantFields,
// "name" being the client's name; default order newest first). Revoked
// grants are left out: they can never be used again and the janitor keeps
// them only for their refresh-token history.
func (db *DB) ListGrants(ctx context.Context, userID string, opt store.ListOptions) ([]*store.Grant, int, error) {
	var a args
	conds, order, limit, offset, err := db.listQuery(grantList, opt, &a)
	if err != nil {
		return nil, 0, err
	}
	if !opt.IncludeRevoked {
		conds = append(conds, "g.revoked_at = 0")
	}
	if userID == "" {
		conds = append(conds, "g.user_id IS NULL")
	} else {
		conds = append(conds, "g.user_id = "+a.add(userID))
	}
	from := grantFrom + where(conds)
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*)`+from, a...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT ` + grantCols + from + ` ORDER BY ` + order +
		` LIMIT ` + strconv.Itoa(limit) + ` OFFSET ` + strconv.Itoa(offset)
	rows, err := db.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, g)
	}
	return out, total, rows.Err()
}

// Refresh tokens.

const refreshCols = `hash, grant_id, parent_hash, scopes, created_at, rotated_at`

func scanRefresh(r rowScanner) (*store.RefreshToken, error) {
	var t store.RefreshToken
	var scopes string
	var created, rotated int64
	if err := r.Scan(&t.Hash, &t.GrantID, &t.ParentHash, &scopes, &created, &rotated); err != nil {
		return nil, err
	}
	if len(t.ParentHash) == 0 {
		t.ParentHash = nil
	}
	t.Scopes = splitList(scopes)
	t.CreatedAt, t.RotatedAt = fromMicros(created), fromMicros(rotated)
	return &t, nil
}

func (db *DB) insertRefresh(ctx context.Context, tx *sql.Tx, t *store.RefreshToken) error {
	if len(t.Hash) == 0 {
		return errors.New("sqlstore: refresh token without hash")
	}
	if err := checkWords("scope", t.Scopes); err != nil {
		return err
	}
	_, err := db.txExec(ctx, tx, `INSERT INTO refresh_tokens (hash, grant_id, parent_hash, scopes, created_at, rotated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.GrantID, blob(t.ParentHash), joinList(t.Scopes), micros(t.CreatedAt), micros(t.RotatedAt))
	return db.mapErr(err)
}

// IssueGrant inserts g and, when rt is not nil, its first refresh token in
// one transaction. rt.GrantID is set to g.ID and nil rt.Scopes default to
// g.Scopes. Nothing is written when either insert fails.
func (db *DB) IssueGrant(ctx context.Context, g *store.Grant, rt *store.RefreshToken) error {
	if rt != nil {
		rt.GrantID = g.ID
		if rt.Scopes == nil {
			rt.Scopes = g.Scopes
		}
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.insertGrant(ctx, tx, g); err != nil {
			return err
		}
		if rt != nil {
			return db.insertRefresh(ctx, tx, rt)
		}
		return nil
	})
}

// GetRefreshToken returns the token stored under hash, rotated or not (the
// caller checks RotatedAt and the grant), or store.ErrNotFound.
func (db *DB) GetRefreshToken(ctx context.Context, hash []byte) (*store.RefreshToken, error) {
	t, err := scanRefresh(db.readRow(ctx, `SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = $1`, hash))
	return t, notFound(err)
}

// GetRefreshTokenGrant returns, in one read, the token stored under hash
// (rotated or not), its grant (with ClientName) and the grant's user (nil
// for grants without one, or when the user is gone): the three look-ups of
// a refresh request. store.ErrNotFound when the token is unknown.
func (db *DB) GetRefreshTokenGrant(ctx context.Context, hash []byte) (*store.RefreshToken, *store.Grant, *store.User, error) {
	row := db.readRow(ctx, `SELECT t.hash, t.grant_id, t.parent_hash, t.scopes, t.created_at, t.rotated_at, `+grantCols+`,
		u.id, u.email, u.email_key, u.first_name, u.last_name, u.password_hash, u.avatar_url, u.admin, u.disabled,
		u.activated, u.email_verified, u.created_at, u.updated_at
		FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN clients c ON c.id = g.client_id
		LEFT JOIN users u ON u.id = g.user_id WHERE t.hash = $1`, hash)
	var (
		t                                     store.RefreshToken
		g                                     store.Grant
		tScopes, gScopes, gAMR, gResources    string
		tCreated, tRotated                    int64
		gUser, gClaims                        sql.NullString
		authTime, created, lastUsed, exp, rev int64
		uID, uEmail, uKey, uFirst, uLast      sql.NullString
		uHash, uAvatar                        sql.NullString
		uAdmin, uDisabled, uActivated         sql.NullBool
		uEmailVerified                        sql.NullBool
		uCreated, uUpdated                    sql.NullInt64
	)
	err := row.Scan(&t.Hash, &t.GrantID, &t.ParentHash, &tScopes, &tCreated, &tRotated,
		&g.ID, &gUser, &g.ClientID, &g.GrantType, &gScopes, &authTime, &created, &lastUsed, &exp, &rev, &g.ClientName, &gClaims, &gAMR, &gResources,
		&uID, &uEmail, &uKey, &uFirst, &uLast, &uHash, &uAvatar, &uAdmin, &uDisabled, &uActivated, &uEmailVerified, &uCreated, &uUpdated)
	if err != nil {
		return nil, nil, nil, notFound(err)
	}
	if len(t.ParentHash) == 0 {
		t.ParentHash = nil
	}
	t.Scopes = splitList(tScopes)
	t.CreatedAt, t.RotatedAt = fromMicros(tCreated), fromMicros(tRotated)
	g.UserID = gUser.String
	g.Claims = gClaims.String
	g.AMR = splitList(gAMR)
	g.Scopes, g.Resources = splitList(gScopes), splitList(gResources)
	g.AuthTime, g.CreatedAt, g.LastUsedAt = fromMicros(authTime), fromMicros(created), fromMicros(lastUsed)
	g.ExpiresAt, g.RevokedAt = fromMicros(exp), fromMicros(rev)
	var u *store.User
	if uID.Valid {
		u = &store.User{ID: uID.String, Email: uEmail.String, EmailKey: uKey.String, FirstName: uFirst.String,
			LastName: uLast.String, PasswordHash: uHash.String, AvatarURL: uAvatar.String, Admin: uAdmin.Bool,
			Disabled: uDisabled.Bool, Activated: uActivated.Bool, EmailVerified: uEmailVerified.Bool,
			CreatedAt: fromMicros(uCreated.Int64), UpdatedAt: fromMicros(uUpdated.Int64)}
	}
	return &t, &g, u, nil
}

// RotateRefreshToken retires r.OldHash and stores r.New in one transaction
// and returns the grant (RFC 9700 §4.14.2, refresh token rotation):
//
//   - unknown token: store.ErrNotFound; nothing written;
//   - current token of a grant revoked or expired at r.Now: store.ErrRevoked;
//     nothing written;
//   - current token: it is marked rotated at r.Now, New (GrantID and
//     ParentHash set here, nil Scopes defaulting to the old token's) is
//     inserted, the grant's LastUsedAt becomes r.Now;
//   - token rotated no more than r.Grace ago whose successor has not been
//     used yet (a retry after a lost response): that successor is deleted, so
//     it no longer works, and New replaces it as above;
//   - any other rotated token (outside the grace window, its successor
//     already used — then the presenter is not the client that lost a
//     response —, or its grant no longer live): the grant is revoked if it
//     was not, the revocation is committed, and the result is
//     store.ErrReused.
//
// The grant row and then the token row are locked on PostgreSQL (in that
// order on every path, so concurrent rotations and reuses cannot deadlock),
// and the work runs inside a BEGIN IMMEDIATE transaction on SQLite, so of N
// concurrent rotations of one token exactly one sees it current; with
// Grace 0 the others see it rotated and revoke the grant.
//
// Once the caller's context has let the operation start, a cancellation no
// longer stops it (see detach): a reuse detected after the client hung up
// still revokes the family.
func (db *DB) RotateRefreshToken(ctx context.Context, r store.Rotation) (*store.Grant, error) {
	if len(r.OldHash) == 0 || len(r.New.Hash) == 0 || bytes.Equal(r.OldHash, r.New.Hash) {
		return nil, errors.New("sqlstore: rotation needs two distinct token hashes")
	}
	ctx, cancel, gone := finish(ctx)
	if gone != nil {
		return nil, gone
	}
	defer cancel()
	now := micros(r.Now)
	if db.d.WritableCTE {
		// The common case in one statement; anything else (unknown,
		// rotated, revoked, expired) takes the transaction below. Both
		// lock the grant before the token, so they cannot deadlock each
		// other; should a deadlock or serialization failure still abort
		// the statement (it is whole or nothing), the transaction, with
		// its retries, takes over.
		g, err := db.rotateOneStatement(ctx, r, now)
		retry := errors.Is(err, sql.ErrNoRows) || db.d.IsRetryable != nil && db.d.IsRetryable(err)
		if !retry {
			return g, err
		}
	}
	// From here on the outcome may be a reuse, whose revocation must be
	// committed whatever the caller does (ctx is detached: finish): a
	// client that times out while the rotation waits, and retries, must
	// not leave the family live.
	var grant *store.Grant
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		g, err := db.rotateInTx(ctx, tx, r, now)
		grant = g
		return err
	})
	if errors.Is(err, store.ErrReused) {
		db.changed()
	}
	if err != nil {
		return nil, err
	}
	return grant, nil
}

// rotateInTx is the transaction of RotateRefreshToken: every case the
// one-statement rotation leaves (a rotated token — reuse or a retry within
// the grace window —, a revoked or expired grant, an unknown token).
func (db *DB) rotateInTx(ctx context.Context, tx *sql.Tx, r store.Rotation, now int64) (*store.Grant, error) {
	forUpdate := ""
	if db.d.ForUpdate != "" {
		// Locks are taken grant first, then token, on every path that
		// takes both (here and in rotateOneStatement): with the
		// opposite order here (token, then the grant's UPDATE), a
		// reuse and a one-statement rotation of one token deadlocked,
		// rounds of parallel refreshes hung for seconds and, when the
		// clients gave up, the family was never revoked (issue 12).
		// A token's grant_id never changes, so the sub-select finds
		// the grant to lock before the token is locked. Other
		// rotations of the same grant queue here, which is what makes
		// exactly one of them win.
		var gid string
		err := db.txQueryRow(ctx, tx, `SELECT g.id FROM grants g
			WHERE g.id = (SELECT grant_id FROM refresh_tokens WHERE hash = $1) FOR NO KEY UPDATE`,
			r.OldHash).Scan(&gid)
		if err != nil {
			return nil, notFound(err)
		}
		forUpdate = db.d.ForUpdate + " OF t"
	}
	// One read: the token, locked (FOR UPDATE OF t on PostgreSQL: its
	// grant is locked above), and its grant.
	var old store.RefreshToken
	var oldScopes string
	var oldCreated, oldRotated int64
	g, err := scanGrant(scanPrefix(db.txQueryRow(ctx, tx, `SELECT t.hash, t.grant_id, t.parent_hash, t.scopes, t.created_at, t.rotated_at, `+
		grantCols+` FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN clients c ON c.id = g.client_id
		WHERE t.hash = $1`+forUpdate, r.OldHash), &old.Hash, &old.GrantID, &old.ParentHash, &oldScopes, &oldCreated, &oldRotated))
	if err != nil {
		return nil, notFound(err)
	}
	old.Scopes = splitList(oldScopes)
	old.CreatedAt, old.RotatedAt = fromMicros(oldCreated), fromMicros(oldRotated)
	live := g.Live(r.Now)
	if !old.RotatedAt.IsZero() {
		inGrace := live && r.Grace > 0 && r.Now.Sub(old.RotatedAt) <= r.Grace
		retired := int64(0)
		if inGrace {
			res, err := db.txExec(ctx, tx,
				`DELETE FROM refresh_tokens WHERE parent_hash = $1 AND rotated_at = 0`, r.OldHash)
			if err != nil {
				return nil, err
			}
			if retired, err = res.RowsAffected(); err != nil {
				return nil, err
			}
		}
		if retired == 0 {
			// Reuse: revoke the family (if no one has yet) and make the
			// revocation stick. A rotated token is reported as reused
			// even when its grant was revoked already, so every loser
			// of a race sees the same answer.
			if _, err := db.txExec(ctx, tx,
				`UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, g.ID, now); err != nil {
				return nil, err
			}
			return nil, commitThen{store.ErrReused}
		}
	} else {
		if !live {
			return nil, store.ErrRevoked
		}
		if _, err := db.txExec(ctx, tx,
			`UPDATE refresh_tokens SET rotated_at = $2 WHERE hash = $1`, r.OldHash, now); err != nil {
			return nil, err
		}
	}

	nt := r.New
	nt.GrantID, nt.ParentHash, nt.RotatedAt = g.ID, r.OldHash, time.Time{}
	if nt.Scopes == nil {
		nt.Scopes = old.Scopes
	}
	if err := db.insertRefresh(ctx, tx, &nt); err != nil {
		return nil, err
	}
	// Conditional on the grant still being live: a revocation that
	// committed after our read wins, and this rotation fails.
	err = mustAffect(db.txExec(ctx, tx,
		`UPDATE grants SET last_used_at = $2 WHERE id = $1 AND revoked_at = 0`, g.ID, now))
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.ErrRevoked
	}
	if err != nil {
		return nil, err
	}
	g.LastUsedAt = fromMicros(now)
	return g, nil
}

// rotateOneStatement rotates a current token of a live grant in a single
// statement (PostgreSQL's data-modifying WITH): one round trip instead of
// six (BEGIN, read, mark, insert, touch, COMMIT), atomic on its own.
//
//   - g locks the grant (FOR NO KEY UPDATE) only if it is live and the
//     token is its current one; a revocation committing first makes g
//     empty (the re-check after the lock sees revoked_at), one committing
//     later waits for this statement;
//   - old marks the token rotated only if it still is current: of two
//     concurrent rotations the second waits for the first and then finds
//     rotated_at set, so old, ins and upd are empty and nothing is written;
//   - an empty result (sql.ErrNoRows) means nothing was written, and the
//     caller runs the full transaction, which tells reuse, grace, revoked
//     and unknown apart.
func (db *DB) rotateOneStatement(ctx context.Context, r store.Rotation, now int64) (*store.Grant, error) {
	if err := checkWords("scope", r.New.Scopes); err != nil {
		return nil, err // not sql.ErrNoRows: the transaction is not tried
	}
	var scopes any // NULL: the old token's
	if r.New.Scopes != nil {
		scopes = joinList(r.New.Scopes)
	}
	g, err := scanGrant(db.w.QueryRowContext(ctx, `WITH g AS (
			SELECT g.id FROM grants g JOIN refresh_tokens t ON t.grant_id = g.id
			WHERE t.hash = $1 AND t.rotated_at = 0 AND g.revoked_at = 0 AND (g.expires_at = 0 OR g.expires_at > $2)
			FOR NO KEY UPDATE OF g
		), old AS (
			UPDATE refresh_tokens SET rotated_at = $2
			WHERE hash = $1 AND rotated_at = 0 AND grant_id IN (SELECT id FROM g)
			RETURNING grant_id, scopes
		), ins AS (
			INSERT INTO refresh_tokens (hash, grant_id, parent_hash, scopes, created_at, rotated_at)
			SELECT $3, grant_id, $1, COALESCE($4, scopes), $5, 0 FROM old
			RETURNING grant_id
		), upd AS (
			UPDATE grants SET last_used_at = $2 WHERE id IN (SELECT grant_id FROM ins)
			RETURNING *
		)
		SELECT `+grantCols+` FROM upd g JOIN clients c ON c.id = g.client_id`,
		r.OldHash, now, r.New.Hash, scopes, micros(r.New.CreatedAt)))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, db.mapErr(err)
	}
	return g, err
}

// Authorization codes.

const codeCols = `hash, client_id, user_id, redirect_uri, scopes, nonce, code_challenge,
	code_challenge_method, auth_time, session_id, created_at, expires_at, used_at, grant_id, claims, amr, resources`

func scanCode(r rowScanner) (*store.AuthCode, error) {
	var c store.AuthCode
	var scopes string
	var authTime, created, expires, used int64
	var claims sql.NullString
	var amr, resources string
	if err := r.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &scopes, &c.Nonce,
		&c.CodeChallenge, &c.CodeChallengeMethod, &authTime, &c.SessionID, &created, &expires,
		&used, &c.GrantID, &claims, &amr, &resources); err != nil {
		return nil, err
	}
	c.AMR = splitList(amr)
	c.Resources = splitList(resources)
	c.Claims = claims.String
	c.Scopes = splitList(scopes)
	c.AuthTime, c.CreatedAt = fromMicros(authTime), fromMicros(created)
	c.ExpiresAt, c.UsedAt = fromMicros(expires), fromMicros(used)
	return &c, nil
}

// CreateAuthCode inserts c. store.ErrConflict when the hash is taken,
// store.ErrNotFound when its user or client does not exist.
func (db *DB) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	if len(c.Hash) == 0 {
		return errors.New("sqlstore: authorization code without hash")
	}
	if err := checkWords("scope", c.Scopes); err != nil {
		return err
	}
	if err := checkWords("amr", c.AMR); err != nil {
		return err
	}
	if err := checkWords("resource", c.Resources); err != nil {
		return err
	}
	_, err := db.wExec(ctx, `INSERT INTO auth_codes (hash, client_id, user_id, redirect_uri,
		scopes, nonce, code_challenge, code_challenge_method, auth_time, session_id, created_at,
		expires_at, used_at, grant_id, claims, amr, resources)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, joinList(c.Scopes), c.Nonce, c.CodeChallenge,
		c.CodeChallengeMethod, micros(c.AuthTime), c.SessionID, micros(c.CreatedAt),
		micros(c.ExpiresAt), micros(c.UsedAt), c.GrantID, nullString(c.Claims), joinList(c.AMR), joinList(c.Resources))
	return db.mapErr(err)
}

// RedeemAuthCode redeems the code stored under hash in one transaction:
//
//   - unknown code: store.ErrNotFound;
//   - g.ClientID or g.UserID set and different from the code's: store.ErrNotFound,
//     and the code is left untouched (RFC 6749 §4.1.3: the code must have been
//     issued to the authenticated client; a client holding another client's
//     code cannot burn it);
//   - redeemed before: the grant the first redemption created is revoked,
//     the revocation committed, and the result is store.ErrAlreadyUsed
//     (RFC 6749 §4.1.2: "If an authorization code is used more than once,
//     the authorization server MUST deny the request and SHOULD revoke (when
//     possible) all tokens previously issued based on that authorization code.");
//   - expired (now ≥ ExpiresAt): store.ErrExpired; nothing written;
//   - otherwise the code is marked used at now and g is created (with rt, if
//     not nil); the code, with UsedAt and GrantID set, is returned.
//
// Fields of g the caller leaves empty are filled from the code: ClientID,
// UserID, Scopes (nil), AuthTime (zero), Claims (""), AMR (nil); rt.GrantID is set to g.ID and nil
// rt.Scopes default to g.Scopes. The caller still checks the returned code
// (redirect URI, PKCE) and revokes g.ID if a check fails.
//
// The code row is locked (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on
// SQLite), so of N concurrent redemptions exactly one succeeds. Once
// started, the redemption is not stopped by the caller's cancellation (see
// detach): a replay detected after the client hung up still revokes.
func (db *DB) RedeemAuthCode(ctx context.Context, hash []byte, now time.Time, g *store.Grant, rt *store.RefreshToken) (*store.AuthCode, error) {
	ctx, cancel, gone := finish(ctx)
	if gone != nil {
		return nil, gone
	}
	defer cancel()
	var (
		code *store.AuthCode
		ng   store.Grant
		nrt  store.RefreshToken
	)
	// A replay's revocation is committed whatever the caller does (ctx is
	// detached: finish), as a refresh token's reuse is.
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		c, err := scanCode(db.txQueryRow(ctx, tx, `SELECT `+codeCols+` FROM auth_codes WHERE hash = $1`+db.d.ForUpdate, hash))
		if err != nil {
			return notFound(err)
		}
		if (g.ClientID != "" && g.ClientID != c.ClientID) || (g.UserID != "" && g.UserID != c.UserID) {
			return store.ErrNotFound
		}
		if !c.UsedAt.IsZero() {
			if c.GrantID != "" {
				if _, err := db.txExec(ctx, tx,
					`UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, c.GrantID, micros(now)); err != nil {
					return err
				}
			}
			return commitThen{store.ErrAlreadyUsed}
		}
		if !now.Before(c.ExpiresAt) {
			return store.ErrExpired
		}

		if ng, nrt, err = db.issueFromCode(ctx, tx, g, rt, store.Grant{
			ClientID: c.ClientID, UserID: c.UserID, Scopes: c.Scopes, AuthTime: c.AuthTime, Claims: c.Claims,
			AMR:       c.AMR,
			Resources: c.Resources,
		}); err != nil {
			return err
		}
		if _, err := db.txExec(ctx, tx, `UPDATE auth_codes SET used_at = $2, grant_id = $3 WHERE hash = $1`,
			hash, micros(now), ng.ID); err != nil {
			return err
		}
		c.UsedAt, c.GrantID = fromMicros(micros(now)), ng.ID
		code = c
		return nil
	})
	if errors.Is(err, store.ErrAlreadyUsed) {
		db.changed()
	}
	if err != nil {
		return nil, err
	}
	// Only after the commit do the caller's values change (a retried
	// transaction starts again from the originals).
	*g = ng
	if rt != nil {
		*rt = nrt
	}
	return code, nil
}

// issueFromCode inserts, inside tx, the grant that a redeemed authorization
// or device code authorized: g with its empty ClientID, UserID, Scopes,
// AuthTime and Claims filled from the code's values in from, and, if rt is
// not nil, its first refresh token (scopes defaulting to the grant's).
func (db *DB) issueFromCode(ctx context.Context, tx *sql.Tx, g *store.Grant, rt *store.RefreshToken, from store.Grant) (store.Grant, store.RefreshToken, error) {
	ng, nrt := *g, store.RefreshToken{}
	if ng.ClientID == "" {
		ng.ClientID = from.ClientID
	}
	if ng.UserID == "" {
		ng.UserID = from.UserID
	}
	if ng.Scopes == nil {
		ng.Scopes = from.Scopes
	}
	if ng.AuthTime.IsZero() {
		ng.AuthTime = from.AuthTime
	}
	if ng.Claims == "" {
		ng.Claims = from.Claims
	}
	if ng.AMR == nil {
		ng.AMR = from.AMR
	}
	if ng.Resources == nil {
		ng.Resources = from.Resources
	}
	if err := db.insertGrant(ctx, tx, &ng); err != nil {
		return ng, nrt, err
	}
	if rt != nil && (rt.IfScope == "" || slices.Contains(ng.Scopes, rt.IfScope)) {
		nrt = *rt
		nrt.IfScope = ""
		nrt.GrantID = ng.ID
		if nrt.Scopes == nil {
			nrt.Scopes = ng.Scopes
		}
		if err := db.insertRefresh(ctx, tx, &nrt); err != nil {
			return ng, nrt, err
		}
	}
	return ng, nrt, nil
}
