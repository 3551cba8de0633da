package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts small secrets at rest (TOTP secrets, short-lived signed
// state) with AES-256-GCM under a key derived from the server secret
// (MULTINEXO_SECRET) by HKDF-SHA256, as signing keys are. Each purpose
// derives its own key, so a value sealed for one purpose never opens as
// another, and nothing sealed here opens as a signing key.
type Sealer struct{ aead cipher.AEAD }

// ErrUnsealable: a sealed value does not open with this server secret
// (another secret sealed it, or it was altered).
var ErrUnsealable = errors.New("token: sealed value cannot be opened with the configured secret")

// NewSealer derives purpose's key from the server secret. purpose names
// the use and its version ("multinexo totp secrets v1"); it must not be
// the signing keys' own.
func NewSealer(secret, purpose string) (*Sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token: server secret (MULTINEXO_SECRET) must be at least %d characters", MinSecretLen)
	}
	if purpose == "" || purpose == hkdfInfo {
		return nil, errors.New("token: a sealer needs a purpose of its own")
	}
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext as nonce||ciphertext, bound to ad (e.g. the user
// id the value belongs to, so it cannot be moved to another row).
func (s *Sealer) Seal(plaintext []byte, ad string) []byte {
	return seal(s.aead, plaintext, ad)
}

// Open reverses Seal; any failure is ErrUnsealable.
func (s *Sealer) Open(sealed []byte, ad string) ([]byte, error) {
	pt, err := open(s.aead, sealed, ad)
	if err != nil {
		return nil, ErrUnsealable
	}
	return pt, nil
}
