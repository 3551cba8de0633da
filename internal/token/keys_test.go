package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/multinexo/auth/internal/store"
)

// memKeys is an in-memory KeyStore with the store contract's semantics (the
// real backends are checked by store/storetest).
type memKeys struct {
	mu    sync.Mutex
	keys  []*store.SigningKey
	lists int
	fail  bool // ListSigningKeys fails
}

func (s *memKeys) CreateSigningKey(_ context.Context, k *store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.keys {
		if o.ID == k.ID {
			return store.ErrConflict
		}
	}
	c := *k
	s.keys = append(s.keys, &c)
	return nil
}

func (s *memKeys) ListSigningKeys(_ context.Context, now time.Time) ([]*store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	if s.fail {
		return nil, errors.New("database unavailable")
	}
	var out []*store.SigningKey
	for _, k := range s.keys {
		if k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt) {
			c := *k
			out = append(out, &c)
		}
	}
	slices.SortStableFunc(out, func(a, b *store.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (s *memKeys) RetireSigningKeys(_ context.Context, use string, now time.Time, keep time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.Use == use && k.RetiredAt.IsZero() {
			k.RetiredAt, k.ExpiresAt = now, now.Add(keep)
		}
	}
	return nil
}

func (s *memKeys) listCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testSecret = "test-secret-0123456789abcdefghijklmnop"
	testIss    = "https://auth.example.com"
	testTTL    = time.Hour
)

type fixture struct {
	m   *KeyManager
	ks  *memKeys
	clk *clock
}

func newFixture(t testing.TB, mut ...func(*KeyConfig)) *fixture {
	t.Helper()
	f := &fixture{ks: &memKeys{}, clk: newClock()}
	f.m = f.manager(t, mut...)
	return f
}

// manager returns another manager (another instance) on the same store and clock.
func (f *fixture) manager(t testing.TB, mut ...func(*KeyConfig)) *KeyManager {
	t.Helper()
	cfg := KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: f.clk.Now}
	for _, fn := range mut {
		fn(&cfg)
	}
	m, err := NewKeyManager(f.ks, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) access() AccessClaims {
	now := f.clk.Now()
	return AccessClaims{
		Issuer:    testIss,
		Subject:   "user-1",
		ClientID:  "client-1",
		Scope:     "openid profile",
		GrantID:   "grant-1",
		GrantType: store.GrantAuthorizationCode,
		JTI:       "jti-1",
		Audience:  []string{"https://api.example.com"},
		IssuedAt:  now,
		ExpiresAt: now.Add(15 * time.Minute),
		AuthTime:  now.Add(-time.Minute),
	}
}

