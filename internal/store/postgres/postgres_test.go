package postgres_test

import (
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
