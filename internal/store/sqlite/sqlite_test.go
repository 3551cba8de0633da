package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/store/sqlstore/sqlstoretest"
	"github.com/multinexo/auth/internal/store/sqlstore/storebench"
	"github.com/multinexo/auth/internal/store/storetest"
)

// newDB opens and migrates a fresh database file in the test's temp dir.
func newDB(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "auth?#%.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
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

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	for range 2 {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x?mode=memory"} {
		if db, err := sqlite.Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestConcurrentMigrate(t *testing.T) {
	db := func() *sqlstore.DB {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { errs[i] = db.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) { benchRotate(b, newDB(b)) }

func BenchmarkGetGrant(b *testing.B) { benchGetGrant(b, newDB(b)) }

// benchRotate rotates one refresh-token chain, one rotation per iteration.
func benchRotate(b *testing.B, s store.Store) {
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

// benchGetGrant reads one grant from parallel goroutines.
func benchGetGrant(b *testing.B, s store.Store) {
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

func seed(b *testing.B, s store.Store, now time.Time) {
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

// TestParallelReuseTwoInstances: two stores (two processes' worth of pools)
// on one file, one refresh token presented 24 times at once per round.
func TestParallelReuseTwoInstances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	var dbs []store.Store
	for range 2 {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
	}
	storetest.ParallelReuse(t, dbs...)
}

// TestParallelReuseOneInstance: the same on one store.
func TestParallelReuseOneInstance(t *testing.T) { storetest.ParallelReuse(t, newDB(t)) }

// TestCeremonyAcrossInstances: a WebAuthn ceremony begun through one
// handle is finished through another on the same file.
func TestCeremonyAcrossInstances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	var dbs []store.Store
	for range 2 {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
	}
	storetest.CeremonyAcrossInstances(t, dbs[0], dbs[1])
}
