package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
)

// TestEpochReaderFresh: with maxAge 0, every value get returns was read
// after get was called, so a change committed before a request is always
// seen, however many requests share reads.
func TestEpochReaderFresh(t *testing.T) {
	var committed, reads atomic.Int64
	r := &epochReader{read: func(ctx context.Context) (int64, error) {
		reads.Add(1)
		v := committed.Load()
		time.Sleep(50 * time.Microsecond)
		return v, nil
	}}
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				before := committed.Add(1) // a change commits, then a request arrives
				ctx := t.Context()
				if before%2 == 0 {
					ctx = withArrival(ctx) // its look-ups may share a read made since
				}
				for range 2 {
					v, err := r.get(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if v < before {
						t.Errorf("got epoch %d, older than the change %d made before asking", v, before)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d gets served by %d reads", 32*200, reads.Load())
}

func (e *env) bearerWith(p *Provider, tok string) error {
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_, err := p.VerifyBearer(req)
	return err
}

// TestEpochReaderMaxAge: a read is reused for at most maxAge. It runs in a
// synctest bubble: time there is the bubble's, so "after maxAge" is exact
// and the test does not depend on how busy the machine is.
func TestEpochReaderMaxAge(t *testing.T) { synctest.Test(t, epochReaderMaxAge) }

func epochReaderMaxAge(t *testing.T) {
	var committed, reads atomic.Int64
	r := &epochReader{maxAge: 20 * time.Millisecond, read: func(ctx context.Context) (int64, error) {
		reads.Add(1)
		return committed.Load(), nil
	}}
	for range 50 {
		if _, err := r.get(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads.Load(); n >= 50 {
		t.Errorf("%d reads for 50 gets in a burst: none shared", n)
	}
	committed.Add(1)
	time.Sleep(19 * time.Millisecond) // within maxAge: the shared read may serve
	if v, err := r.get(t.Context()); err != nil || v != 0 {
		t.Errorf("within maxAge: epoch %d, %v; want the shared read", v, err)
	}
	time.Sleep(2 * time.Millisecond) // past maxAge: a new read
	if v, err := r.get(t.Context()); err != nil || v != 1 {
		t.Errorf("after maxAge: epoch %d, %v; want the change seen", v, err)
	}
}

// TestEpochReaderLocalChange: this process's own changes are seen at once,
// whatever maxAge.
func TestEpochReaderLocalChange(t *testing.T) {
	var committed, local atomic.Int64
	r := &epochReader{maxAge: time.Hour, local: local.Load, read: func(ctx context.Context) (int64, error) {
		return committed.Load(), nil
	}}
	for i := range int64(5) {
		if v, err := r.get(t.Context()); err != nil || v != i {
			t.Fatalf("epoch %d, %v; want %d", v, err, i)
		}
		committed.Add(1) // a local change commits,
		local.Add(1)     // then the store counts it
	}
}

// TestCachesSeeEveryChange: with the caches warm, changes made behind the
// provider's back — by the command line or another instance, straight in the
// store — take effect on the very next request, on every instance.
func TestCachesSeeEveryChange(t *testing.T) {
	// Both instances read the epoch strictly after each request arrives, so
	// a change is seen on the very next request whatever the wall clock
	// does; EpochMaxAge's sharing window is TestEpochReaderMaxAge's.
	e := newEnv(t, func(c *Config, _ *account.Config) { c.EpochMaxAge = -1 })
	// A second instance: its own store on the same database file, strict
	// epoch reads. Changes made through e.st are local to the first
	// instance (seen at once) and remote to the second.
	st2, err := sqlite.Open(e.ctx, e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	p2, err := New(Config{Issuer: e.issuer, Store: st2, Keys: e.keys, Now: e.clk.Now, EpochMaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.p.live.(*epochLiveness); !ok || e.p.clients == nil {
		t.Fatalf("caches not enabled on an epoch store: %T", e.p.live)
	}
	warm := func(tok string) {
		t.Helper()
		for _, p := range []*Provider{e.p, p2} {
			for range 2 {
				if err := e.bearerWith(p, tok); err != nil {
					t.Fatalf("fresh token refused: %v", err)
				}
			}
		}
	}
	dead := func(what, tok string) {
		t.Helper()
		for i, p := range []*Provider{e.p, p2} {
			if err := e.bearerWith(p, tok); err == nil {
				t.Errorf("%s: instance %d still accepts the token", what, i+1)
			}
		}
		if in := e.introspect(tok); in.body["active"] != false {
			t.Errorf("%s: introspection says %s", what, in.raw)
		}
	}

	// A grant revoked in the store (e.g. `users disable`, or another instance).
	a := e.passwordLogin(e.pw, "openid")
	warm(a.str("access_token"))
	c, err := e.keys.VerifyAccess(e.ctx, a.str("access_token"), e.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeGrant(e.ctx, c.GrantID, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	dead("grant revoked in the store", a.str("access_token"))

	// Revoked through the other instance's endpoint.
	b := e.passwordLogin(e.pw, "openid")
	warm(b.str("access_token"))
	mux2 := httpx.NewRoutes(httpx.RoutesConfig{})
	p2.Mount(mux2)
	form := url.Values{"token": {b.str("refresh_token")}}.Encode()
	req := httptest.NewRequest(http.MethodPost, PathRevoke, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic(e.pw.id, e.pw.secret))
	rec := httptest.NewRecorder()
	mux2.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("revoke at instance 2: %d %s", rec.Code, rec.Body)
	}
	dead("revoked at another instance", b.str("access_token"))

	// A client secret rotated in the store: the old secret stops at once.
	ccAuth := []string{"Authorization", basic(e.cc.id, e.cc.secret)}
	for range 2 {
		if r := e.form(PathToken, url.Values{"grant_type": {"client_credentials"}}, ccAuth...); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	if _, err := e.st.UpdateClient(e.ctx, e.cc.id, store.ClientUpdate{SecretHash: store.HashToken("new secret")}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, e.form(PathToken, url.Values{"grant_type": {"client_credentials"}}, ccAuth...), 401, "invalid_client")
	if r := e.form(PathToken, url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic(e.cc.id, "new secret")); r.status != 200 {
		t.Fatalf("new secret: %d %s", r.status, r.raw)
	}
	// A client disabled in the store.
	if _, err := e.st.UpdateClient(e.ctx, e.cc.id, store.ClientUpdate{Disabled: ptrTo(true)}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, e.form(PathToken, url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic(e.cc.id, "new secret")), 401, "invalid_client")

	// A user disabled by a plain update (no grant revoked by the caller).
	d := e.passwordLogin(e.pw, "openid")
	warm(d.str("access_token"))
	if _, err := e.st.UpdateUser(e.ctx, e.user.ID, store.UserUpdate{Disabled: ptrTo(true)}, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	dead("user disabled", d.str("access_token"))
}

// TestClientCredentialsGrantReuse: client_credentials tokens share one
// grant (no write per token); revoking one revokes that grant — every token
// it issued — and the next request gets a new, working grant.
func TestClientCredentialsGrantReuse(t *testing.T) {
	e := newEnv(t)
	auth := []string{"Authorization", basic(e.cc.id, e.cc.secret)}
	get := func() (string, string) {
		t.Helper()
		r := e.form(PathToken, url.Values{"grant_type": {"client_credentials"}}, auth...)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		c, err := e.keys.VerifyAccess(e.ctx, r.str("access_token"), e.issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.str("access_token"), c.GrantID
	}
	before := e.counts()
	t1, g1 := get()
	t2, g2 := get()
	if g1 != g2 || t1 == t2 {
		t.Fatalf("grants %s %s, tokens equal: %v", g1, g2, t1 == t2)
	}
	if got := e.counts(); got[0] != before[0]+1 {
		t.Errorf("grant rows %d → %d, want one", before[0], got[0])
	}
	if r := e.form(PathRevoke, url.Values{"token": {t1}}, auth...); r.status != 200 {
		t.Fatal(r.raw)
	}
	for _, tok := range []string{t1, t2} {
		if err := e.bearer(tok); err == nil {
			t.Error("token of the revoked client_credentials grant still works")
		}
	}
	t3, g3 := get()
	if g3 == g1 {
		t.Fatal("revoked grant reused")
	}
	if err := e.bearer(t3); err != nil {
		t.Errorf("new token: %v", err)
	}
	// A grant close to its end is not reused for a token that would outlive it.
	e.clk.Advance(ccGrantLifetime - time.Minute)
	_, g4 := get()
	if g4 == g3 {
		t.Error("grant reused for a token outliving it")
	}
}

func ptrTo[T any](v T) *T { return &v }
