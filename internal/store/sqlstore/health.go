package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Write health: whether writes are succeeding, for readiness (issue 12: on
// SQLite with a full disk every write failed while /readyz, which only
// pinged, kept answering ok).

// noteWrite records the outcome of a write: a success clears the failure
// flag, a failure of the database itself (store.Unavailable: disk full,
// I/O error, connection lost) sets it and, when the disk is full, starts a
// checkpoint that truncates the write-ahead log to give the space back.
// Other errors (a conflict, a reused token) say nothing about the database.
// It returns err.
func (db *DB) noteWrite(err error) error {
	switch {
	case err == nil:
		if db.writeFail.Load() != 0 {
			db.writeFail.Store(0)
		}
	case store.Unavailable(err):
		db.writeFail.Store(time.Now().UnixMicro())
		if db.d.IsDiskFull != nil && db.d.IsDiskFull(err) {
			go db.checkpointOnce()
		}
	}
	return err
}

// checkpointOnce runs Dialect.Checkpoint unless one is running already.
func (db *DB) checkpointOnce() {
	if db.d.Checkpoint == "" || !db.checkpointing.CompareAndSwap(false, true) {
		return
	}
	defer db.checkpointing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), detachedTimeout)
	defer cancel()
	_ = db.Checkpoint(ctx) // best effort: the next failure tries again
}

// Checkpoint runs Dialect.Checkpoint (SQLite: wal_checkpoint(TRUNCATE),
// which copies the write-ahead log into the database and truncates it to
// zero bytes) on the write pool. A no-op for engines without one.
func (db *DB) Checkpoint(ctx context.Context) error {
	if db.d.Checkpoint == "" {
		return nil
	}
	_, err := db.w.ExecContext(ctx, db.d.Checkpoint)
	return err
}

// probeKey is the meta row the write probe inserts and deletes.
const probeKey = "readyz.probe"

// probeSize is the probe row's size: larger than a page, so the probe must
// allocate pages and write them to the log, as real writes do.
const probeSize = 16 << 10

// Ready reports whether the store can serve: both pools answer and, if a
// write failed for lack of disk or a lost database since the last write
// that succeeded, a probe write (a row of probeSize inserted and deleted in
// one committed transaction) succeeds now. Writes that succeed clear the
// flag, so a healthy store pays only the ping.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	if db.writeFail.Load() == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (meta_key, value) VALUES ($1, $2)
			ON CONFLICT (meta_key) DO UPDATE SET value = excluded.value`, probeKey, strings.Repeat("x", probeSize)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE meta_key = $1`, probeKey)
		return err
	})
}

// WriteFailing reports whether the last write outcome recorded was a
// failure of the database itself (see noteWrite).
func (db *DB) WriteFailing() bool { return db.writeFail.Load() != 0 }

// WriteConn runs fn on a connection of the write pool, outside any
// transaction, and returns it to the pool: for per-connection settings
// (SQLite's write pool has one connection, kept for the pool's life). Tests
// use it to cap the database's size (PRAGMA max_page_count) as a full disk
// would.
func (db *DB) WriteConn(ctx context.Context, fn func(c *sql.Conn) error) error {
	c, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	return errors.Join(fn(c), c.Close())
}
