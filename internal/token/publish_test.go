package token

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store/postgres"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/testenv"
)

// Key rotation is "publish before use" across instances: whichever
// instance signs a token and whichever instance a relying party fetched its
// JWKS from (at most JWKSMaxAge before), the token's kid is in that JWKS.
// Two instances share one database, started 10 s apart (their reloads are
// not in step); `multinexo keys rotate` (a third manager) rotates; every 5 s
// of the injected clock both instances serve their JWKS and sign an access
// and an ID token, as under traffic.
func TestRotatePublishBeforeUsePostgres(t *testing.T) {
	u := testenv.PostgresSchema(t)
	open := func() KeyStore {
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	first := open().(*sqlstore.DB)
	if err := first.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	publishBeforeUse(t, []KeyStore{first, open(), open()})
}

func TestRotatePublishBeforeUseSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	var dbs []KeyStore
	for range 3 {
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
	publishBeforeUse(t, dbs)
}

// publishBeforeUse runs the scenario with instances A and B on dbs[0] and
// dbs[1], and the command line on dbs[2] (one database).
func publishBeforeUse(t *testing.T, dbs []KeyStore) {
	ctx := t.Context()
	clk := newClock()
	const refresh = 30 * time.Second
	newManager := func(ks KeyStore) *KeyManager {
		m, err := NewKeyManager(ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: clk.Now, Refresh: refresh})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := newManager(dbs[0])
	clk.Advance(10 * time.Second)
	b := newManager(dbs[1])
	instances := []*KeyManager{a, b}
	f := &fixture{clk: clk}

	const step = 5 * time.Second
	start := clk.Now()
	rotateAt := start.Add(20 * time.Second)
	var (
		times  []time.Time
		served [][][]string // [step][instance]: kids in the JWKS
		signed [][][]string // [step][instance]: kids of the tokens signed
		first  = map[string]bool{}
	)
	for i := 0; !clk.Now().After(start.Add(4 * time.Minute)); i++ {
		now := clk.Now()
		if !now.Before(rotateAt) && now.Add(-step).Before(rotateAt) {
			if err := newManager(dbs[2]).Rotate(ctx); err != nil { // multinexo keys rotate
				t.Fatal(err)
			}
		}
		times = append(times, now)
		served = append(served, nil)
		signed = append(signed, nil)
		for x, m := range instances {
			served[i] = append(served[i], jwksKids(t, m))
			f.m = m
			at, id := f.mintAccess(t), f.mintIDAlg(t, "", "", "")
			kids := []string{headerOf(t, at)["kid"].(string), headerOf(t, id)["kid"].(string)}
			signed[i] = append(signed[i], kids)
			if i == 0 {
				for _, k := range kids {
					first[k] = true
				}
			}
			for y, v := range instances { // and every instance verifies it
				if _, err := v.VerifyAccess(ctx, at, testIss, nil); err != nil {
					t.Errorf("%s: instance %d rejects instance %d's access token: %v", now.Sub(start), y, x, err)
				}
				if _, err := v.VerifyID(ctx, id, testIss); err != nil {
					t.Errorf("%s: instance %d rejects instance %d's ID token: %v", now.Sub(start), y, x, err)
				}
			}
		}
		clk.Advance(step)
	}

	// A relying party holding a JWKS fetched from any instance at any time
	// within JWKSMaxAge of a token's signing knows the token's kid.
	for i := range times {
		for x := range instances {
			for _, kid := range signed[i][x] {
				for j := range times {
					if times[j].After(times[i]) || times[i].Sub(times[j]) > JWKSMaxAge {
						continue
					}
					for y := range instances {
						if !slices.Contains(served[j][y], kid) {
							t.Errorf("at %s instance %d signs with %s, which instance %d's JWKS did not have at %s (cached until then)",
								times[i].Sub(start), x, kid, y, times[j].Sub(start))
						}
					}
				}
			}
		}
	}
	// The rotation happened, and the old keys are still published.
	last := len(times) - 1
	for x := range instances {
		for _, kid := range signed[last][x] {
			if first[kid] {
				t.Errorf("instance %d still signs with %s, a key from before the rotation", x, kid)
			}
		}
		for kid := range first {
			if !slices.Contains(served[last][x], kid) {
				t.Errorf("instance %d no longer publishes the retired key %s", x, kid)
			}
		}
	}
}
