// Package storebench holds the store benchmarks both backends run: the
// write and read paths of the token endpoint's hot requests.
package storebench

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
)

func setup(b *testing.B, db *sqlstore.DB) time.Time {
	b.Helper()
	ctx := b.Context()
	now := time.Now()
	if err := db.CreateUser(ctx, &store.User{ID: "u1", Email: "u1@example.com", EmailKey: "u1@example.com", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := db.CreateClient(ctx, &store.Client{ID: "c1", Name: "bench", Type: store.ClientConfidential, SecretHash: store.HashToken("s"), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	return now
}

// RotateRefreshToken measures refresh rotation (the refresh grant's write
// transaction), one chain per goroutine, with 32 goroutines per CPU — a
// server under load has many requests in flight, which is what SQLite's
// group commit and PostgreSQL's commit grouping work with.
func RotateRefreshToken(b *testing.B, db *sqlstore.DB) {
	ctx := b.Context()
	now := setup(b, db)
	var chains atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := strconv.FormatInt(chains.Add(1), 10)
		cur := "rt-" + id + "-0"
		if err := db.IssueGrant(ctx, &store.Grant{ID: "g" + id, UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword,
			Scopes: []string{"openid"}, CreatedAt: now}, &store.RefreshToken{Hash: store.HashToken(cur), CreatedAt: now}); err != nil {
			b.Error(err)
			return
		}
		for i := 1; pb.Next(); i++ {
			next := "rt-" + id + "-" + strconv.Itoa(i)
			if _, err := db.RotateRefreshToken(ctx, store.Rotation{OldHash: store.HashToken(cur),
				New: store.RefreshToken{Hash: store.HashToken(next), CreatedAt: now}, Now: now}); err != nil {
				b.Error(err)
				return
			}
			cur = next
		}
	})
}

// HotReads measures the point reads of a refresh request: the token, its
// grant (joined with the client) and the user.
func HotReads(b *testing.B, db *sqlstore.DB) {
	ctx := b.Context()
	now := setup(b, db)
	if err := db.IssueGrant(ctx, &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword,
		CreatedAt: now}, &store.RefreshToken{Hash: store.HashToken("rt"), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	h := store.HashToken("rt")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := db.GetRefreshToken(ctx, h)
			if err != nil {
				b.Fatal(err)
			}
			g, err := db.GetGrant(ctx, t.GrantID)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := db.GetUser(ctx, g.UserID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// RevocationEpoch measures the epoch read that validates the caches.
func RevocationEpoch(b *testing.B, db *sqlstore.DB) {
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.RevocationEpoch(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
