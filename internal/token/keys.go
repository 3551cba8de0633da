package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/multinexo/auth/internal/store"
)

// Key uses, as stored in store.SigningKey.Use. Access tokens and ID tokens are
// signed with different keys, so a token of one kind can never be accepted as
// the other even if every other check were forgotten.
const (
	UseAccess = "access"
	UseID     = "id"
)

// Signature algorithms, as JOSE "alg" values.
const (
	ES256 = string(jose.ES256)
	RS256 = string(jose.RS256)
	EdDSA = string(jose.EdDSA)
)

// allowedAlgs is the only list ever passed to the JOSE parser: "none", HMAC
// and every algorithm we do not sign with are refused before any key is
// looked at.
var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

const (
	defaultRefresh = 30 * time.Second
	// missReloadInterval limits reloads caused by tokens naming an unknown
	// kid, which anyone can send.
	missReloadInterval = time.Second
	rsaBits            = 2048
	// reloadTimeout bounds a reload done on behalf of a request; the reload
	// serves every request, so it does not stop when that request's context
	// is cancelled.
	reloadTimeout = 10 * time.Second
)

// JWKSMaxAge is how long a relying party may cache the JWKS: the max-age of
// the Cache-Control header the JWKS endpoint sends. A new key is published
// for at least KeyConfig.Refresh plus this before any instance signs with
// it (see Rotate).
const JWKSMaxAge = 60 * time.Second

// maxClockSkew is the difference between instances' clocks the default
// PublishDelay allows for: each instance switches to the new keys by its own
// clock.
const maxClockSkew = 30 * time.Second

// KeyStore is the part of store.Store the key manager uses.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *store.SigningKey) error
	ListSigningKeys(ctx context.Context, now time.Time) ([]*store.SigningKey, error)
	RetireSigningKeys(ctx context.Context, use string, now time.Time, keep time.Duration) error
}

// KeyConfig configures a KeyManager.
type KeyConfig struct {
	// Secret is the server secret (MULTINEXO_SECRET), at least MinSecretLen
	// characters. The AES-256-GCM key that encrypts private keys at rest is
	// derived from it with HKDF-SHA256 (info "multinexo signing keys v1").
	Secret string
	// AccessAlg signs access tokens: ES256 (default), RS256 or EdDSA.
	AccessAlg string
	// IDAlg signs ID tokens whose IDClaims.Alg is empty: RS256 (default;
	// OIDC Core §15.1 requires RS256 support), ES256 or EdDSA.
	IDAlg string
	// ExtraIDAlgs lists further algorithms a caller may ask for in
	// IDClaims.Alg (a client's id_token_signed_response_alg). RS256 and ES256
	// are always offered; this adds EdDSA, in practice. See IDAlgorithms.
	ExtraIDAlgs []string
	// MaxTokenTTL is the longest lifetime of an access or ID token; minting a
	// longer-lived token is an error, since it could outlive its key's
	// publication. A retired key stays published for MaxTokenTTL+Refresh (see
	// Rotate). Required.
	MaxTokenTTL time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Refresh is how often keys are reloaded from the store (default 30s).
	// Keys are also reloaded when a token names an unknown kid (at most once
	// a second). Every instance, and `multinexo keys rotate`, must agree on
	// it (they all use the default).
	Refresh time.Duration
	// PublishDelay is how long a key made by Rotate is published before it
	// signs: default Refresh + JWKSMaxAge + 30 s for clock skew between
	// instances; never less than Refresh + JWKSMaxAge.
	PublishDelay time.Duration
	// OnReloadError, if set, is told about failures of background reloads
	// (which otherwise keep the keys already loaded).
	OnReloadError func(error)
}

// KeyManager holds the signing keys shared by every instance through the
// store, signs and verifies tokens. It is safe for concurrent use; the
// signing and verifying paths read an immutable snapshot through an atomic
// pointer and touch the store only for the periodic reload.
type KeyManager struct {
	ks   KeyStore
	cfg  KeyConfig
	aead cipher.AEAD
	// idAlgs are the ID-token algorithms, cfg.IDAlg first (see IDAlgorithms).
	idAlgs []string

	state      atomic.Pointer[keySet]
	nextReload atomic.Int64 // unix nanoseconds of the next periodic reload

	mu       sync.Mutex // serialises loads and key creation in this process
	lastMiss time.Time  // guarded by mu

	verified verifiedCache // claims of verified access tokens
}