func (f *fixture) mintAccess(t testing.TB) string {
	t.Helper()
	raw, err := f.m.MintAccess(context.Background(), f.access())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// record returns the stored record of the manager's current key of use.
func (f *fixture) record(t testing.TB, use string) *store.SigningKey {
	t.Helper()
	id := f.m.state.Load().signing[use].id
	f.ks.mu.Lock()
	defer f.ks.mu.Unlock()
	for _, k := range f.ks.keys {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no record for %s", id)
	return nil
}

// privateKey opens the stored private key of the current key of use, to
// forge tokens signed by the real key.
func (f *fixture) privateKey(t testing.TB, use string) (jose.JSONWebKey, string) {
	t.Helper()
	r := f.record(t, use)
	plain, err := open(f.m.aead, r.Private, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(plain); err != nil {
		t.Fatal(err)
	}
	return jwk, r.ID
}

// sign signs payload with key under an arbitrary header.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[jose.HeaderKey]any, payload []byte) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, &jose.SignerOptions{ExtraHeaders: headers})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func payloadOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func headerOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantInvalid(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
	if reason != "" && !strings.Contains(err.Error(), reason) {
		t.Fatalf("err = %v, want reason containing %q", err, reason)
	}
}

func TestNewKeyManagerConfig(t *testing.T) {
	ks := &memKeys{}
	for name, cfg := range map[string]KeyConfig{
		"no secret":    {MaxTokenTTL: time.Hour},
		"short secret": {Secret: "short", MaxTokenTTL: time.Hour},
		"no ttl":       {Secret: testSecret},
		"bad alg":      {Secret: testSecret, MaxTokenTTL: time.Hour, AccessAlg: "HS256"},
		"none":         {Secret: testSecret, MaxTokenTTL: time.Hour, IDAlg: "none"},
	} {
		if _, err := NewKeyManager(ks, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	m, err := NewKeyManager(ks, KeyConfig{Secret: testSecret, MaxTokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if a, i := m.Algorithms(); a != ES256 || i != RS256 {
		t.Errorf("defaults = %s, %s", a, i)
	}
}

func TestEnsureCreatesOnceAndStoresEncrypted(t *testing.T) {
	f := newFixture(t)
	// One access key (ES256), one ID key of each of IDAlgorithms (RS256, ES256).
	if n := len(f.ks.keys); n != 3 {
		t.Fatalf("%d keys after Ensure, want 3", n)
	}
	// A second instance, and a second Ensure, create nothing.
	f.manager(t)
	if err := f.m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.ks.keys); n != 3 {
		t.Fatalf("%d keys after more Ensure calls, want 3", n)
	}
	var got []string
	for _, k := range f.ks.keys {
		got = append(got, k.Use+" "+k.Algorithm)
		if strings.Contains(string(k.Private), `"d"`) || json.Valid(k.Private) {
			t.Errorf("private key stored in clear: %q", k.Private)
		}
		var pub map[string]any
		if err := json.Unmarshal(k.Public, &pub); err != nil {
			t.Fatal(err)
		}
		if pub["kid"] != k.ID || pub["alg"] != k.Algorithm || pub["use"] != "sig" {
			t.Errorf("public JWK %v", pub)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := pub[private]; ok {
				t.Errorf("public JWK has private member %q", private)
			}
		}
	}
	slices.Sort(got)
	if want := []string{"access ES256", "id ES256", "id RS256"}; !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

func TestEnsureConcurrentInstances(t *testing.T) {
	ks := &memKeys{}
	clk := newClock()
	ms := ensureAtOnce(t, ks, clk, 4)
	// Whatever was created, after a reload every instance signs with the same
	// (newest) key, and each verifies the others' tokens.
	clk.Advance(time.Minute)
	f := &fixture{ks: ks, clk: clk}
	var kids []string
	for _, m := range ms {
		f.m = m
		raw := f.mintAccess(t)
		kids = append(kids, headerOf(t, raw)["kid"].(string))
		for _, v := range ms {
			if _, err := v.VerifyAccess(t.Context(), raw, testIss, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(slices.Compact(slices.Clone(kids))) != 1 {
		t.Errorf("instances sign with different keys: %v", kids)
	}
}

func TestWrongSecret(t *testing.T) {
	f := newFixture(t)
	m, err := NewKeyManager(f.ks, KeyConfig{Secret: "another-secret-0123456789abcdef", MaxTokenTTL: testTTL, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Ensure(t.Context())
	if !errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("Ensure with another secret: %v", err)
	}
	const want = "signing keys cannot be decrypted: MULTINEXO_SECRET differs from the one that created them"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if n := len(f.ks.keys); n != 3 {
		t.Errorf("a failed Ensure created keys: %d", n)
	}
	if _, err := m.MintAccess(t.Context(), f.access()); err == nil {
		t.Error("minting without readable keys succeeded")
	}
}

func TestSealedKeyBoundToID(t *testing.T) {
	f := newFixture(t)
	// Swap the encrypted private keys of the two rows: neither opens.
	f.ks.keys[0].Private, f.ks.keys[1].Private = f.ks.keys[1].Private, f.ks.keys[0].Private
	m, _ := NewKeyManager(f.ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: f.clk.Now})
	if err := m.Ensure(t.Context()); !errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("Ensure with swapped keys: %v", err)
	}
}

func TestRotation(t *testing.T) {
	f := newFixture(t, func(c *KeyConfig) { c.Refresh = 10 * time.Second })
	ctx := t.Context()
	c := f.access()
	c.ExpiresAt = c.IssuedAt.Add(testTTL) // the longest lifetime allowed
	old, err := f.m.MintAccess(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	oldKid := headerOf(t, old)["kid"].(string)
	// VerifyID ignores exp, so the ID token shows when its key stops verifying.
	oldID, err := f.m.MintID(ctx, f.id())
	if err != nil {
		t.Fatal(err)
	}
	oldIDKid := headerOf(t, oldID)["kid"].(string)

	other := f.manager(t) // another instance, loaded before the rotation
	f.clk.Advance(time.Minute)
	if err := f.m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(f.m.PublishDelay())
	c.IssuedAt = f.clk.Now()
	c.ExpiresAt = c.IssuedAt.Add(15 * time.Minute)
	fresh, err := f.m.MintAccess(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	newKid := headerOf(t, fresh)["kid"].(string)
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	for _, raw := range []string{old, fresh} {
		if _, err := f.m.VerifyAccess(ctx, raw, testIss, nil); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		// The other instance does not know the new kid yet: it reloads once.
		if _, err := other.VerifyAccess(ctx, raw, testIss, nil); err != nil {
			t.Fatalf("other instance after rotation: %v", err)
		}
	}
	if _, err := f.m.VerifyID(ctx, oldID, testIss); err != nil {
		t.Fatalf("old ID token after rotation: %v", err)
	}
	kids := jwksKids(t, f.m) // access, ID RS256, ID ES256; old and new
	if len(kids) != 6 || !slices.Contains(kids, oldKid) || !slices.Contains(kids, oldIDKid) || !slices.Contains(kids[:3], newKid) {
		t.Fatalf("JWKS after rotation (newest first): %v", kids)
	}

	// The retired keys stay published until MaxTokenTTL + Refresh after
	// retirement, then disappear without any store access.
	f.clk.Advance(testTTL + 10*time.Second - time.Second)
	if _, err := f.m.VerifyID(ctx, oldID, testIss); err != nil {
		t.Fatalf("just before the key's end: %v", err)
	}
	if kids := jwksKids(t, f.m); len(kids) != 6 {
		t.Fatalf("JWKS just before the key's end: %v", kids)
	}
	f.clk.Advance(time.Second)
	_, err = f.m.VerifyID(ctx, oldID, testIss)
	wantInvalid(t, err, "")
	if kids := jwksKids(t, f.m); len(kids) != 3 || slices.Contains(kids, oldKid) || slices.Contains(kids, oldIDKid) {
		t.Fatalf("JWKS after the old keys' end: %v", kids)
	}
	c.IssuedAt = f.clk.Now()
	c.ExpiresAt = c.IssuedAt.Add(time.Minute)
	if _, err := f.m.MintAccess(ctx, c); err != nil {
		t.Fatal(err)
	}
}

func TestMaxTokenTTLEnforced(t *testing.T) {
	f := newFixture(t)
	c := f.access()
	c.ExpiresAt = c.IssuedAt.Add(testTTL + time.Second)
	if _, err := f.m.MintAccess(t.Context(), c); err == nil {
		t.Error("access token outliving MaxTokenTTL minted")
	}
	idc := f.id()
	idc.ExpiresAt = idc.IssuedAt.Add(testTTL + time.Second)
	if _, err := f.m.MintID(t.Context(), idc); err == nil {
		t.Error("ID token outliving MaxTokenTTL minted")
	}
}

func TestReloadFailureKeepsKeys(t *testing.T) {
	var reported []error
	f := newFixture(t, func(c *KeyConfig) { c.OnReloadError = func(err error) { reported = append(reported, err) } })
	f.ks.mu.Lock()
	f.ks.fail = true
	f.ks.mu.Unlock()
	f.clk.Advance(time.Minute)
	raw := f.mintAccess(t)
	if _, err := f.m.VerifyAccess(t.Context(), raw, testIss, nil); err != nil {
		t.Fatal(err)
	}
	if len(reported) != 1 {
		t.Errorf("%d reload errors reported, want 1 (then none until the next Refresh)", len(reported))
	}
}

func TestPeriodicReloadPicksNewSigningKey(t *testing.T) {
	f := newFixture(t, func(c *KeyConfig) { c.Refresh = 30 * time.Second })
	other := f.manager(t, func(c *KeyConfig) { c.Refresh = 30 * time.Second })
	oldKid := f.m.state.Load().signing[UseAccess].id
	if err := f.m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	newKid := f.m.state.Load().keys[0].id // newest: a pending key
	if _, ok := other.state.Load().byKID[newKid]; ok {
		t.Fatal("other instance knew the new key before reloading")
	}
	f.clk.Advance(30 * time.Second)
	if !slices.Contains(jwksKids(t, other), newKid) {
		t.Errorf("after Refresh the other instance does not publish %s", newKid)
	}
	f.clk.Advance(f.m.PublishDelay() - 30*time.Second)
	fo := &fixture{m: other, ks: f.ks, clk: f.clk}
	kid := headerOf(t, fo.mintAccess(t))["kid"]
	if want := headerOf(t, f.mintAccess(t))["kid"]; kid == oldKid || kid != want {
		t.Errorf("after PublishDelay the other instance signs with %v, want the new key %v (old %s)", kid, want, oldKid)
	}
}

func TestUnknownKidReloadIsRateLimited(t *testing.T) {
	f := newFixture(t)
	priv, _ := f.privateKey(t, UseAccess)
	before := f.ks.listCount()
	for range 20 {
		raw := sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": NewID()}, []byte(`{}`))
		_, err := f.m.VerifyAccess(t.Context(), raw, testIss, nil)
		wantInvalid(t, err, "unknown kid")
	}
	if n := f.ks.listCount() - before; n != 1 {
		t.Errorf("20 unknown kids caused %d store reads, want 1", n)
	}
	f.clk.Advance(time.Second)
	raw := sign(t, jose.ES256, priv.Key, map[jose.HeaderKey]any{"typ": "at+jwt", "kid": NewID()}, []byte(`{}`))
	_, _ = f.m.VerifyAccess(t.Context(), raw, testIss, nil)
	if n := f.ks.listCount() - before; n != 2 {
		t.Errorf("after a second, %d store reads, want 2", n)
	}
}

func TestOtherAlgorithms(t *testing.T) {
	for _, alg := range []string{ES256, RS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, func(c *KeyConfig) { c.AccessAlg, c.IDAlg = alg, alg })
			raw := f.mintAccess(t)
			if h := headerOf(t, raw); h["alg"] != alg {
				t.Errorf("alg %v", h["alg"])
			}
			if _, err := f.m.VerifyAccess(t.Context(), raw, testIss, nil); err != nil {
				t.Fatal(err)
			}
			c := f.id()
			c.AccessToken = raw
			idt, err := f.m.MintID(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if h := headerOf(t, idt); h["alg"] != alg {
				t.Errorf("alg %v", h["alg"])
			}
			want, _ := HalfHash(alg, raw)
			if got := payloadOf(t, idt)["at_hash"]; got != want {
				t.Errorf("at_hash %v, want %s", got, want)
			}
			if _, err := f.m.VerifyID(t.Context(), idt, testIss); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConfiguredAlgorithmChange(t *testing.T) {
	f := newFixture(t)
	// An instance configured for EdDSA access tokens adds an EdDSA key; the
	// ES256 key stays active and published for instances still on ES256.
	m2 := f.manager(t, func(c *KeyConfig) { c.AccessAlg = EdDSA })
	f2 := &fixture{m: m2, ks: f.ks, clk: f.clk}
	raw := f2.mintAccess(t)
	if h := headerOf(t, raw); h["alg"] != EdDSA {
		t.Fatalf("alg %v", h["alg"])
	}
	if h := headerOf(t, f.mintAccess(t)); h["alg"] != ES256 {
		t.Fatalf("old instance alg %v", h["alg"])
	}
	if _, err := f.m.VerifyAccess(t.Context(), raw, testIss, nil); err != nil {
		t.Fatal(err)
	}
}

func jwksKids(t *testing.T, m *KeyManager) []string {
	t.Helper()
	b, err := m.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("JWKS key %s: public %v use %q alg %q", k.KeyID, k.IsPublic(), k.Use, k.Algorithm)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestJWKSIsACopy(t *testing.T) {
	f := newFixture(t)
	b, _ := f.m.JWKS(t.Context())
	clear(b)
	if kids := jwksKids(t, f.m); len(kids) != 3 {
		t.Fatalf("kids %v", kids)
	}
}

func TestGeneratedKeyTypes(t *testing.T) {
	// keyMatchesAlg refuses mismatched pairs, such as a stored alg naming
	// another key kind.
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if keyMatchesAlg(&ec.PublicKey, ES256) {
		t.Error("P-384 key accepted for ES256")
	}
	for _, alg := range []string{ES256, RS256, EdDSA} {
		k, err := generateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{ES256, RS256, EdDSA} {
			if got := keyMatchesAlg(k.Public(), other); got != (alg == other) {
				t.Errorf("keyMatchesAlg(%s key, %s) = %v", alg, other, got)
			}
		}
	}
}

// ensureAtOnce starts n key managers on ks, as n instances starting at
// once, and runs their Ensure concurrently.
func ensureAtOnce(t *testing.T, ks KeyStore, clk *clock, n int) []*KeyManager {
	t.Helper()
	var wg sync.WaitGroup
	ms := make([]*KeyManager, n)
	for i := range ms {
		m, err := NewKeyManager(ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
		wg.Go(func() {
			if err := m.Ensure(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return ms
}
