package server_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
)

// oldEmailKey is the key before issue 11: NFKC + case folding only.
func oldEmailKey(s string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
}

// TestEmailRekeyAtStart: a store written with the old keys (NFKC + case
// fold) starts with every key recomputed to the look-alike form; two
// existing accounts that now compare equal do not stop the server: the later
// keeps its old key and the collision is an event. Logging in with a
// look-alike of a rekeyed address reaches that account.
func TestEmailRekeyAtStart(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := newDB(t, backend)
			st, _, err := server.OpenStore(ctx, config.Global{DB: db})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			// Rows as the old code wrote them: registered, then given the old
			// key (and, for the twin, the look-alike address the old rule let
			// through).
			tick := t0
			svc := account.NewService(st, account.Config{Now: func() time.Time { tick = tick.Add(time.Second); return tick }})
			ids := map[string]string{}
			for _, c := range []struct{ reg, email string }{
				{"alice@example.com", "alice@example.com"}, {"twin@example.com", "alİce@example.com"}, {"Bob@Example.com", "Bob@Example.com"},
			} {
				u, err := svc.Register(ctx, account.RegisterInput{Email: c.reg, Password: "una contraseña larga", FirstName: "A", LastName: "B"})
				if err != nil {
					t.Fatal(err)
				}
				key := oldEmailKey(c.email)
				if _, err := st.UpdateUser(ctx, u.ID, store.UserUpdate{Email: &c.email, EmailKey: &key}, t0); err != nil {
					t.Fatalf("old row %s: %v", c.email, err)
				}
				ids[c.email] = u.ID
			}
			st.Close()

			srv := newServer(t, backend, fuzzIssuer, func(c *server.Config) { c.Global.DB = db })
			bob, err := srv.Store.GetUser(ctx, ids["Bob@Example.com"])
			if err != nil || bob.EmailKey != account.EmailKey("Bob@Example.com") || !bob.UpdatedAt.Equal(t0) || bob.Email != "Bob@Example.com" {
				t.Fatalf("bob after start: %+v %v", bob, err)
			}
			alice, err := srv.Store.GetUser(ctx, ids["alice@example.com"])
			if err != nil || alice.EmailKey != account.EmailKey("alice@example.com") {
				t.Fatalf("alice after start: %+v %v", alice, err)
			}
			twin, err := srv.Store.GetUser(ctx, ids["alİce@example.com"])
			if err != nil || twin.EmailKey != oldEmailKey("alİce@example.com") || twin.Email != "alİce@example.com" {
				t.Fatalf("the look-alike after start: %+v %v", twin, err)
			}
			evs, _, err := srv.Store.ListEvents(ctx, store.ListOptions{Page: store.Page{Size: 10},
				Filters: []store.Filter{{Field: "type", Op: "eq", Value: "email.collision"}}})
			if err != nil || len(evs) != 1 || evs[0].UserID != ids["alİce@example.com"] {
				t.Fatalf("collision events: %v %v", evs, err)
			}
			// A look-alike of Bob's address finds Bob; a new look-alike of
			// Alice's cannot register.
			if u, err := srv.Accounts.Authenticate(ctx, "bоb@example.com", "una contraseña larga", "192.0.2.1"); err != nil || u.ID != ids["Bob@Example.com"] {
				t.Fatalf("login with a Cyrillic о: %v %v", u, err)
			}
			if _, err := srv.Accounts.Register(ctx, account.RegisterInput{Email: "аlice@example.com", Password: "otra contraseña larga", FirstName: "A", LastName: "B"}); err == nil {
				t.Fatal("a Cyrillic look-alike registered")
			}
			// A second start reads only the version mark.
			again := newServer(t, backend, fuzzIssuer, func(c *server.Config) { c.Global.DB = db })
			if evs, _, err := again.Store.ListEvents(ctx, store.ListOptions{Page: store.Page{Size: 10},
				Filters: []store.Filter{{Field: "type", Op: "eq", Value: "email.collision"}}}); err != nil || len(evs) != 1 {
				t.Fatalf("second start: %d collision events, %v", len(evs), err)
			}
		})
	}
}
