// Package postgres is the PostgreSQL backend of store.Store: the shared
// store/sqlstore implementation on github.com/jackc/pgx/v5 through its
// database/sql driver (pgx/v5/stdlib), with the schema in migrations/.
//
// Transactions run at READ COMMITTED, the server default. The operations
// that must have one winner (redeeming a code, rotating a refresh token,
// merging a consent) read their row with SELECT … FOR UPDATE, so concurrent
// callers queue on the row lock and each sees the previous one's committed
// result; counters and first-writer-wins settings are single
// INSERT … ON CONFLICT statements. A transaction that fails with SQLSTATE
// 40001 (serialization failure) or 40P01 (deadlock detected) is run again
// from the start, a few times, by sqlstore.
//
// Migrations hold goose's PostgreSQL session lock (an advisory lock keyed
// by the schema migrated), so several instances starting at once apply each
// migration once and the others wait, then find nothing to do.
//
// The schema is the connection's search_path: to use a schema other than
// public, put search_path=NAME in the URL's query, which pgx sends as a
// run-time parameter.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/multinexo/auth/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Pool settings. One pool serves reads and writes: PostgreSQL has no
// single-writer limit. 32 connections per instance keep 64 concurrent
// clients busy (a request holds a connection for a query, not for the whole
// request) while leaving room under the default max_connections (100) for
// two or three instances; raise max_connections before adding more.
const (
	maxOpenConns    = 32
	maxIdleConns    = 32
	connMaxIdleTime = 5 * time.Minute
	connMaxLifetime = 30 * time.Minute
	// lockTimeout is the sessions' lock_timeout; see Open.
	lockTimeout = "3s"
)

// Open connects to the database at url (a postgres:// URL or key=value
// DSN, as pgx accepts) and checks that it answers. It does not migrate:
// call Migrate on the result.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included: keep it out.
		return nil, errors.New("postgres: invalid database URL")
	}
	// lock_timeout bounds every wait for a row lock: a request queued
	// behind a stuck transaction fails (SQLSTATE 55P03, answered as
	// temporarily unavailable) instead of hanging while more requests
	// queue behind it. Rotations of one grant hold its lock for a
	// statement or two, far below this. The URL may set its own.
	if _, ok := cfg.RuntimeParams["lock_timeout"]; !ok {
		cfg.RuntimeParams["lock_timeout"] = lockTimeout
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	db.SetConnMaxLifetime(connMaxLifetime)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: connect: %w", err), db.Close())
	}
	return sqlstore.New(db, db, Dialect()), nil
}

// Dialect returns the PostgreSQL dialect of sqlstore.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:        "postgres",
		ForUpdate:   " FOR UPDATE",
		WritableCTE: true,
		// lower() follows the database's LC_CTYPE; with a UTF-8 locale
		// (C.UTF-8, es_AR.UTF-8, …) it folds non-ASCII letters too.
		Fold:                  "lower",
		IsUniqueViolation:     func(err error) bool { return hasCode(err, "23505") },
		IsForeignKeyViolation: func(err error) bool { return hasCode(err, "23503") },
		IsRetryable:           func(err error) bool { return hasCode(err, "40001", "40P01") },
		IsDiskFull:            func(err error) bool { return hasCode(err, "53100") },
		Migrate:               migrate,
	}
}

func hasCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// migrate applies migrations/*.sql with goose under a session-level
// advisory lock. The lock id is derived from the schema being migrated, so
// instances migrating one schema exclude each other while different schemas
// of one database (tests, several tenants) do not wait for each other.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	if !schema.Valid {
		return errors.New("no schema to migrate: search_path names no existing schema")
	}
	h := fnv.New64a()
	h.Write([]byte("multinexo-migrate:" + schema.String))
	// Poll for the lock every second, for up to ten minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 600))
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
