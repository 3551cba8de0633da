package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	_ "modernc.org/sqlite" // the driver only: package sqlite imports this one
)

// newBatchDB opens a SQLite file with group commit and a table rows(id).
func newBatchDB(t *testing.T) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.db")
	w, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`CREATE TABLE rows (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db := New(nil, w, Dialect{Name: "sqlite", GroupCommit: true, PrepareWrites: true,
		IsUniqueViolation: func(error) bool { return false }, IsForeignKeyViolation: func(error) bool { return false }})
	t.Cleanup(func() { db.Close() })
	return db
}

func (db *DB) hasRow(t *testing.T, id string) bool {
	t.Helper()
	var n int
	if err := db.w.QueryRow(`SELECT count(*) FROM rows WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// concurrently runs n bodies at once through inTx; body i inserts row "r<i>"
// and then does extra(i, tx).
func concurrently(db *DB, n int, extra func(i int, tx *sql.Tx) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.inTx(context.Background(), func(tx *sql.Tx) error {
				if _, err := db.txExec(context.Background(), tx, `INSERT INTO rows (id) VALUES ($1)`, fmt.Sprintf("r%d", i)); err != nil {
					return err
				}
				return extra(i, tx)
			})
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// A body that fails leaves nothing; the bodies batched with it keep their
// writes; a body whose error must still commit (commitThen) commits.
func TestGroupCommitSavepoints(t *testing.T) {
	db := newBatchDB(t)
	bad, late := errors.New("refused"), errors.New("committed, but reported")
	errs := concurrently(db, 200, func(i int, _ *sql.Tx) error {
		switch i % 3 {
		case 1:
			return bad
		case 2:
			return commitThen{late}
		}
		return nil
	})
	for i, err := range errs {
		want := []error{nil, bad, late}[i%3]
		if !errors.Is(err, want) && err != want {
			t.Errorf("body %d: %v, want %v", i, err, want)
		}
		if got := db.hasRow(t, fmt.Sprintf("r%d", i)); got != (i%3 != 1) {
			t.Errorf("body %d (error %v): row written = %v", i, err, got)
		}
	}
}

// When the transaction is lost under a body (SQLite rolls back the whole
// transaction on I/O errors, a full disk, an interrupt — simulated here by
// the body ending it), no caller is told "done" for a write that was lost:
// for every body, success if and only if its row is there. The bodies not yet
// run are run again in the next batch.
func TestGroupCommitLostTransaction(t *testing.T) {
	db := newBatchDB(t)
	errs := concurrently(db, 200, func(i int, tx *sql.Tx) error {
		if i%50 == 7 {
			_, err := tx.Exec(`ROLLBACK`)
			return err
		}
		return nil
	})
	failed := 0
	for i, err := range errs {
		if got := db.hasRow(t, fmt.Sprintf("r%d", i)); got != (err == nil) {
			t.Errorf("body %d: error %v but row written = %v", i, err, got)
		}
		if err != nil {
			failed++
		}
		if i%50 == 7 && err == nil {
			t.Errorf("body %d ended the transaction and was told it succeeded", i)
		}
	}
	if failed == len(errs) {
		t.Fatal("every body failed: the bodies after a lost transaction were not run again")
	}
	// The writer still works afterwards.
	if err := db.inTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO rows (id) VALUES ('after')`)
		return err
	}); err != nil || !db.hasRow(t, "after") {
		t.Fatalf("after: %v", err)
	}
}

// Close fails the transactions still queued instead of leaving their
// callers waiting, and later ones at once.
func TestGroupCommitClose(t *testing.T) {
	db := newBatchDB(t)
	if err := db.inTx(context.Background(), func(tx *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db.batch.shutdown()
	if err := db.inTx(context.Background(), func(tx *sql.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Fatalf("after shutdown: %v, want errClosed", err)
	}
}
