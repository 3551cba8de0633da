package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Dialect is what differs between the engines. The backends fill it; every
// field is required except ForUpdate and IsRetryable.
type Dialect struct {
	// Name is "sqlite" or "postgres", for error messages.
	Name string
	// ForUpdate is appended to the SELECT that reads a row a transaction is
	// about to change: " FOR UPDATE" on PostgreSQL (READ COMMITTED, so the
	// row lock is what serialises concurrent redemptions and rotations);
	// empty on SQLite, where every write transaction is BEGIN IMMEDIATE and
	// therefore already holds the database's only write lock.
	ForUpdate string
	// Fold is the SQL function that case-folds text for case-insensitive
	// filters, applied to both the column and the bound value.
	Fold string
	// IsUniqueViolation reports a unique or primary-key constraint error.
	IsUniqueViolation func(error) bool
	// IsForeignKeyViolation reports a foreign-key constraint error.
	IsForeignKeyViolation func(error) bool
	// IsRetryable reports an error after which the whole transaction may be
	// run again (PostgreSQL SQLSTATE 40001 and 40P01). Nil: never.
	IsRetryable func(error) bool
	// PrepareWrites: run the statements of write transactions through
	// prepared statements cached on the write pool (SQLite, where preparing
	// costs about as much as running a point statement). PostgreSQL's pgx
	// already caches prepared statements per connection.
	PrepareWrites bool
	// WritableCTE: the engine runs data-modifying statements in WITH
	// (PostgreSQL), so a refresh rotation can be one statement.
	WritableCTE bool
	// GroupCommit: run transactions through one writer goroutine that
	// commits the bodies queued meanwhile together, each in its own
	// savepoint (SQLite: one writer at a time anyway; see batch.go).
	GroupCommit bool
	// Checkpoint is the statement that moves the write-ahead log into the
	// database and truncates it (SQLite: PRAGMA wal_checkpoint(TRUNCATE)),
	// run on Close and after a write failed for lack of disk. Empty: none.
	Checkpoint string
	// IsDiskFull reports an error meaning the disk (or the database's size
	// limit) is full. Nil: never.
	IsDiskFull func(error) bool
	// Migrate applies the backend's migrations using db (the write pool).
	Migrate func(ctx context.Context, db *sql.DB) error
}

// DB implements store.Store on database/sql. Create it with New (the
// backends' Open functions do).
type DB struct {
	r *sql.DB // reads outside transactions
	w *sql.DB // transactions and single-statement writes
	d Dialect

	// stmts caches prepared statements of the hot single-row reads on r
	// (grant, client, token look-ups on every request): preparing is a
	// large part of a point query's cost on SQLite.
	mu    sync.Mutex
	stmts map[string]*sql.Stmt

	// wstmts caches prepared statements on w for use inside transactions
	// (Dialect.PrepareWrites). A statement is prepared outside any
	// transaction — the write pool may have a single connection, which the
	// transaction holds — so a statement first seen inside one runs
	// unprepared and is queued in wwant, to be prepared before the next.
	wstmts map[string]*sql.Stmt
	wwant  map[string]bool

	local atomic.Int64 // see LocalChanges

	batch *batcher // Dialect.GroupCommit; nil otherwise

	// writeFail is when the last write failed for a reason of the
	// database itself (unix µs), 0 after a write succeeded; see health.go.
	writeFail     atomic.Int64
	checkpointing atomic.Bool
}

var _ store.Store = (*DB)(nil)

// maxTxAttempts bounds how often a transaction is retried after a
// serialization failure or deadlock.
const maxTxAttempts = 8

// New returns a store on the given pools. read serves reads outside
// transactions, write serves every transaction and every write; they may be
// the same pool (PostgreSQL). The DB owns both pools: Close closes them.
func New(read, write *sql.DB, d Dialect) *DB {
	if read == nil {
		read = write
	}
	db := &DB{r: read, w: write, d: d, stmts: make(map[string]*sql.Stmt),
		wstmts: make(map[string]*sql.Stmt), wwant: make(map[string]bool)}
	if d.GroupCommit {
		db.batch = newBatcher(db)
	}
	return db
}

