package token

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MinSecretLen is the shortest server secret accepted (bytes of the string).
// The secret is used as HKDF input keying material without stretching, so it
// must itself carry enough entropy; a generated secret is 43 characters.
const MinSecretLen = 16

// hkdfInfo binds the derived key to its single purpose.
const hkdfInfo = "multinexo signing keys v1"

// ErrSecretMismatch is returned (wrapped) when a stored signing key cannot be
// decrypted with the configured secret.
var ErrSecretMismatch = errors.New("signing keys cannot be decrypted: MULTINEXO_SECRET differs from the one that created them")

// LoadOrCreateSecretFile returns the server secret kept in path, creating the
// file if it does not exist: 32 bytes from crypto/rand, base64url without
// padding, mode 0600. The file is created with O_EXCL, so when two processes
// start at once exactly one writes it and both return the same secret
// (created reports whether this call wrote it). Surrounding whitespace in an
// existing file (an operator's trailing newline) is ignored.
func LoadOrCreateSecretFile(path string) (secret string, created bool, err error) {
	s, err := readSecretFile(path)
	if err == nil {
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", false, fmt.Errorf("secret file: %w", err)
		}
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	s = base64.RawURLEncoding.EncodeToString(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race; it may still be writing.
		s, err := readSecretFileWait(path)
		return s, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("secret file: %w", err)
	}
	_, werr := f.Write([]byte(s + "\n"))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path) // do not leave a truncated secret behind
		return "", false, fmt.Errorf("secret file %s: %w", path, err)
	}
	return s, true, nil
}

func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := string(bytes.TrimSpace(b))
	if len(s) < MinSecretLen {
		return "", fmt.Errorf("secret file %s: %w", path, errShortSecret)
	}
	return s, nil
}

var errShortSecret = fmt.Errorf("secret shorter than %d characters", MinSecretLen)

// readSecretFileWait reads a file another process has just created with
// O_EXCL, giving it up to a second to finish writing.
func readSecretFileWait(path string) (string, error) {
	var err error
	for range 50 {
		var s string
		s, err = readSecretFile(path)
		if !errors.Is(err, errShortSecret) {
			return s, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", err
}

// newKeyAEAD derives the AES-256-GCM key that encrypts signing keys at rest
// from the server secret with HKDF-SHA256.
func newKeyAEAD(secret string) (cipher.AEAD, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token: server secret (MULTINEXO_SECRET) must be at least %d characters", MinSecretLen)
	}
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts plaintext as nonce||ciphertext, bound to ad (the key id).
func seal(aead cipher.AEAD, plaintext []byte, ad string) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("token: crypto/rand failed: " + err.Error())
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(ad))
}

// open reverses seal. Any failure means the secret differs (or the row was
// tampered with): ErrSecretMismatch.
func open(aead cipher.AEAD, sealed []byte, ad string) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrSecretMismatch
	}
	pt, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, ErrSecretMismatch
	}
	return pt, nil
}
