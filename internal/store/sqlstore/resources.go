package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Protected resources (RFC 8707), table resources (migration 00012).

var _ store.ResourceStore = (*DB)(nil)

// CreateResource inserts r; store.ErrConflict when its URI is taken.
func (db *DB) CreateResource(ctx context.Context, r *store.Resource) error {
	if r.URI == "" {
		return errors.New("sqlstore: resource without URI")
	}
	if err := checkWords("scope", r.Scopes); err != nil {
		return err
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO resources (uri, name, scopes, created_at) VALUES ($1, $2, $3, $4)`,
		r.URI, r.Name, joinList(r.Scopes), micros(r.CreatedAt))
	return db.mapErr(err)
}

// GetResource returns the resource with that URI, or store.ErrNotFound.
func (db *DB) GetResource(ctx context.Context, uri string) (*store.Resource, error) {
	r := store.Resource{URI: uri}
	var scopes string
	var created int64
	err := db.readRow(ctx, `SELECT name, scopes, created_at FROM resources WHERE uri = $1`, uri).
		Scan(&r.Name, &scopes, &created)
	if err != nil {
		return nil, notFound(err)
	}
	r.Scopes, r.CreatedAt = splitList(scopes), fromMicros(created)
	return &r, nil
}

// ListResources lists every resource, by URI.
func (db *DB) ListResources(ctx context.Context) ([]*store.Resource, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT uri, name, scopes, created_at FROM resources ORDER BY uri`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() {
		var r store.Resource
		var scopes string
		var created int64
		if err := rows.Scan(&r.URI, &r.Name, &scopes, &created); err != nil {
			return nil, err
		}
		r.Scopes, r.CreatedAt = splitList(scopes), fromMicros(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// DeleteResource deletes the resource; store.ErrNotFound when absent.
func (db *DB) DeleteResource(ctx context.Context, uri string) error {
	return mustAffect(db.w.ExecContext(ctx, `DELETE FROM resources WHERE uri = $1`, uri))
}

// RFC 7591 initial access tokens, table registration_tokens (migration 00012).

var _ store.RegistrationStore = (*DB)(nil)

// CreateRegistrationToken stores an initial access token's hash.
func (db *DB) CreateRegistrationToken(ctx context.Context, hash []byte, created, expires time.Time) error {
	if len(hash) == 0 {
		return errors.New("sqlstore: registration token without hash")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO registration_tokens (hash, created_at, expires_at) VALUES ($1, $2, $3)`,
		hash, micros(created), micros(expires))
	return db.mapErr(err)
}

// UseRegistrationToken spends the token in one conditional UPDATE, so of
// two concurrent uses one wins; on failure a read says why.
func (db *DB) UseRegistrationToken(ctx context.Context, hash []byte, now time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE registration_tokens SET used_at = $2
		WHERE hash = $1 AND used_at = 0 AND expires_at > $2`, hash, micros(now))
	if err := mustAffect(res, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var used, expires int64
	if err := db.w.QueryRowContext(ctx, `SELECT used_at, expires_at FROM registration_tokens WHERE hash = $1`, hash).
		Scan(&used, &expires); err != nil {
		return notFound(err)
	}
	if used != 0 {
		return store.ErrAlreadyUsed
	}
	return store.ErrExpired
}