// readRow runs the single-row read q on the read pool through a cached
// prepared statement.
func (db *DB) readRow(ctx context.Context, q string, args ...any) rowScanner {
	db.mu.Lock()
	st, ok := db.stmts[q]
	db.mu.Unlock()
	if !ok {
		var err error
		if st, err = db.r.PrepareContext(ctx, q); err != nil {
			return errRow{err}
		}
		db.mu.Lock()
		if cached, ok := db.stmts[q]; ok {
			// Another goroutine prepared it first; keep one.
			db.mu.Unlock()
			if err := st.Close(); err != nil {
				return errRow{err}
			}
			st = cached
		} else {
			db.stmts[q] = st
			db.mu.Unlock()
		}
	}
	return st.QueryRowContext(ctx, args...)
}

// detachedTimeout bounds store work that goes on after its caller has left:
// longer than any lock wait the backends allow (PostgreSQL's lock_timeout,
// 3 s; SQLite's busy_timeout, 10 s), so that a wait fails before the bound
// does, short enough that a stuck database cannot pile such work up.
const detachedTimeout = 15 * time.Second

// detach returns the context for store work that must be done even if its
// caller goes away (a client hanging up): security events, failure counters
// and their resets, revocations. It keeps ctx's values but not its
// cancellation, and is bounded by detachedTimeout. Without it an attacker
// who hangs up before the answer would not be counted, and the audit trail
// would miss exactly the requests that were cut short.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
}

// finish is detach for the atomic exchanges (refresh rotation, code
// redemption): one whose caller has already gone is not started (its error
// is ctx's, and nothing changes: the old token or the code still works),
// but one that has started runs to its end, so whether it happened is
// decided by the store's transaction and never by when a client hung up.
func finish(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	dctx, cancel := detach(ctx)
	return dctx, cancel, nil
}

// txExec runs a write statement in tx, prepared when the dialect asks.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	ctx = db.stmtCtx(ctx)
	if st := db.writeStmt(q); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// txQueryRow runs a single-row query in tx, prepared when the dialect asks.
func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	ctx = db.stmtCtx(ctx)
	if st := db.writeStmt(q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// writeStmt returns q prepared on the write pool, or nil (not prepared yet:
// it is queued for preparation before the next transaction).
func (db *DB) writeStmt(q string) *sql.Stmt {
	if !db.d.PrepareWrites {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	st := db.wstmts[q]
	if st == nil {
		db.wwant[q] = true
	}
	return st
}

// wExec runs a single write statement outside any transaction, through a
// statement prepared on the write pool when the dialect asks (it may be
// prepared here: no transaction of ours holds the connection). With group
// commit it joins the next batch instead, as its own savepoint.
func (db *DB) wExec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if db.batch != nil {
		var res sql.Result
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			res, err = db.txExec(ctx, tx, q, args...)
			return err
		})
		return res, err
	}
	if st := db.writeStmtNow(ctx, q); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, db.noteWrite(err)
	}
	res, err := db.w.ExecContext(ctx, q, args...)
	return res, db.noteWrite(err)
}

// wScan runs a single write statement that returns one row (RETURNING) and
// scans it into dest; like wExec, in the next batch with group commit.
func (db *DB) wScan(ctx context.Context, q string, args []any, dest ...any) error {
	if db.batch != nil {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			return db.txQueryRow(ctx, tx, q, args...).Scan(dest...)
		})
	}
	if st := db.writeStmtNow(ctx, q); st != nil {
		return db.noteWrite(st.QueryRowContext(ctx, args...).Scan(dest...))
	}
	return db.noteWrite(db.w.QueryRowContext(ctx, q, args...).Scan(dest...))
}

// writeStmtNow returns q prepared on the write pool, preparing it if
// needed; nil when the dialect does not prepare writes or preparing fails.
// Never call it inside a transaction.
func (db *DB) writeStmtNow(ctx context.Context, q string) *sql.Stmt {
	if st := db.writeStmt(q); st != nil || !db.d.PrepareWrites {
		return st
	}
	db.prepareWanted(ctx)
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.wstmts[q]
}

// prepareWanted prepares the queued write statements. Called outside any
// transaction; a failure (e.g. the schema is not migrated yet) leaves the
// statement to run unprepared.
func (db *DB) prepareWanted(ctx context.Context) {
	db.mu.Lock()
	if len(db.wwant) == 0 {
		db.mu.Unlock()
		return
	}
	var qs []string
	for q := range db.wwant {
		qs = append(qs, q)
	}
	clear(db.wwant)
	db.mu.Unlock()
	for _, q := range qs {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		db.mu.Lock()
		if db.wstmts[q] == nil {
			db.wstmts[q], st = st, nil
		}
		db.mu.Unlock()
		if st != nil {
			_ = st.Close()
		}
	}
}

