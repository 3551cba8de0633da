package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite" // the driver (package sqlite imports this one) and its SQL functions
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
	// Whether any body ran after the last lost transaction depends on how
	// the goroutines were scheduled; TestGroupCommitRerun checks the rerun
	// deterministically.
	t.Logf("%d of %d bodies failed", failed, len(errs))
	// The writer still works afterwards.
	if err := db.inTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO rows (id) VALUES ('after')`)
		return err
	}); err != nil || !db.hasRow(t, "after") {
		t.Fatalf("after: %v", err)
	}
}

// TestGroupCommitRerun: the bodies after the one under which the
// transaction was lost did not run; they are returned to run again, and do
// — built by hand, so that no scheduling decides which body is where.
func TestGroupCommitRerun(t *testing.T) {
	db := newBatchDB(t)
	ctx := context.Background()
	body := func(id string, kill bool) *txReq {
		return &txReq{ctx: ctx, done: make(chan error, 1), fn: func(tx *sql.Tx) error {
			if _, err := db.txExec(ctx, tx, `INSERT INTO rows (id) VALUES ($1)`, id); err != nil {
				return err
			}
			if kill {
				_, err := tx.Exec(`ROLLBACK`)
				return err
			}
			return nil
		}}
	}
	reqs := []*txReq{body("a", false), body("k", true), body("b", false), body("c", false)}
	rerun := db.runBatch(reqs)
	if len(rerun) != 2 || rerun[0] != reqs[2] || rerun[1] != reqs[3] {
		t.Fatalf("rerun %d bodies, want b and c", len(rerun))
	}
	for i, r := range reqs[:2] {
		if err := <-r.done; err == nil {
			t.Errorf("body %d ran in the lost transaction and was told it succeeded", i)
		}
	}
	if rest := db.runBatch(rerun); rest != nil {
		t.Fatalf("the rerun batch left %d bodies", len(rest))
	}
	for i, r := range rerun {
		if err := <-r.done; err != nil {
			t.Errorf("rerun body %d: %v", i, err)
		}
	}
	for id, want := range map[string]bool{"a": false, "k": false, "b": true, "c": true} {
		if got := db.hasRow(t, id); got != want {
			t.Errorf("row %s written = %v, want %v", id, got, want)
		}
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

// cancelCaller is called by the SQL function cancel_caller (registered once
// for the tests): it ends the context of the body whose statement runs it.
var (
	cancelCaller   atomic.Pointer[context.CancelFunc]
	registerCancel sync.Once
)

// registerCancelCaller registers cancel_caller(x): on its first call in a
// statement it cancels the context in cancelCaller and pauses, so that the
// driver's interrupt lands while the statement is still running; it is
// always true.
func registerCancelCaller(t *testing.T) {
	t.Helper()
	registerCancel.Do(func() {
		err := sqlite.RegisterScalarFunction("cancel_caller", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			if cancel := cancelCaller.Swap(nil); cancel != nil {
				(*cancel)()
				time.Sleep(50 * time.Millisecond)
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A caller that goes away while its body runs (a client hanging up in the
// middle of a refresh) must not fail the other bodies of its batch. modernc's
// driver interrupts a statement whose context ends, and SQLite then rolls
// back the whole shared transaction; so a body's statements run with the
// batch's context, not the caller's. Every body, including the one whose
// caller left, reports exactly what was written.
func TestGroupCommitCallerGoneMidBatch(t *testing.T) {
	registerCancelCaller(t)
	db := newBatchDB(t)
	// Hold the writer until every body is queued, so they share one batch.
	gate, running := make(chan struct{}), make(chan struct{})
	gateErr := make(chan error, 1)
	go func() {
		gateErr <- db.inTx(context.Background(), func(*sql.Tx) error {
			close(running)
			<-gate
			return nil
		})
	}()
	<-running
	const n, gone = 9, 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wg.Go(func() {
			errs[i] = db.inTx(ctx, func(tx *sql.Tx) error {
				id := fmt.Sprintf("r%d", i)
				if i != gone {
					_, err := db.txExec(ctx, tx, `INSERT INTO rows (id) VALUES ($1)`, id)
					return err
				}
				// Long enough (20 000 rows) for the interrupt to land.
				cancelCaller.Store(&cancel)
				_, err := db.txExec(ctx, tx, `INSERT INTO rows (id)
					WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
					SELECT $1 || '-' || x FROM c WHERE cancel_caller(x)`, id)
				return err
			})
		})
		// Queue in order, so the body whose caller leaves runs mid-batch.
		for deadline := time.Now().Add(10 * time.Second); len(db.batch.queue) < i+1; {
			if time.Now().After(deadline) {
				t.Fatalf("body %d not queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(gate)
	wg.Wait()
	if err := <-gateErr; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		id := fmt.Sprintf("r%d", i)
		if i == gone {
			id += "-1"
		} else if err != nil {
			t.Errorf("body %d failed because another caller left: %v", i, err)
		}
		if got := db.hasRow(t, id); got != (err == nil) {
			t.Errorf("body %d: error %v but row written = %v", i, err, got)
		}
	}
}