// key is one parsed signing key.
type key struct {
	id, alg, use string
	public       any // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
	publicJSON   []byte
	signer       jose.Signer // nil when the private key could not be read
	fast         *fastES256  // ES256 keys: the signer without go-jose
	sealed       []byte      // the stored encrypted private key, to reuse parses
	createdAt    time.Time
	retiredAt    time.Time
	expiresAt    time.Time
}

func (k *key) published(now time.Time) bool {
	return k.expiresAt.IsZero() || now.Before(k.expiresAt)
}

// A key signs from createdAt (in the future for a key made by Rotate: it is
// published first) until retiredAt (in the future for the keys Rotate
// replaced: they sign until their successors start).

// pending reports whether k is published but may not sign yet.
func (k *key) pending(now time.Time) bool { return now.Before(k.createdAt) }

// active reports whether k may sign now.
func (k *key) active(now time.Time) bool {
	return !k.pending(now) && (k.retiredAt.IsZero() || now.Before(k.retiredAt))
}

// keySet is an immutable snapshot of the published keys.
type keySet struct {
	keys  []*key // newest first
	byKID map[string]*key
	// signing holds, by use, the access-token signer and the signer of ID
	// tokens with no IDClaims.Alg (the configured IDAlg).
	signing map[string]*key
	// idSigning holds the ID-token signer of each algorithm of
	// KeyManager.IDAlgorithms that has a usable key, for IDClaims.Alg.
	idSigning map[string]*key
	jwks      []byte
	// changeAt is the next time the snapshot changes by the clock alone: a
	// retired key stops being published, a new key starts signing or an old
	// one stops. The snapshot is rebuilt then. Zero: never.
	changeAt time.Time
}