// errRow is a row whose Scan reports err.
type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// Migrate applies every pending migration of the backend. Open does not
// migrate; callers (the serve and migrate commands, tests) call Migrate.
func (db *DB) Migrate(ctx context.Context) error {
	if db.d.Migrate == nil {
		return fmt.Errorf("sqlstore: %s: no migrations", db.d.Name)
	}
	if err := db.d.Migrate(ctx, db.w); err != nil {
		return fmt.Errorf("sqlstore: %s: migrate: %w", db.d.Name, err)
	}
	return nil
}

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return err
	}
	if db.r != db.w {
		return db.r.PingContext(ctx)
	}
	return nil
}

// Close closes the cached statements and the pools.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.shutdown()
	}
	// Leave no write-ahead log behind (SQLite): a stopped server should
	// not keep disk that a full volume needs back. Best effort, bounded.
	ctx, cancel := context.WithTimeout(context.Background(), detachedTimeout)
	_ = db.Checkpoint(ctx)
	cancel()
	var err error
	db.mu.Lock()
	for q, st := range db.stmts {
		err = errors.Join(err, st.Close())
		delete(db.stmts, q)
	}
	for q, st := range db.wstmts {
		err = errors.Join(err, st.Close())
		delete(db.wstmts, q)
	}
	db.mu.Unlock()
	err = errors.Join(err, db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// commitThen is returned by a transaction body whose writes must be
// committed although the operation reports an error (reuse detection, code
// replay): inTx commits and then returns err.
type commitThen struct{ err error }

func (c commitThen) Error() string { return c.err.Error() }
func (c commitThen) Unwrap() error { return c.err }

// inTx runs fn in a write transaction, committing when fn returns nil (or
// commitThen) and rolling back otherwise. On PostgreSQL a serialization
// failure or deadlock runs fn again, so fn must not leave side effects
// outside the transaction that a second run would duplicate.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.noteWrite(db.runTx(ctx, fn))
}

func (db *DB) runTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.batch != nil {
		return db.batch.do(ctx, fn)
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = db.tryTx(ctx, fn)
		if err == nil || db.d.IsRetryable == nil || !db.d.IsRetryable(err) || attempt >= maxTxAttempts {
			return err
		}
		// Brief growing pause so the transactions that collided do not
		// collide again in lock step.
		t := time.NewTimer(time.Duration(attempt) * 2 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	db.prepareWanted(ctx)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
				err = errors.Join(err, rbErr)
			}
		}
	}()
	ferr := fn(tx)
	var ct commitThen
	if ferr != nil && !errors.As(ferr, &ct) {
		return ferr
	}
	if err := tx.Commit(); err != nil {
		committed = true // Commit ends the transaction even when it fails.
		return err
	}
	committed = true
	if ferr != nil {
		return ct.err
	}
	return nil
}

// mapErr turns constraint violations into the store's errors.
func (db *DB) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case db.d.IsUniqueViolation(err):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case db.d.IsForeignKeyViolation(err):
		return fmt.Errorf("%w: referenced record: %w", store.ErrNotFound, err)
	}
	return err
}

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// mustAffect returns store.ErrNotFound when res changed no row.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// micros stores a time: 0 for the zero time, else unix microseconds.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros reads a time stored by micros.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// joinList stores a list of space-free words (scopes, grant types).
func joinList(l []string) string { return strings.Join(l, " ") }

// splitList reads a list stored by joinList; empty is nil.
func splitList(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}

// checkWords refuses list items that joinList could not store faithfully.
func checkWords(what string, l []string) error {
	for _, s := range l {
		if s == "" || strings.ContainsAny(s, " \t\r\n\f\v") {
			return fmt.Errorf("sqlstore: %s %q: empty or contains white space", what, s)
		}
	}
	return nil
}

// jsonList stores a list of arbitrary strings (redirect URIs).
func jsonList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// fromJSONList reads a list stored by jsonList; empty is nil.
func fromJSONList(s string) ([]string, error) {
	var l []string
	if s == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("sqlstore: bad stored list: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// nullString stores "" as NULL (optional foreign keys).
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// blob stores an empty byte slice as NULL and reads NULL as nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// args collects bound parameters and hands out their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }
