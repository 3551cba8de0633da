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
// padding, mode 0600. Surrounding whitespace in an existing file (an
// operator's trailing newline) is ignored.
//
// The secret is written and synced to a temporary file in the same directory
// first, and then hard-linked to path: link(2) is atomic and fails if path
// exists, so path never holds a partial secret (a process starting at the
// same moment reads either nothing or the whole file), and when several
// processes start at once exactly one link succeeds and all return the same
// secret (created reports whether this call made it). A rename would not do:
// it replaces an existing file, so two creators would each believe their own
// secret was kept.
func LoadOrCreateSecretFile(path string) (secret string, created bool, err error) {
	s, err := readSecretFile(path)
	if err == nil {
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("secret file: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	s = base64.RawURLEncoding.EncodeToString(b[:])
	tmp, err := writeTempSecret(dir, s)
	if err != nil {
		return "", false, fmt.Errorf("secret file %s: %w", path, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process won the race; its file is already complete.
			s, err := readSecretFile(path)
			return s, false, err
		}
		return "", false, fmt.Errorf("secret file: %w", err)
	}
	syncDir(dir)
	return s, true, nil
}

// writeTempSecret writes s to a new mode-0600 file in dir, synced, and
// returns its name.
func writeTempSecret(dir, s string) (string, error) {
	f, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(s + "\n")
	merr := f.Chmod(0o600)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, merr, serr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a new directory entry durable where the platform allows it
// (best effort: the secret is already complete in whichever file a reader
// finds).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := string(bytes.TrimSpace(b))
	if len(s) < MinSecretLen {
		return "", fmt.Errorf("secret file %s: secret shorter than %d characters", path, MinSecretLen)
	}
	return s, nil
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
