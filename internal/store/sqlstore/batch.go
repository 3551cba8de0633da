package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Group commit (Dialect.GroupCommit, SQLite).
//
// SQLite has one writer at a time. With a transaction per operation, each
// refresh rotation or code redemption pays its own BEGIN IMMEDIATE and its
// own COMMIT (the WAL write), and the write connection passes from goroutine
// to goroutine — each hand-over waiting for a CPU while the lock is held. A
// single writer goroutine instead takes every transaction body queued while
// the previous batch ran and runs them in one transaction, each inside its
// own SAVEPOINT:
//
//   - a body that fails is rolled back to its savepoint: none of its writes
//     survive, the others' are unaffected, and its caller gets its error;
//   - the bodies run one after the other in queue order, so each sees the
//     writes of those before it, exactly as serial transactions would;
//   - a caller learns its outcome only after the COMMIT; if the COMMIT fails
//     every body of the batch is reported failed — nothing of the batch was
//     written — so no caller is told "done" for a write that is not durable
//     in the WAL;
//   - if SQLite aborts the whole transaction under a body (I/O error, disk
//     full, interrupt), ROLLBACK TO fails, the batch is abandoned with that
//     error for the bodies that ran, and the bodies not yet run are queued
//     again for the next batch;
//   - a body's statements run with the batch's context, not its caller's
//     (stmtCtx): modernc's driver interrupts a statement whose context ends,
//     and an interrupted write makes SQLite roll back the whole shared
//     transaction, so a client hanging up mid-statement would fail every
//     body batched before it. A caller that has gone before its body starts
//     is skipped (nothing written, its error is its context's); once started,
//     a body runs to the end, bounded by batchTimeout for the whole batch.
//
// The batch size is bounded (maxBatch), so one batch's latency stays small.

const maxBatch = 128

// batchTimeout bounds one batch (BEGIN to COMMIT), whatever its callers'
// contexts: a statement stuck past it is interrupted and the batch is
// abandoned as above.
const batchTimeout = 30 * time.Second

type txReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error // buffered (1): the writer never blocks on delivery
}

type batcher struct {
	db    *DB
	queue chan *txReq
	stop  chan struct{}
	once  sync.Once // starts the writer
	wg    sync.WaitGroup

	// mu guards closed: requests are queued under the read lock, so once
	// shutdown has set closed none can be queued, and the drain after the
	// writer stops sees every request still waiting.
	mu     sync.RWMutex
	closed bool

	// cur is the context of the batch being run; only the writer goroutine
	// (which runs the bodies) reads or writes it.
	cur context.Context
}

// bodyCtx is the context of a body's statements under group commit: the
// caller's values (request id, for logs and tracing) with the batch's
// deadline and cancellation instead of the caller's.
type bodyCtx struct {
	context.Context // the caller's, without its cancellation
	batch           context.Context
}

func (c bodyCtx) Deadline() (time.Time, bool) { return c.batch.Deadline() }
func (c bodyCtx) Done() <-chan struct{}       { return c.batch.Done() }
func (c bodyCtx) Err() error                  { return c.batch.Err() }

// stmtCtx is the context for a statement of a transaction body called with
// ctx: under group commit, one the caller cannot cancel (see bodyCtx).
func (db *DB) stmtCtx(ctx context.Context) context.Context {
	if db.batch == nil || db.batch.cur == nil {
		return ctx
	}
	return bodyCtx{Context: context.WithoutCancel(ctx), batch: db.batch.cur}
}

var errClosed = fmt.Errorf("sqlstore: store closed: %w", store.ErrUnavailable)

func newBatcher(db *DB) *batcher {
	return &batcher{db: db, queue: make(chan *txReq, 4*maxBatch), stop: make(chan struct{})}
}

// do runs fn in the next batch and returns its outcome once the batch has
// committed (or failed).
func (b *batcher) do(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.once.Do(func() {
		b.wg.Add(1)
		go b.run()
	})
	req := &txReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	select {
	case b.queue <- req:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	// Queued: wait for the outcome even if ctx ends meanwhile, since the
	// body may be running and its writes may commit.
	return <-req.done
}

// shutdown stops the writer after its current batch; queued requests fail
// with errClosed.
func (b *batcher) shutdown() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
	for {
		select {
		case r := <-b.queue:
			r.done <- errClosed
		default:
			return
		}
	}
}

func (b *batcher) run() {
	defer b.wg.Done()
	var pending []*txReq // bodies of an abandoned batch, run first next time
	for {
		reqs := pending
		pending = nil
		if len(reqs) == 0 {
			select {
			case r := <-b.queue:
				reqs = append(reqs, r)
			case <-b.stop:
				return
			}
		}
	fill:
		for len(reqs) < maxBatch {
			select {
			case r := <-b.queue:
				reqs = append(reqs, r)
			default:
				break fill
			}
		}
		pending = b.db.runBatch(reqs)
		select {
		case <-b.stop:
			for _, r := range pending {
				r.done <- errClosed
			}
			return
		default:
		}
	}
}

// runBatch runs reqs in one transaction and delivers each outcome; it
// returns the requests that did not run because the transaction was lost
// under an earlier body (to be run in the next batch).
func (db *DB) runBatch(reqs []*txReq) (rerun []*txReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	db.batch.cur = ctx
	defer func() { db.batch.cur = nil }()
	db.prepareWanted(ctx)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range reqs {
			r.done <- err
		}
		return nil
	}
	results := make([]error, len(reqs))
	wrote := make([]bool, len(reqs)) // ran and kept its writes: fails with the commit
	broken := -1                     // index of the body under which the transaction was lost
	var lost error
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT b"); err != nil {
			broken, lost = i, err
			break
		}
		ferr := r.fn(tx)
		var ct commitThen
		if ferr != nil && !errors.As(ferr, &ct) {
			results[i] = ferr
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO b"); err != nil {
				broken, lost = i, errors.Join(ferr, err)
				break
			}
			if _, err := tx.ExecContext(ctx, "RELEASE b"); err != nil {
				broken, lost = i, errors.Join(ferr, err)
				break
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "RELEASE b"); err != nil {
			broken, lost = i, err
			break
		}
		wrote[i] = true
		if ferr != nil {
			results[i] = ct.err
		}
	}
	if broken >= 0 {
		// The transaction is gone (or unusable): nothing of this batch is
		// written. Bodies that ran are told; the rest run again.
		_ = tx.Rollback()
		for i := 0; i <= broken; i++ {
			if wrote[i] || i == broken {
				results[i] = lost
			}
			reqs[i].done <- results[i]
		}
		return reqs[broken+1:]
	}
	if err := tx.Commit(); err != nil {
		// A COMMIT that fails may leave SQLite's transaction open on the
		// connection (a deferred constraint, SQLITE_BUSY); end it so the
		// next batch can begin. Nothing of this batch is written.
		_, _ = db.w.ExecContext(ctx, "ROLLBACK")
		for i := range reqs {
			if wrote[i] {
				results[i] = err
			}
		}
	}
	for i, r := range reqs {
		r.done <- results[i]
	}
	return nil
}
