package token

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestNewOpaque(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{PrefixRefresh, PrefixCode, PrefixClientSecret, PrefixSession, PrefixDevice} {
		for range 1000 {
			s := NewOpaque(prefix)
			if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+OpaqueLen {
				t.Fatalf("NewOpaque(%q) = %q", prefix, s)
			}
			if !HasOpaqueForm(s, prefix) {
				t.Fatalf("HasOpaqueForm(%q) = false", s)
			}
			if seen[s] {
				t.Fatalf("duplicate %q", s)
			}
			seen[s] = true
		}
	}
	for _, bad := range []string{"", PrefixRefresh, PrefixCode + strings.Repeat("A", OpaqueLen), PrefixRefresh + strings.Repeat("A", OpaqueLen-1), PrefixRefresh + strings.Repeat("+", OpaqueLen)} {
		if HasOpaqueForm(bad, PrefixRefresh) {
			t.Errorf("HasOpaqueForm(%q) = true", bad)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("NewID() = %q", id)
		}
		seen[id] = true
	}
}

func TestEqual(t *testing.T) {
	s := NewOpaque(PrefixClientSecret)
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{s, s, true},
		{s, strings.Clone(s), true},
		{"", "", true},
		{s, s[:len(s)-1], false},
		{s, s + "x", false},
		{s, NewOpaque(PrefixClientSecret), false},
		{"", s, false},
	} {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret")
	s, created, err := LoadOrCreateSecretFile(path)
	if err != nil || !created || len(s) != 43 {
		t.Fatalf("create: %q %v %v", s, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode %o, want 600", mode)
	}
	again, created, err := LoadOrCreateSecretFile(path)
	if err != nil || created || again != s {
		t.Fatalf("reuse: %q %v %v", again, created, err)
	}
	if _, err := NewKeyManager(&memKeys{}, KeyConfig{Secret: s, MaxTokenTTL: testTTL}); err != nil {
		t.Errorf("generated secret refused: %v", err)
	}

	// An operator's file with a trailing newline is read as the secret alone;
	// a too-short one is refused.
	op := filepath.Join(t.TempDir(), "op")
	os.WriteFile(op, []byte("  operator-chosen-secret-value\n"), 0o600)
	if s, _, err := LoadOrCreateSecretFile(op); err != nil || s != "operator-chosen-secret-value" {
		t.Errorf("operator file: %q %v", s, err)
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("abc"), 0o600)
	if _, _, err := LoadOrCreateSecretFile(short); err == nil {
		t.Error("short secret accepted")
	}
}

func TestSecretFileConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		secrets = map[string]bool{}
		creates int
	)
	for range 16 {
		wg.Go(func() {
			s, created, err := LoadOrCreateSecretFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			secrets[s] = true
			if created {
				creates++
			}
		})
	}
	wg.Wait()
	if len(secrets) != 1 || creates != 1 {
		t.Errorf("%d secrets, %d creators; want 1 and 1", len(secrets), creates)
	}
	// The losers' temporary files are gone.
	if ents, err := os.ReadDir(filepath.Dir(path)); err != nil || len(ents) != 1 {
		t.Errorf("directory holds %d entries (%v), want the secret alone", len(ents), err)
	}
}
