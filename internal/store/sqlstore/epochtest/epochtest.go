// Package epochtest checks a backend's revocation epoch
// (sqlstore.DB.RevocationEpoch): every change that can end a token or a
// client authentication moves it, and the hot paths (a refresh rotation, a
// grant touched, a profile edit) do not. Both backends' tests run it.
package epochtest

import (
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
)

// Run checks db, a migrated empty store.
func Run(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	epoch := func() int64 {
		t.Helper()
		n, err := db.RevocationEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	moves := func(what string, f func()) {
		t.Helper()
		before := epoch()
		f()
		if after := epoch(); after <= before {
			t.Errorf("%s: epoch %d → %d, want it to move", what, before, after)
		}
	}
	stays := func(what string, f func()) {
		t.Helper()
		before := epoch()
		f()
		if after := epoch(); after != before {
			t.Errorf("%s: epoch %d → %d, want it unchanged", what, before, after)
		}
	}
	user := func(id string) {
		must(db.CreateUser(ctx, &store.User{ID: id, Email: id + "@example.com", EmailKey: id + "@example.com", CreatedAt: now}))
	}
	grant := func(id, userID, rt string) {
		g := &store.Grant{ID: id, UserID: userID, ClientID: "c1", GrantType: store.GrantPassword, Scopes: []string{"openid"}, CreatedAt: now}
		var r *store.RefreshToken
		if rt != "" {
			r = &store.RefreshToken{Hash: store.HashToken(rt), CreatedAt: now}
		}
		must(db.IssueGrant(ctx, g, r))
	}

	stays("creating users, clients and grants", func() {
		user("u1")
		user("u2")
		must(db.CreateClient(ctx, &store.Client{ID: "c1", Name: "one", Type: store.ClientConfidential, SecretHash: store.HashToken("s"), CreatedAt: now}))
		must(db.CreateClient(ctx, &store.Client{ID: "c2", Name: "two", Type: store.ClientPublic, CreatedAt: now}))
		grant("g1", "u1", "rt1")
		grant("g2", "u1", "")
		grant("g3", "u2", "")
		grant("g4", "u2", "rt4")
	})
	stays("a refresh rotation", func() {
		_, err := db.RotateRefreshToken(ctx, store.Rotation{OldHash: store.HashToken("rt1"),
			New: store.RefreshToken{Hash: store.HashToken("rt1b"), CreatedAt: now}, Now: now})
		must(err)
	})
	stays("touching a grant", func() { must(db.TouchGrant(ctx, "g1", now)) })
	stays("editing a profile", func() {
		_, err := db.UpdateUser(ctx, "u1", store.UserUpdate{FirstName: ptr("Ana")}, now)
		must(err)
	})
	moves("RevokeGrant", func() { must(db.RevokeGrant(ctx, "g2", now)) })
	stays("RevokeGrant of a revoked grant", func() { must(db.RevokeGrant(ctx, "g2", now.Add(time.Second))) })
	moves("refresh-token reuse", func() {
		_, err := db.RotateRefreshToken(ctx, store.Rotation{OldHash: store.HashToken("rt1"),
			New: store.RefreshToken{Hash: store.HashToken("rt1c"), CreatedAt: now}, Now: now})
		if err == nil {
			t.Fatal("reuse accepted")
		}
	})
	moves("DisableUser", func() { must(db.DisableUser(ctx, "u2", now)) })
	moves("UpdateUser enabling", func() {
		_, err := db.UpdateUser(ctx, "u2", store.UserUpdate{Disabled: ptr(false)}, now)
		must(err)
	})
	moves("UpdateUser disabling", func() {
		_, err := db.UpdateUser(ctx, "u2", store.UserUpdate{Disabled: ptr(true)}, now)
		must(err)
	})
	grant("g5", "u1", "")
	moves("RevokeGrants", func() {
		_, err := db.RevokeGrants(ctx, "u1", "", now)
		must(err)
	})
	moves("rotating a client secret", func() {
		_, err := db.UpdateClient(ctx, "c1", store.ClientUpdate{SecretHash: store.HashToken("s2")}, now)
		must(err)
	})
	moves("disabling a client", func() {
		_, err := db.UpdateClient(ctx, "c1", store.ClientUpdate{Disabled: ptr(true)}, now)
		must(err)
	})
	moves("DeleteUser", func() { must(db.DeleteUser(ctx, "u1")) })
	moves("DeleteClient", func() { must(db.DeleteClient(ctx, "c2")) })
}

func ptr[T any](v T) *T { return &v }
