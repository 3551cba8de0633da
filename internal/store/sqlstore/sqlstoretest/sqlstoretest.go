// Package sqlstoretest checks what sqlstore.DB offers beyond store.Store,
// on both backends: the revocation epoch (every change that can end a token
// or a client authentication moves it, and the hot paths — a refresh
// rotation, a grant touched, a profile edit — do not) and the one-query
// read of a refresh token with its grant and user.
package sqlstoretest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
)

// Epoch checks the revocation epoch on db, a migrated empty store.
func Epoch(t *testing.T, db *sqlstore.DB) {
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

// RefreshRead checks GetRefreshTokenGrant on db, a migrated empty store.
func RefreshRead(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateUser(ctx, &store.User{ID: "u1", Email: "Ana@example.com", EmailKey: "ana@example.com", FirstName: "Ana",
		LastName: "Núñez", Activated: true, CreatedAt: now, UpdatedAt: now}))
	must(db.CreateClient(ctx, &store.Client{ID: "c1", Name: "Uno", Type: store.ClientConfidential, SecretHash: store.HashToken("s"), CreatedAt: now}))
	must(db.IssueGrant(ctx, &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword,
		Scopes: []string{"openid", "profile"}, AuthTime: now, CreatedAt: now, LastUsedAt: now},
		&store.RefreshToken{Hash: store.HashToken("rt1"), Scopes: []string{"openid"}, CreatedAt: now}))
	must(db.IssueGrant(ctx, &store.Grant{ID: "g2", ClientID: "c1", GrantType: store.GrantClientCredentials, CreatedAt: now},
		&store.RefreshToken{Hash: store.HashToken("rt2"), CreatedAt: now}))

	rt, g, u, err := db.GetRefreshTokenGrant(ctx, store.HashToken("rt1"))
	must(err)
	wantRT, _ := db.GetRefreshToken(ctx, store.HashToken("rt1"))
	wantG, _ := db.GetGrant(ctx, "g1")
	wantU, _ := db.GetUser(ctx, "u1")
	if !reflect.DeepEqual(rt, wantRT) || !reflect.DeepEqual(g, wantG) || !reflect.DeepEqual(u, wantU) {
		t.Errorf("GetRefreshTokenGrant:\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", rt, g, u, wantRT, wantG, wantU)
	}
	if _, g, u, err := db.GetRefreshTokenGrant(ctx, store.HashToken("rt2")); err != nil || g.ID != "g2" || u != nil {
		t.Errorf("grant without a user: %+v %+v %v", g, u, err)
	}
	if _, _, _, err := db.GetRefreshTokenGrant(ctx, store.HashToken("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
}
