package account

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// hangUpStore is a real store that ends the caller's context just before a
// failure count or a counter reset: the client hanging up at that moment.
type hangUpStore struct {
	store.Store
	cancel context.CancelFunc
}

func (h *hangUpStore) Hit(ctx context.Context, key string, start, end time.Time) (int, error) {
	h.cancel()
	return h.Store.Hit(ctx, key, start, end)
}

func (h *hangUpStore) ResetCounter(ctx context.Context, key string) error {
	h.cancel()
	return h.Store.ResetCounter(ctx, key)
}

// A login whose client hangs up is still counted (a wrong password) or
// still clears the counter (a right one), and its security event is still
// recorded: an attacker must not dodge the throttle or the audit trail by
// closing the connection before the answer.
func TestLoginRecordedWhenClientGone(t *testing.T) {
	st := newStore(t)
	c := &clock{now: time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)}
	s := NewService(st, Config{Now: c.Now, SlowDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	if _, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: "caballo correcto"}); err != nil {
		t.Fatal(err)
	}
	hs := &hangUpStore{Store: st}
	s = NewService(hs, Config{Now: c.Now, SlowDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	acct := counterKey("acct", EmailKey("ana@example.com"))
	start, end := s.window(c.Now())
	events := func() []string {
		evs, _, err := st.ListEvents(t.Context(), store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		return types
	}

	ctx, cancel := context.WithCancel(t.Context())
	hs.cancel = cancel
	if _, err := s.Authenticate(ctx, "ana@example.com", "clave equivocada", "192.0.2.1"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if n, err := st.Count(t.Context(), acct, start); err != nil || n != 1 {
		t.Errorf("failures counted after the client left: %d, %v; want 1", n, err)
	}
	if ev := events(); !slices.Contains(ev, "login.failed") {
		t.Errorf("events %v: the failure was not recorded", ev)
	}

	if _, err := st.Hit(t.Context(), acct, start, end); err != nil { // a failure to clear, whatever happened above
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	hs.cancel = cancel
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Count(t.Context(), acct, start); err != nil || n != 0 {
		t.Errorf("failures after a login whose client left: %d, %v; want 0 (reset)", n, err)
	}
	if ev := events(); !slices.Contains(ev, "login.succeeded") {
		t.Errorf("events %v: the login was not recorded", ev)
	}
}
