// Package sqlite is the SQLite backend of store.Store: the shared
// store/sqlstore implementation on modernc.org/sqlite (pure Go, so
// CGO_ENABLED=0 builds work), with the schema in migrations/.
//
// # Connections
//
// Open returns a store with two pools on one database file:
//
//   - a write pool of exactly one connection. SQLite admits one writer at a
//     time whatever we do; queueing writers in Go (database/sql waits for the
//     free connection, honouring the context) is cheaper and fairer than
//     letting many connections spin in SQLite's busy handler, and a single
//     writer can never deadlock or hit SQLITE_BUSY against another writer of
//     this process. Its transactions still BEGIN IMMEDIATE (_txlock=immediate),
//     so against another process (the command line on the same file) the
//     write lock is taken before the first read and busy_timeout (10 s)
//     applies, instead of failing an upgrade from read to write with
//     SQLITE_BUSY (50–75 % of deferred read-then-write transactions failed
//     that way under load here).
//   - a read pool of several connections, opened with query_only so nothing
//     can write through it. In WAL mode readers never block the writer or
//     each other, so reads (which are most requests: grant and client
//     look-ups) scale with the CPUs. Its size is 2 × GOMAXPROCS, at least 4
//     and at most 64; more connections than CPUs only add memory, since the
//     driver is CPU-bound Go code.
//
// Every connection sets journal_mode=WAL, synchronous=NORMAL (durable across
// process crashes; in WAL mode a power loss can lose only the last
// transactions, never corrupt the file), foreign_keys=ON (the ON DELETE
// CASCADE rules are part of the store's contract) and busy_timeout=10000.
//
// Case-insensitive list filters use the SQL function multinexo_fold,
// registered with the driver here, which folds with Go's Unicode rules:
// SQLite's own lower() folds only ASCII, and names are often not ASCII
// ("Núñez").
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/multinexo/auth/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// foldFunc is the SQL name of the Unicode case-folding function.
const foldFunc = "multinexo_fold"

func init() {
	// Registered once per process with the driver; every connection the
	// driver opens afterwards has it.
	sqlite.MustRegisterDeterministicScalarFunction(foldFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil
		}
	})
}

// Open opens (creating if needed) the SQLite database at path. It does not
// migrate: call Migrate on the result. path must name a file; in-memory
// databases are refused because the read and write pools would each get
// their own empty database.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("sqlite: %q: a database file path is required", path)
	}
	w, err := openPool(ctx, path, false)
	if err != nil {
		return nil, err
	}
	r, err := openPool(ctx, path, true)
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	d := Dialect()
	// goose has no lock for SQLite: several processes starting on a new
	// file at once (serve and an operator command, two serve) would race
	// to apply the same migration. A lock file beside the database makes
	// them take turns; the later ones then find nothing to do.
	run := d.Migrate
	d.Migrate = func(ctx context.Context, db *sql.DB) error {
		unlock, err := lockFile(ctx, path+".migrate.lock")
		if err != nil {
			return fmt.Errorf("sqlite: migration lock: %w", err)
		}
		defer unlock()
		return run(ctx, db)
	}
	return sqlstore.New(r, w, d), nil
}

// dsn builds the driver's name for path: a file: URI with the path escaped
// (so '?', '#' and '%' in a path stay part of it) and the connection
// settings as query parameters.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// The write-ahead log is checkpointed every 1000 pages (SQLite's
	// default, ~4 MiB) but its file never shrinks on its own: a burst, or
	// a long read holding back checkpoints, leaves it at its largest.
	// journal_size_limit truncates it back to walLimit at each reset.
	q.Add("_pragma", "journal_size_limit("+strconv.Itoa(walLimit)+")")
	// Pages read through a memory map instead of one pread each.
	q.Add("_pragma", "mmap_size(268435456)")
	q.Set("_txlock", "immediate")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func openPool(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, readOnly))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if readOnly {
		n := min(max(2*runtime.GOMAXPROCS(0), 4), 64)
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	} else {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	}
	// Connections are cheap to keep and costly to reopen (each runs its
	// pragmas); keep them for the life of the pool.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// The first connection's pragmas may find the file locked by another
	// process switching it to WAL or migrating it; SQLite then answers
	// SQLITE_BUSY without waiting busy_timeout. Try again for a while.
	deadline := time.Now().Add(openBusyWait)
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return db, nil
		}
		if !hasCode(err, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) || time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), db.Close())
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), ctx.Err(), db.Close())
		case <-time.After(time.Duration(5+rand.IntN(20)) * time.Millisecond):
		}
	}
}

// walLimit is the size the write-ahead log is truncated back to after a
// checkpoint (journal_size_limit), in bytes: the automatic checkpoint's
// threshold, so a log in steady state is never cut and regrown.
const walLimit = 4 << 20

// openBusyWait bounds how long Open retries a database another process
// holds locked while setting it up.
const openBusyWait = 10 * time.Second

// Dialect returns the SQLite dialect of sqlstore.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:      "sqlite",
		ForUpdate: "",
		Fold:      foldFunc,
		IsUniqueViolation: func(err error) bool {
			return hasCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
		},
		IsForeignKeyViolation: func(err error) bool { return hasCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) },
		PrepareWrites:         true,
		GroupCommit:           true,
		Checkpoint:            "PRAGMA wal_checkpoint(TRUNCATE)",
		IsDiskFull: func(err error) bool {
			return hasCode(err, sqlite3.SQLITE_FULL) || errors.Is(err, syscall.ENOSPC)
		},
		Migrate: migrate,
	}
}

func hasCode(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

// migrate applies migrations/*.sql with goose. Within one process the
// single write connection serialises concurrent Migrate calls (goose holds
// it for the whole run), and each migration is one BEGIN IMMEDIATE
// transaction. goose has no lock for SQLite across processes; Open wraps
// this in a lock file beside the database (lockFile).
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