// NewKeyManager checks the configuration. It does not touch the store: call
// Ensure at start-up.
func NewKeyManager(ks KeyStore, cfg KeyConfig) (*KeyManager, error) {
	if ks == nil {
		return nil, errors.New("token: nil KeyStore")
	}
	if cfg.AccessAlg == "" {
		cfg.AccessAlg = ES256
	}
	if cfg.IDAlg == "" {
		cfg.IDAlg = RS256
	}
	for _, a := range append([]string{cfg.AccessAlg, cfg.IDAlg}, cfg.ExtraIDAlgs...) {
		if !validAlg(a) {
			return nil, fmt.Errorf("token: unsupported signing algorithm %q (want ES256, RS256 or EdDSA)", a)
		}
	}
	// The configured default first; RS256 (OIDC Core §15.1) and ES256 always.
	var idAlgs []string
	for _, a := range append([]string{cfg.IDAlg, RS256, ES256}, cfg.ExtraIDAlgs...) {
		if !slices.Contains(idAlgs, a) {
			idAlgs = append(idAlgs, a)
		}
	}
	if cfg.MaxTokenTTL <= 0 {
		return nil, errors.New("token: KeyConfig.MaxTokenTTL must be positive (the longest access or ID token lifetime)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = defaultRefresh
	}
	if cfg.PublishDelay == 0 {
		cfg.PublishDelay = cfg.Refresh + JWKSMaxAge + maxClockSkew
	}
	cfg.PublishDelay = max(cfg.PublishDelay, cfg.Refresh+JWKSMaxAge)
	aead, err := newKeyAEAD(cfg.Secret)
	if err != nil {
		return nil, err
	}
	return &KeyManager{ks: ks, cfg: cfg, aead: aead, idAlgs: idAlgs}, nil
}

func validAlg(a string) bool { return a == ES256 || a == RS256 || a == EdDSA }

// Algorithms returns the configured signing algorithms: of access tokens,
// and of ID tokens minted with no IDClaims.Alg.
func (m *KeyManager) Algorithms() (access, id string) { return m.cfg.AccessAlg, m.cfg.IDAlg }

// IDAlgorithms returns the algorithms ID tokens can be signed with, as
// IDClaims.Alg, for the discovery document's
// id_token_signing_alg_values_supported: KeyConfig.IDAlg first, then RS256 and
// ES256 (always offered), then KeyConfig.ExtraIDAlgs, without repeats. Ensure
// keeps an active key of each. The caller gets its own copy.
func (m *KeyManager) IDAlgorithms() []string { return slices.Clone(m.idAlgs) }

// algsFor returns the algorithms that need an active key of use.
func (m *KeyManager) algsFor(use string) []string {
	if use == UseID {
		return m.idAlgs
	}
	return []string{m.cfg.AccessAlg}
}

func (m *KeyManager) algFor(use string) string {
	if use == UseID {
		return m.cfg.IDAlg
	}
	return m.cfg.AccessAlg
}

// Ensure makes sure an active key exists for access tokens (of AccessAlg)
// and for ID tokens of each of IDAlgorithms, creating what is missing, and
// loads every published key. Keys of other algorithms are left as they are.
// Several instances may start at once: if two both create a key of one use
// and algorithm, both are valid and published, and every instance signs with
// the newest.
//
// A stored key that cannot be decrypted is an error (ErrSecretMismatch):
// the instance runs with a different MULTINEXO_SECRET than the one that made
// the keys, and must not start.
func (m *KeyManager) Ensure(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load(ctx, true, true)
}

// Rotate replaces the keys of both uses: one new access key, and one new ID
// key of each of IDAlgorithms. It is "publish before use" across instances:
//
//   - the new keys are stored now but sign only from now + PublishDelay
//     (their CreatedAt). Every instance reloads within Refresh, so each
//     serves them in its JWKS from then on, and a relying party's cached
//     JWKS is at most JWKSMaxAge old: by the time any instance signs with a
//     new key, every JWKS a relying party can hold names it, whichever
//     instance it fetched it from;
//   - the replaced keys go on signing until then (RetiredAt is that same
//     moment, so every instance switches at once by its clock), and stay
//     published until MaxTokenTTL + Refresh after it: MaxTokenTTL for the
//     tokens they signed last, plus one reload interval of margin.
//
// A second rotation within PublishDelay replaces the pending keys in turn.
//
// OpenID Connect Core §10.1.1 lets a signer "begin using a new key at its
// discretion", counting on "The verifier knows to go back to the jwks_uri
// location to re-retrieve the keys when it sees an unfamiliar kid value";
// publishing first also serves verifiers that rate-limit or cache that
// refetch, and keeps behind a load balancer the answer the same whichever
// instance the verifier reaches.
func (m *KeyManager) Rotate(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	from := now.Add(m.cfg.PublishDelay)
	keep := m.cfg.MaxTokenTTL + m.cfg.Refresh
	fresh := map[string][]*store.SigningKey{}
	for _, use := range []string{UseAccess, UseID} {
		for _, alg := range m.algsFor(use) {
			rec, err := m.newKeyRecord(use, alg, from)
			if err != nil {
				return err
			}
			fresh[use] = append(fresh[use], rec)
		}
	}
	for _, use := range []string{UseAccess, UseID} {
		if err := m.ks.RetireSigningKeys(ctx, use, from, keep); err != nil {
			return fmt.Errorf("token: retire %s keys: %w", use, err)
		}
		for _, rec := range fresh[use] {
			if err := m.storeKey(ctx, rec); err != nil {
				return err
			}
		}
	}
	return m.load(ctx, false, true)
}

// PublishDelay is how long after Rotate the new keys start signing.
func (m *KeyManager) PublishDelay() time.Duration { return m.cfg.PublishDelay }

// JWKS returns the public keys as a JWK Set (RFC 7517 §5): every key not yet
// past its publication end, of both uses, newest first. The bytes are built
// once per snapshot; the caller gets its own copy.
func (m *KeyManager) JWKS(ctx context.Context) ([]byte, error) {
	st, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(st.jwks), nil
}

// current returns the snapshot for the hot paths, loading it on first use,
// reloading it every Refresh (one caller does it; the others carry on with
// the old snapshot) and dropping keys whose publication has ended.
func (m *KeyManager) current(ctx context.Context) (*keySet, error) {
	st := m.state.Load()
	if st == nil {
		m.mu.Lock()
		var err error
		if m.state.Load() == nil {
			err = m.load(ctx, false, true)
		}
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return m.state.Load(), nil
	}
	now := m.cfg.Now()
	if next := m.nextReload.Load(); now.UnixNano() >= next &&
		m.nextReload.CompareAndSwap(next, now.Add(m.cfg.Refresh).UnixNano()) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
		m.mu.Lock()
		err := m.load(rctx, true, false)
		m.mu.Unlock()
		cancel()
		if err != nil && m.cfg.OnReloadError != nil {
			m.cfg.OnReloadError(err)
		}
		st = m.state.Load()
	}
	if !st.changeAt.IsZero() && !now.Before(st.changeAt) {
		pruned := m.assemble(now, st.keys)
		m.state.CompareAndSwap(st, pruned)
		st = pruned
	}
	return st, nil
}

