package oauth

import (
	"strings"
	"testing"
)

func TestNewUserCode(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		c := NewUserCode()
		if len(c) != UserCodeLen {
			t.Fatalf("length of %q", c)
		}
		for _, r := range c {
			if !strings.ContainsRune(UserCodeAlphabet, r) {
				t.Fatalf("%q has %q, outside the RFC 8628 §6.1 alphabet", c, r)
			}
			counts[r]++
		}
		if seen[c] {
			t.Fatalf("repeated user code %q", c)
		}
		seen[c] = true
	}
	// 16000 draws over 20 letters: each near 800; a biased draw would
	// show.
	for _, r := range UserCodeAlphabet {
		if counts[r] < 600 || counts[r] > 1000 {
			t.Errorf("letter %q drawn %d times of 16000", r, counts[r])
		}
	}
}

func TestNormalizeUserCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdfghjk", "BCDFGHJK", true},
		{" bcdf ghjk ", "BCDFGHJK", true},
		{"bcdf–ghjk", "BCDFGHJK", true},
		{"BC-DF-GH-JK", "BCDFGHJK", true},
		{"BCDF-GHJ", "", false},
		{"BCDF-GHJKL", "", false},
		{"BCDF-GHJA", "", false}, // vowel
		{"BCDF-GHJ1", "", false},
		{"BCDF-GHJÑ", "", false},
		{"", "", false},
		{strings.Repeat("-", 100) + "BCDFGHJK", "", false},
	}
	for _, tc := range tests {
		got, ok := NormalizeUserCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if FormatUserCode("BCDFGHJK") != "BCDF-GHJK" {
		t.Error("FormatUserCode")
	}
}
