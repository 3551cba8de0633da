package token

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealer(t *testing.T) {
	const secret = "a server secret long enough for hkdf"
	s, err := NewSealer(secret, "multinexo totp secrets v1")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("JBSWY3DPEHPK3PXP")
	sealed := s.Seal(msg, "user-1")
	if bytes.Contains(sealed, msg) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := s.Seal(msg, "user-1"); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal (nonce reused)")
	}
	got, err := s.Open(sealed, "user-1")
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Another row, another purpose, another secret, a flipped bit: none open.
	if _, err := s.Open(sealed, "user-2"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("other associated data: %v", err)
	}
	other, _ := NewSealer(secret, "another purpose v1")
	if _, err := other.Open(sealed, "user-1"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("other purpose: %v", err)
	}
	otherSecret, _ := NewSealer("another server secret, also long enough", "multinexo totp secrets v1")
	if _, err := otherSecret.Open(sealed, "user-1"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("other secret: %v", err)
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := s.Open(bad, "user-1"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("altered: %v", err)
	}
	if _, err := s.Open([]byte("short"), "user-1"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("short: %v", err)
	}
	// A sealer never shares the signing keys' key.
	if _, err := NewSealer(secret, hkdfInfo); err == nil {
		t.Error("NewSealer accepted the signing keys' purpose")
	}
	if _, err := NewSealer("short", "p"); err == nil {
		t.Error("NewSealer accepted a short secret")
	}
}