// lookup finds the key named by kid, reloading once from the store when it is
// unknown (a key another instance created since the last reload), at most
// once per missReloadInterval.
func (m *KeyManager) lookup(ctx context.Context, st *keySet, kid string) *key {
	if k := st.byKID[kid]; k != nil {
		return k
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if k := m.state.Load().byKID[kid]; k != nil {
		return k // someone else reloaded meanwhile
	}
	now := m.cfg.Now()
	if !m.lastMiss.IsZero() && now.Sub(m.lastMiss) < missReloadInterval {
		return nil
	}
	m.lastMiss = now
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
	defer cancel()
	if err := m.load(rctx, false, false); err != nil {
		if m.cfg.OnReloadError != nil {
			m.cfg.OnReloadError(err)
		}
		return nil
	}
	return m.state.Load().byKID[kid]
}

// load reads the keys from the store and installs a new snapshot. With
// create, a missing active key of a configured algorithm is created. With
// strict, any key that cannot be read is an error; otherwise such keys are
// left out (or kept for verification only). m.mu must be held.
func (m *KeyManager) load(ctx context.Context, create, strict bool) error {
	now := m.cfg.Now()
	st, err := m.read(ctx, now, strict)
	if err != nil {
		return err
	}
	if create {
		made := false
		for _, use := range []string{UseAccess, UseID} {
			for _, alg := range m.algsFor(use) {
				if st.hasActive(use, alg) {
					continue
				}
				// Publish before use, unless nothing of alg is published
				// (a new deployment, or an algorithm just configured):
				// then no instance can sign alg before this key is found.
				from := now
				if st.hasPublished(use, alg) {
					from = now.Add(m.cfg.PublishDelay)
				}
				if err := m.createKey(ctx, use, alg, from); err != nil {
					return err
				}
				made = true
			}
		}
		if made {
			if st, err = m.read(ctx, now, strict); err != nil {
				return err
			}
		}
	}
	m.state.Store(st)
	m.nextReload.Store(now.Add(m.cfg.Refresh).UnixNano())
	return nil
}

// hasPublished reports whether any key of use and alg is published.
func (st *keySet) hasPublished(use, alg string) bool {
	return slices.ContainsFunc(st.keys, func(k *key) bool { return k.use == use && k.alg == alg })
}

// hasActive reports whether a key of use and alg has no retirement set: it
// signs now, or will once published long enough (a key Rotate made).
func (st *keySet) hasActive(use, alg string) bool {
	for _, k := range st.keys {
		if k.use == use && k.alg == alg && k.retiredAt.IsZero() {
			return true
		}
	}
	return false
}

// read lists and parses the stored keys.
func (m *KeyManager) read(ctx context.Context, now time.Time, strict bool) (*keySet, error) {
	recs, err := m.ks.ListSigningKeys(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("token: list signing keys: %w", err)
	}
	var prev map[string]*key
	if old := m.state.Load(); old != nil {
		prev = old.byKID
	}
	keys := make([]*key, 0, len(recs))
	var errs []error
	for _, r := range recs {
		if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			continue
		}
		k, err := m.parse(r, prev[r.ID])
		if err != nil {
			errs = append(errs, err)
		}
		if k != nil {
			keys = append(keys, k)
		}
	}
	if strict && len(errs) > 0 {
		for _, e := range errs {
			if errors.Is(e, ErrSecretMismatch) {
				return nil, e
			}
		}
		return nil, errors.Join(errs...)
	}
	// Newest first; ties (two instances creating in the same microsecond)
	// broken by id so every instance picks the same signing key.
	slices.SortStableFunc(keys, func(a, b *key) int {
		if c := b.createdAt.Compare(a.createdAt); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	return m.assemble(now, keys), nil
}

// parse turns a stored key into a key, reusing prev's parsed material when
// the stored bytes are unchanged. A key whose private half cannot be read is
// returned for verification only, with the error.
func (m *KeyManager) parse(r *store.SigningKey, prev *key) (*key, error) {
	k := &key{
		id: r.ID, alg: r.Algorithm, use: r.Use, sealed: r.Private,
		createdAt: r.CreatedAt, retiredAt: r.RetiredAt, expiresAt: r.ExpiresAt,
	}
	if prev != nil && prev.signer != nil && prev.alg == k.alg && prev.use == k.use &&
		bytes.Equal(prev.sealed, r.Private) && bytes.Equal(prev.publicJSON, r.Public) {
		k.public, k.publicJSON, k.signer, k.fast = prev.public, prev.publicJSON, prev.signer, prev.fast
		return k, nil
	}
	if !validAlg(r.Algorithm) {
		return nil, fmt.Errorf("token: signing key %s: unsupported algorithm %q", r.ID, r.Algorithm)
	}
	if r.Use != UseAccess && r.Use != UseID {
		return nil, fmt.Errorf("token: signing key %s: unknown use %q", r.ID, r.Use)
	}
	var pub jose.JSONWebKey
	if err := pub.UnmarshalJSON(r.Public); err != nil {
		return nil, fmt.Errorf("token: signing key %s: public JWK: %w", r.ID, err)
	}
	if !pub.IsPublic() || pub.KeyID != r.ID || pub.Algorithm != r.Algorithm || !keyMatchesAlg(pub.Key, r.Algorithm) {
		return nil, fmt.Errorf("token: signing key %s: public JWK does not match the key record", r.ID)
	}
	k.public, k.publicJSON = pub.Key, r.Public

	plain, err := open(m.aead, r.Private, r.ID)
	if err != nil {
		return k, fmt.Errorf("%w (key %s)", err, r.ID)
	}
	defer clear(plain)
	var priv jose.JSONWebKey
	if err := priv.UnmarshalJSON(plain); err != nil {
		return k, fmt.Errorf("token: signing key %s: private JWK: %w", r.ID, err)
	}
	pp := priv.Public()
	if priv.IsPublic() || priv.KeyID != r.ID || !keyMatchesAlg(pp.Key, r.Algorithm) || !sameKey(&pp, &pub) {
		return k, fmt.Errorf("token: signing key %s: private key does not match its public key", r.ID)
	}
	typ := "at+jwt"
	if r.Use == UseID {
		typ = "JWT"
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(r.Algorithm), Key: jose.JSONWebKey{Key: priv.Key, KeyID: r.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
	if err != nil {
		return k, fmt.Errorf("token: signing key %s: %w", r.ID, err)
	}
	k.signer = signer
	if ec, ok := priv.Key.(*ecdsa.PrivateKey); ok && r.Algorithm == ES256 {
		if k.fast, err = newFastES256(ec, r.ID, typ); err != nil {
			return k, fmt.Errorf("token: signing key %s: %w", r.ID, err)
		}
	}
	return k, nil
}

// keyMatchesAlg checks the public key type (and curve, size) against alg, so a
// stored alg can never pair with a key of another kind.
func keyMatchesAlg(pub any, alg string) bool {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		return alg == ES256 && p.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return alg == RS256 && p.N.BitLen() >= rsaBits
	case ed25519.PublicKey:
		return alg == EdDSA && len(p) == ed25519.PublicKeySize
	}
	return false
}

func sameKey(a, b *jose.JSONWebKey) bool {
	ta, err1 := a.Thumbprint(crypto.SHA256)
	tb, err2 := b.Thumbprint(crypto.SHA256)
	return err1 == nil && err2 == nil && bytes.Equal(ta, tb)
}

// assemble builds a snapshot from keys (newest first), leaving out those whose
// publication ended by now.
func (m *KeyManager) assemble(now time.Time, keys []*key) *keySet {
	st := &keySet{byKID: make(map[string]*key, len(keys)), signing: map[string]*key{}, idSigning: map[string]*key{}}
	var jwks bytes.Buffer
	jwks.WriteString(`{"keys":[`)
	for _, k := range keys {
		if !k.published(now) {
			continue
		}
		if len(st.keys) > 0 {
			jwks.WriteByte(',')
		}
		st.keys = append(st.keys, k)
		st.byKID[k.id] = k
		jwks.Write(k.publicJSON)
		for _, t := range []time.Time{k.expiresAt, k.createdAt, k.retiredAt} {
			if t.After(now) && (st.changeAt.IsZero() || t.Before(st.changeAt)) {
				st.changeAt = t
			}
		}
	}
	jwks.WriteString(`]}`)
	st.jwks = jwks.Bytes()
	for _, use := range []string{UseAccess, UseID} {
		if k := st.pickSigner(now, use, m.algFor(use), true); k != nil {
			st.signing[use] = k
		}
	}
	for _, alg := range m.idAlgs {
		if k := st.pickSigner(now, UseID, alg, false); k != nil {
			st.idSigning[alg] = k
		}
	}
	return st
}

// pickSigner chooses the newest key of use and alg active at now; failing that
// (another instance is between retiring and creating keys) the newest
// still-published one of alg. With anyAlg, failing those (another instance
// is configured with another algorithm), the newest active key of use, then
// the newest still-published one.
//
// A key of alg, even retired, comes before an active key of another
// algorithm: every ID-key algorithm has active keys, and a client that asked
// nothing must keep getting the default algorithm while another instance
// rotates.
//
// A pending key (published, not yet signing: see Rotate) is never chosen.
func (st *keySet) pickSigner(now time.Time, use, alg string, anyAlg bool) *key {
	passes := 2
	if anyAlg {
		passes = 4
	}
	for pass := range passes {
		for _, k := range st.keys {
			if k.use != use || k.signer == nil || k.pending(now) {
				continue
			}
			if pass == 0 && k.active(now) && k.alg == alg || pass == 1 && k.alg == alg ||
				pass == 2 && k.active(now) || pass == 3 {
				return k
			}
		}
	}
	return nil
}

// createKey generates a key pair of alg for use, signing from from, and
// stores it.
func (m *KeyManager) createKey(ctx context.Context, use, alg string, from time.Time) error {
	rec, err := m.newKeyRecord(use, alg, from)
	if err != nil {
		return err
	}
	return m.storeKey(ctx, rec)
}

func (m *KeyManager) storeKey(ctx context.Context, rec *store.SigningKey) error {
	if err := m.ks.CreateSigningKey(ctx, rec); err != nil {
		return fmt.Errorf("token: store %s key: %w", rec.Use, err)
	}
	return nil
}

// newKeyRecord generates a key pair of alg for use and returns its store
// record: the private JWK encrypted with AES-256-GCM under the key derived
// from the server secret, with the key id as additional data (a sealed key
// moved to another row does not open).
func (m *KeyManager) newKeyRecord(use, alg string, now time.Time) (*store.SigningKey, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	id := NewID()
	jwk := jose.JSONWebKey{Key: priv, KeyID: id, Algorithm: alg, Use: "sig"}
	privJSON, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: encode key: %w", err)
	}
	defer clear(privJSON)
	pub := jwk.Public()
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: encode public key: %w", err)
	}
	return &store.SigningKey{
		ID:        id,
		Algorithm: alg,
		Use:       use,
		Private:   seal(m.aead, privJSON, id),
		Public:    pubJSON,
		CreatedAt: now,
	}, nil
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unsupported algorithm %q", alg)
}
