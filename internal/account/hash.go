package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// argonParams are the argon2id parameters of one hash.
type argonParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// defaultParams: OWASP Password Storage Cheat Sheet, argon2id option 2
// (m=19 MiB, t=2, p=1); ~21 ms on the servers measured.
var defaultParams = argonParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

var b64 = base64.RawStdEncoding

// errBadHash: a stored hash that is not an argon2id PHC string we can read.
var errBadHash = errors.New("account: unreadable password hash")

// hashLimiter bounds the argon2 work in flight: at most cap(slots) hashes at
// once and at most maxQueue callers waiting for a slot; the next caller is
// refused with ErrBusy instead of queueing without bound.
type hashLimiter struct {
	slots    chan struct{}
	waiting  atomic.Int64
	maxQueue int64
	runs     atomic.Int64 // argon2 computations done (for tests and metrics)
}

func (l *hashLimiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	if l.waiting.Add(1) > l.maxQueue {
		l.waiting.Add(-1)
		return ErrBusy
	}
	defer l.waiting.Add(-1)
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *hashLimiter) release() { <-l.slots }

// prepare is the byte string that is hashed: the password in NFKC (NIST SP
// 800-63B §5.1.1.2 normalisation), every byte of it.
func prepare(pw string) []byte { return []byte(norm.NFKC.String(pw)) }

// hashPassword returns the PHC string of pw with p:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func (s *Service) hashPassword(ctx context.Context, pw string, p argonParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := s.hashes.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey(prepare(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	s.hashes.release()
	s.hashes.runs.Add(1)
	return phcString(p, salt, key), nil
}

func phcString(p argonParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC reads an argon2id PHC string.
func parsePHC(phc string) (p argonParams, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil || n == 0 {
			return p, nil, nil, errBadHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, errBadHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, errBadHash
		}
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, errBadHash
	}
	// Refuse parameters that would let a tampered row exhaust the server.
	if p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 || len(key) < 16 || len(key) > 64 || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}

// verifyPassword reports whether pw matches the PHC string, and whether the
// hash should be redone with the current parameters.
func (s *Service) verifyPassword(ctx context.Context, pw, phc string) (ok, rehash bool, err error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		// Still spend the usual work, so a broken row does not stand out.
		p, salt, key = s.params, make([]byte, s.params.SaltLen), make([]byte, s.params.KeyLen)
	}
	if aerr := s.hashes.acquire(ctx); aerr != nil {
		return false, false, aerr
	}
	got := argon2.IDKey(prepare(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	s.hashes.release()
	s.hashes.runs.Add(1)
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, ok && p != s.params, nil
}
