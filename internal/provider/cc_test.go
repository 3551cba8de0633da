package provider

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/store"
)

// gateStore holds IssueGrant for one client until release is closed.
type gateStore struct {
	Store
	client  string
	entered chan struct{}
	release chan struct{}
	issued  atomic.Int32 // grants of client written
}

func (g *gateStore) IssueGrant(ctx context.Context, gr *store.Grant, rt *store.RefreshToken) error {
	if gr.ClientID == g.client {
		g.issued.Add(1)
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Store.IssueGrant(ctx, gr, rt)
}

// One client's first client_credentials request waiting on its grant's
// write does not hold up another client's; concurrent first requests of
// one client share one grant (a per-key single flight), and do not fail
// when the request that writes it hangs up.
func TestCCGrantPerClient(t *testing.T) {
	gate := &gateStore{entered: make(chan struct{}, 4), release: make(chan struct{})}
	e := newEnv(t, func(c *Config, _ *account.Config) { gate.Store = c.Store; c.Store = gate })
	gate.client = e.cc.id
	other := e.newClient(t, "other service", "confidential", []string{store.GrantClientCredentials})
	var once sync.Once
	open := func() { once.Do(func() { close(gate.release) }) }
	defer open()

	now, ttl := e.clk.Now(), 15*time.Minute
	type result struct {
		g   *store.Grant
		err error
	}
	first := make(chan result, 2)
	ctx1, hangUp := context.WithCancel(t.Context())
	go func() {
		g, err := e.p.ccGrant(ctx1, e.cc.id, []string{"voucher"}, nil, now, ttl)
		first <- result{g, err}
	}()
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first grant was never written")
	}
	go func() {
		g, err := e.p.ccGrant(t.Context(), e.cc.id, []string{"voucher"}, nil, now, ttl)
		first <- result{g, err}
	}()

	done := make(chan result, 1)
	go func() {
		g, err := e.p.ccGrant(t.Context(), other.id, nil, nil, now, ttl)
		done <- result{g, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.g.ClientID != other.id {
			t.Fatalf("other client: %+v, %v", r.g, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("another client's grant waited for the first client's write")
	}

	hangUp() // the writer's client leaves; the grant is still written and shared
	open()
	a, b := <-first, <-first
	if a.err != nil || b.err != nil || a.g.ID != b.g.ID {
		t.Fatalf("concurrent first requests: %+v %v / %+v %v; want one shared grant", a.g, a.err, b.g, b.err)
	}
	if n := gate.issued.Load(); n != 1 {
		t.Errorf("%d grants written for one client and scope, want 1", n)
	}
	if _, err := e.st.GetGrant(t.Context(), a.g.ID); err != nil {
		t.Errorf("shared grant not stored: %v", err)
	}
}
