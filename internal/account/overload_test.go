package account

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/multinexo/auth/internal/store"
)

// TestLockedFlood: once an address is locked, further attempts are refused
// without hashing and without writing anything (no counter, no event per
// attempt), with the window's Retry-After.
func TestLockedFlood(t *testing.T) {
	s, st, _ := newService(t, Config{IPLockAfter: 3, MaxDelay: 1}) // 1ns: no real wait in tests
	ctx := t.Context()
	for i := range 3 {
		if _, err := s.Authenticate(ctx, "x@example.com", "equivocada", "203.0.113.9"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	runs := s.hashes.runs.Load()
	events := func() int {
		_, n, err := st.ListEvents(ctx, store.ListOptions{Page: store.Page{Number: 1, Size: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var te *ThrottledError
	if _, err := s.Authenticate(ctx, "y@example.com", "equivocada", "203.0.113.9"); !errors.As(err, &te) {
		t.Fatalf("first refused attempt: %v", err)
	}
	before := events()
	for i := range 50 {
		_, err := s.Authenticate(ctx, "z@example.com", "equivocada", "203.0.113.9")
		if !errors.As(err, &te) || te.RetryAfter <= 0 {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if after := events(); after != before {
		t.Errorf("events %d → %d: refused attempts wrote to the store", before, after)
	}
	if s.hashes.runs.Load() != runs {
		t.Error("a refused attempt ran argon2")
	}
}

// TestLockedWaitIsContextAware: the wait before a refusal ends with the
// request.
func TestLockedWaitIsContextAware(t *testing.T) {
	s, _, _ := newService(t, Config{IPLockAfter: 1, MaxDelay: 1 << 62})
	if _, err := s.Authenticate(t.Context(), "x@example.com", "equivocada", "203.0.113.9"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatal(err)
	}
	var te *ThrottledError
	if _, err := s.Authenticate(t.Context(), "x@example.com", "equivocada", "203.0.113.9"); !errors.As(err, &te) {
		t.Fatal(err) // found locked in the store: refused at once
	}
	// MaxDelay is practically forever: returning at all shows the wait
	// ended with the request.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Authenticate(ctx, "x@example.com", "equivocada", "203.0.113.9"); !errors.As(err, &te) {
		t.Fatalf("cancelled request: %v", err)
	}
}

// TestDefaultHashConcurrency: at most half the CPUs hash at once.
func TestDefaultHashConcurrency(t *testing.T) {
	s, _, _ := newService(t, Config{})
	if got, want := cap(s.hashes.slots), max(1, runtime.GOMAXPROCS(0)/2); got != want {
		t.Errorf("%d concurrent hashes, want %d", got, want)
	}
}
