package account

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// tracingStore records the store calls of the login path.
type tracingStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (s *tracingStore) add(c string) { s.mu.Lock(); s.calls = append(s.calls, c); s.mu.Unlock() }

func (s *tracingStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *tracingStore) GetUserByEmailKey(ctx context.Context, k string) (*store.User, error) {
	s.add("GetUserByEmailKey")
	return s.Store.GetUserByEmailKey(ctx, k)
}

func (s *tracingStore) Count(ctx context.Context, k string, w time.Time) (int, error) {
	s.add("Count")
	return s.Store.Count(ctx, k, w)
}

func (s *tracingStore) Hit(ctx context.Context, k string, w, e time.Time) (int, error) {
	s.add("Hit")
	return s.Store.Hit(ctx, k, w, e)
}

func (s *tracingStore) ResetCounter(ctx context.Context, k string) error {
	s.add("ResetCounter")
	return s.Store.ResetCounter(ctx, k)
}

func (s *tracingStore) RecordEvent(ctx context.Context, e *store.Event) error {
	s.add("RecordEvent")
	return s.Store.RecordEvent(ctx, e)
}

func (s *tracingStore) UpdateUser(ctx context.Context, id string, u store.UserUpdate, now time.Time) (*store.User, error) {
	s.add("UpdateUser")
	return s.Store.UpdateUser(ctx, id, u, now)
}

// TestLoginPathsAlike guards the timing oracle of issue 11 without a clock:
// a login for an unknown address and a wrong password for a known account
// make the same store calls in the same order and the same number of
// argon2 hashes, so neither the answer nor the work tells them apart. The
// benchmark BenchmarkPasswordTimingUnderLoad (internal/server) measures the
// wall-clock result under load on PostgreSQL.
func TestLoginPathsAlike(t *testing.T) {
	st := &tracingStore{Store: newStore(t)}
	c := &clock{now: time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)}
	s := NewService(st, Config{Now: c.Now})
	ctx := t.Context()
	if _, err := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto", FirstName: "Ana", LastName: "P"}); err != nil {
		t.Fatal(err)
	}
	s.dummy() // made once at the first unknown login; not part of the path
	login := func(email string) ([]string, int64) {
		st.take()
		before := s.hashes.runs.Load()
		if _, err := s.Authenticate(ctx, email, "contraseña equivocada", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%s: %v", email, err)
		}
		return st.take(), s.hashes.runs.Load() - before
	}
	known, kh := login("ana@example.com")
	unknown, uh := login("nadie@example.com")
	if !slices.Equal(known, unknown) || kh != uh || kh != 1 {
		t.Fatalf("known: %v, %d hashes\nunknown: %v, %d hashes", known, kh, unknown, uh)
	}
}
