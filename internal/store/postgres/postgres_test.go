package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/postgres"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/store/sqlstore/sqlstoretest"
	"github.com/multinexo/auth/internal/store/sqlstore/storebench"
	"github.com/multinexo/auth/internal/store/storetest"
	"github.com/multinexo/auth/internal/testenv"
)

// openSchema opens a store on a fresh schema (not migrated).
func openSchema(tb testing.TB) (*sqlstore.DB, string) {
	tb.Helper()
	u := testenv.PostgresSchema(tb)
	db, err := postgres.Open(tb.Context(), u)
	if err != nil {
		tb.Fatal(err)
	}
	// Registered after PostgresSchema's clean-ups, so it runs before the
	// schema is dropped.
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db, u
}

func newDB(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	db, _ := openSchema(tb)
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func newStore(t *testing.T) store.Store { return newDB(t) }

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestConcurrency(t *testing.T) { storetest.RunConcurrency(t, newStore) }

func TestRevocationEpoch(t *testing.T) { sqlstoretest.Epoch(t, newDB(t)) }

func TestRefreshRead(t *testing.T) { sqlstoretest.RefreshRead(t, newDB(t)) }

func BenchmarkRotateRefreshTokenParallel(b *testing.B) { storebench.RotateRefreshToken(b, newDB(b)) }
func BenchmarkHotReads(b *testing.B)                   { storebench.HotReads(b, newDB(b)) }
func BenchmarkRevocationEpoch(b *testing.B)            { storebench.RevocationEpoch(b, newDB(b)) }

// TestConcurrentMigrate starts several instances migrating one fresh schema
// at once, as a scaled-out deployment does; all must succeed.
func TestConcurrentMigrate(t *testing.T) {
	_, u := openSchema(t)
	const n = 6
	dbs := make([]*sqlstore.DB, n)
	for i := range dbs {
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	// The schema works.
	if _, err := dbs[0].CountUsers(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	if _, err := postgres.Open(t.Context(), "postgres://u:secret@[bad"); err == nil {
		t.Fatal("Open with a bad URL succeeded")
	} else if s := err.Error(); strings.Contains(s, "secret") {
		t.Fatalf("error leaks the password: %s", s)
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	s := newDB(b)
	ctx := b.Context()
	now := time.Now()
	seed(b, s, now)
	b.ResetTimer()
	for i := range b.N {
		_, err := s.RotateRefreshToken(ctx, store.Rotation{
			OldHash: store.HashToken(fmt.Sprint("rt", i)),
			New:     store.RefreshToken{Hash: store.HashToken(fmt.Sprint("rt", i+1)), CreatedAt: now},
			Now:     now,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetGrant(b *testing.B) {
	s := newDB(b)
	ctx := b.Context()
	seed(b, s, time.Now())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetGrant(ctx, "g1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// seed creates user u1, client c1 and grant g1 with refresh token rt0.
func seed(b testing.TB, s store.Store, now time.Time) {
	b.Helper()
	ctx := b.Context()
	if err := s.CreateUser(ctx, &store.User{ID: "u1", Email: "a@example.com", EmailKey: "a@example.com", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateClient(ctx, &store.Client{ID: "c1", Name: "App", Type: store.ClientPublic, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	g := &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantAuthorizationCode, Scopes: []string{"openid"}, CreatedAt: now}
	if err := s.IssueGrant(ctx, g, &store.RefreshToken{Hash: store.HashToken("rt0"), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
}

// TestParallelReuseTwoInstances: two store handles (two instances) on one
// schema, one refresh token presented 24 times at once per round (issue 12:
// opposite lock orders deadlocked here, rounds hung and the family stayed
// live when the clients gave up).
func TestParallelReuseTwoInstances(t *testing.T) {
	a, u := openSchema(t)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	storetest.ParallelReuse(t, a, b)
}

// TestParallelReuseOneInstance: the same on one handle.
func TestParallelReuseOneInstance(t *testing.T) { storetest.ParallelReuse(t, newDB(t)) }

// whileLocked runs op with a context that ends after 100 ms while another
// session holds the row lock lockSQL takes (well under lock_timeout), keeps
// the lock 200 ms more, releases it and returns op's outcome: a caller
// that gave up while its operation waited on a lock.
func whileLocked(t *testing.T, u, lockSQL string, op func(ctx context.Context) error) error {
	t.Helper()
	ctx := t.Context()
	other, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, lockSQL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	go func() { done <- op(cctx) }()
	<-cctx.Done()
	time.Sleep(200 * time.Millisecond) // the operation is still queued on the lock
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the detached operation never finished")
		return nil
	}
}

// TestReuseRevokesAfterClientGaveUp: a reused refresh token whose rotation
// waits on a lock past the client's deadline still revokes the family
// (issue 12: the revocation was rolled back with the cancelled request, so
// the successor stayed live).
func TestReuseRevokesAfterClientGaveUp(t *testing.T) {
	db, u := openSchema(t)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seed(t, db, now)
	rot := func(ctx context.Context, newSecret string) error {
		_, err := db.RotateRefreshToken(ctx, store.Rotation{OldHash: store.HashToken("rt0"),
			New: store.RefreshToken{Hash: store.HashToken(newSecret), CreatedAt: now}, Now: now})
		return err
	}
	if err := rot(t.Context(), "rt1"); err != nil {
		t.Fatal(err)
	}
	err := whileLocked(t, u, `SELECT id FROM grants WHERE id = 'g1' FOR NO KEY UPDATE`,
		func(ctx context.Context) error { return rot(ctx, "rt2") }) // the reuse, from a client that gives up
	if !errors.Is(err, store.ErrReused) {
		t.Errorf("reuse after the client gave up: %v, want ErrReused", err)
	}
	if g, err := db.GetGrant(t.Context(), "g1"); err != nil || g.RevokedAt.IsZero() {
		t.Fatalf("family not revoked (%v): the reuse was abandoned with its client", err)
	}
}

// TestCodeReplayRevokesAfterClientGaveUp: the same for a replayed
// authorization code (RFC 6749 §4.1.2: the server "SHOULD revoke (when
// possible) all tokens previously issued based on that authorization code").
func TestCodeReplayRevokesAfterClientGaveUp(t *testing.T) {
	db, u := openSchema(t)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Now()
	seed(t, db, now)
	code := store.HashToken("code")
	if err := db.CreateAuthCode(ctx, &store.AuthCode{Hash: code, ClientID: "c1", UserID: "u1", RedirectURI: "https://app.example/cb",
		Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	redeem := func(ctx context.Context, gid string) error {
		_, err := db.RedeemAuthCode(ctx, code, now, &store.Grant{ID: gid, GrantType: store.GrantAuthorizationCode, CreatedAt: now}, nil)
		return err
	}
	if err := redeem(ctx, "g-code"); err != nil {
		t.Fatal(err)
	}
	err := whileLocked(t, u, `SELECT hash FROM auth_codes FOR UPDATE`,
		func(ctx context.Context) error { return redeem(ctx, "g-replay") })
	if !errors.Is(err, store.ErrAlreadyUsed) {
		t.Errorf("replay after the client gave up: %v, want ErrAlreadyUsed", err)
	}
	if g, err := db.GetGrant(ctx, "g-code"); err != nil || g.RevokedAt.IsZero() {
		t.Fatalf("grant of the code not revoked (%v): the replay was abandoned with its client", err)
	}
}

// TestCeremonyAcrossInstances: a WebAuthn ceremony begun through one
// handle is finished through another on the same schema.
func TestCeremonyAcrossInstances(t *testing.T) {
	a, u := openSchema(t)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	storetest.CeremonyAcrossInstances(t, a, b)
}
