package token

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
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

// mintIDAlg mints the fixture's ID token with c.Alg = alg and the given
// access token and code (for at_hash, c_hash).
func (f *fixture) mintIDAlg(t testing.TB, alg, access, code string) string {
	t.Helper()
	c := f.id()
	c.Alg, c.AccessToken, c.Code = alg, access, code
	raw, err := f.m.MintID(context.Background(), c)
	if err != nil {
		t.Fatalf("MintID(Alg %q): %v", alg, err)
	}
	return raw
}

// idKeys returns the stored ID-key records of alg, as "id active|retired".
func (f *fixture) idKeys(alg string) (active, retired []string) {
	f.ks.mu.Lock()
	defer f.ks.mu.Unlock()
	for _, k := range f.ks.keys {
		if k.Use != UseID || k.Algorithm != alg {
			continue
		}
		if k.RetiredAt.IsZero() {
			active = append(active, k.ID)
		} else {
			retired = append(retired, k.ID)
		}
	}
	return active, retired
}

// retireStored retires the stored key id as another instance's Rotate would.
func (f *fixture) retireStored(id string) {
	f.ks.mu.Lock()
	defer f.ks.mu.Unlock()
	now := f.clk.Now()
	for _, k := range f.ks.keys {
		if k.ID == id {
			k.RetiredAt, k.ExpiresAt = now, now.Add(testTTL+time.Minute)
		}
	}
}

// verifyWithJWKS checks raw with go-jose alone against the manager's JWKS,
// as a relying party would, and returns the kid.
func verifyWithJWKS(t *testing.T, m *KeyManager, raw string, alg jose.SignatureAlgorithm) string {
	t.Helper()
	b, err := m.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("go-jose parse: %v", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys of kid %s", len(keys), kid)
	}
	if keys[0].Algorithm != string(alg) {
		t.Fatalf("JWKS key %s alg %s, token alg %s", kid, keys[0].Algorithm, alg)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("go-jose verify with the JWKS key: %v", err)
	}
	return kid
}

func TestIDAlgorithms(t *testing.T) {
	for _, tc := range []struct {
		idAlg string
		extra []string
		want  []string
	}{
		{"", nil, []string{RS256, ES256}},
		{RS256, nil, []string{RS256, ES256}},
		{ES256, nil, []string{ES256, RS256}},
		{EdDSA, nil, []string{EdDSA, RS256, ES256}},
		{"", []string{EdDSA}, []string{RS256, ES256, EdDSA}},
		{ES256, []string{EdDSA, RS256, EdDSA, ES256}, []string{ES256, RS256, EdDSA}},
	} {
		m, err := NewKeyManager(&memKeys{}, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, IDAlg: tc.idAlg, ExtraIDAlgs: tc.extra})
		if err != nil {
			t.Fatal(err)
		}
		got := m.IDAlgorithms()
		if !slices.Equal(got, tc.want) {
			t.Errorf("IDAlg %q, ExtraIDAlgs %v: IDAlgorithms %v, want %v", tc.idAlg, tc.extra, got, tc.want)
		}
		// Algorithms is unchanged: the default ID alg.
		if _, id := m.Algorithms(); id != tc.want[0] {
			t.Errorf("IDAlg %q: Algorithms id = %s", tc.idAlg, id)
		}
		got[0] = "none" // the caller's copy
		if m.IDAlgorithms()[0] != tc.want[0] {
			t.Error("IDAlgorithms returned the manager's own slice")
		}
	}
	for _, extra := range [][]string{{"HS256"}, {"none"}, {""}, {EdDSA, "PS256"}} {
		if _, err := NewKeyManager(&memKeys{}, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, ExtraIDAlgs: extra}); err == nil {
			t.Errorf("ExtraIDAlgs %q accepted", extra)
		}
	}
}

// TestMintIDPerAlg: with the default configuration, Ensure makes an ID key
// of RS256 and of ES256; Alg "" signs RS256 as before, Alg "ES256" signs with
// the ES256 ID key through the fast signer, with go-jose's header; both verify
// with VerifyID and with go-jose against the JWKS.
func TestMintIDPerAlg(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	rsActive, _ := f.idKeys(RS256)
	esActive, _ := f.idKeys(ES256)
	if len(rsActive) != 1 || len(esActive) != 1 {
		t.Fatalf("ID keys after Ensure: RS256 %v, ES256 %v; want one each", rsActive, esActive)
	}
	accessKid := f.m.state.Load().signing[UseAccess].id
	kids := jwksKids(t, f.m)
	slices.Sort(kids)
	want := []string{accessKid, rsActive[0], esActive[0]}
	slices.Sort(want)
	if !slices.Equal(kids, want) {
		t.Fatalf("JWKS kids %v, want %v", kids, want)
	}

	access := f.mintAccess(t)
	code := NewOpaque(PrefixCode)
	atHash := sha256.Sum256([]byte(access))
	cHash := sha256.Sum256([]byte(code))
	for _, tc := range []struct {
		alg     string
		wantAlg jose.SignatureAlgorithm
		wantKid string
	}{
		{"", jose.RS256, rsActive[0]},
		{RS256, jose.RS256, rsActive[0]},
		{ES256, jose.ES256, esActive[0]},
	} {
		raw := f.mintIDAlg(t, tc.alg, access, code)
		h := headerOf(t, raw)
		if len(h) != 3 || h["alg"] != string(tc.wantAlg) || h["kid"] != tc.wantKid || h["typ"] != "JWT" {
			t.Errorf("Alg %q: header %v, want alg %s kid %s typ JWT", tc.alg, h, tc.wantAlg, tc.wantKid)
		}
		p := payloadOf(t, raw)
		if p["at_hash"] != base64.RawURLEncoding.EncodeToString(atHash[:16]) ||
			p["c_hash"] != base64.RawURLEncoding.EncodeToString(cHash[:16]) {
			t.Errorf("Alg %q: at_hash %v, c_hash %v", tc.alg, p["at_hash"], p["c_hash"])
		}
		got, err := f.m.VerifyID(ctx, raw, testIss)
		if err != nil {
			t.Fatalf("Alg %q: VerifyID: %v", tc.alg, err)
		}
		if got.Subject != "user-1" || got.Nonce != f.id().Nonce || got.Extra["email"] != "ana@example.com" || got.Alg != "" {
			t.Errorf("Alg %q: claims %+v", tc.alg, got)
		}
		if kid := verifyWithJWKS(t, f.m, raw, tc.wantAlg); kid != tc.wantKid {
			t.Errorf("Alg %q: kid %s", tc.alg, kid)
		}
	}

	// The ES256 ID key signs without go-jose's signer, with the same header.
	k := f.m.state.Load().idSigning[ES256]
	if k.fast == nil {
		t.Fatal("no fast signer for the ES256 ID key")
	}
	ref, err := k.signer.Sign([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	refRaw, _ := ref.CompactSerialize()
	raw := f.mintIDAlg(t, ES256, "", "")
	if got, want := strings.Split(raw, ".")[0], strings.Split(refRaw, ".")[0]; got != want {
		t.Errorf("ES256 ID header %s, go-jose writes %s", got, want)
	}
	// MintID goes through the fast signer, not go-jose's.
	k.signer = failingSigner{k.signer}
	raw = f.mintIDAlg(t, ES256, access, code)
	if _, err := f.m.VerifyID(ctx, raw, testIss); err != nil {
		t.Fatalf("fast-signed ES256 ID token: %v", err)
	}
	verifyWithJWKS(t, f.m, raw, jose.ES256)
	// An ES256 ID token is not an access token, nor the other way round.
	if _, err := f.m.VerifyAccess(ctx, raw, testIss, nil); err == nil {
		t.Error("ES256 ID token accepted as an access token")
	}
	if _, err := f.m.VerifyID(ctx, access, testIss); err == nil {
		t.Error("access token accepted as an ID token")
	}
}

// TestMintIDHashFollowsAlg: at_hash and c_hash use the hash of the alg asked
// for, not of the configured default (EdDSA: SHA-512; RS256: SHA-256).
func TestMintIDHashFollowsAlg(t *testing.T) {
	f := newFixture(t, func(c *KeyConfig) { c.ExtraIDAlgs = []string{EdDSA} })
	if active, _ := f.idKeys(EdDSA); len(active) != 1 {
		t.Fatalf("EdDSA ID keys after Ensure: %v", active)
	}
	access := f.mintAccess(t)
	code := NewOpaque(PrefixCode)
	raw := f.mintIDAlg(t, EdDSA, access, code)
	if h := headerOf(t, raw); h["alg"] != EdDSA || h["typ"] != "JWT" {
		t.Fatalf("header %v", h)
	}
	at := sha512.Sum512([]byte(access))
	ch := sha512.Sum512([]byte(code))
	p := payloadOf(t, raw)
	if p["at_hash"] != base64.RawURLEncoding.EncodeToString(at[:32]) || p["c_hash"] != base64.RawURLEncoding.EncodeToString(ch[:32]) {
		t.Errorf("at_hash %v, c_hash %v: not SHA-512 halves", p["at_hash"], p["c_hash"])
	}
	if _, err := f.m.VerifyID(t.Context(), raw, testIss); err != nil {
		t.Fatal(err)
	}
	verifyWithJWKS(t, f.m, raw, jose.EdDSA)
}

// TestMintIDRefusesAlgNotOffered: an Alg outside IDAlgorithms, or one with no
// key, is an error; the token is never signed with another algorithm.
func TestMintIDRefusesAlgNotOffered(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []string{EdDSA, "HS256", "none", "rs256", "PS256"} {
		c := f.id()
		c.Alg = alg
		raw, err := f.m.MintID(t.Context(), c)
		if err == nil || raw != "" {
			t.Errorf("Alg %q: minted %q, %v", alg, raw, err)
		}
	}

	// A manager offering EdDSA, on a store without an EdDSA key (Ensure not
	// called): EdDSA fails, it does not fall back to RS256 or ES256.
	m, err := NewKeyManager(f.ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: f.clk.Now, ExtraIDAlgs: []string{EdDSA}})
	if err != nil {
		t.Fatal(err)
	}
	c := f.id()
	c.Alg = EdDSA
	if raw, err := m.MintID(t.Context(), c); err == nil || !strings.Contains(err.Error(), "no EdDSA ID-token signing key") {
		t.Errorf("EdDSA without an EdDSA key: %q, %v", raw, err)
	}
	c.Alg = ""
	if _, err := m.MintID(t.Context(), c); err != nil {
		t.Errorf("default alg: %v", err)
	}
}

// TestIDSignerFallsBackWithinAlg: while another instance is between retiring
// keys and creating new ones, an explicit Alg signs with the newest
// still-published key of that alg and never with one of another alg; Alg ""
// prefers a still-published key of the default alg to an active key of
// another.
func TestIDSignerFallsBackWithinAlg(t *testing.T) {
	f := newFixture(t)
	rs, _ := f.idKeys(RS256)
	es, _ := f.idKeys(ES256)
	// Another instance retired the RS256 ID key and has not created its
	// successor yet; this instance starts now (no Ensure: a plain load).
	f.retireStored(rs[0])
	m, err := NewKeyManager(f.ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	g := &fixture{m: m, ks: f.ks, clk: f.clk}
	for alg, kid := range map[string]string{"": rs[0], RS256: rs[0], ES256: es[0]} {
		raw := g.mintIDAlg(t, alg, "", "")
		if h := headerOf(t, raw); h["kid"] != kid {
			t.Errorf("Alg %q signed by %v (alg %v), want the RS256 key %s", alg, h["kid"], h["alg"], kid)
		}
		if _, err := m.VerifyID(t.Context(), raw, testIss); err != nil {
			t.Fatal(err)
		}
	}

	// Now every ID key is retired: each alg keeps its own key, although the
	// other alg's key has the same age (and may sort first).
	f.retireStored(es[0])
	m, _ = NewKeyManager(f.ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: f.clk.Now})
	g.m = m // a first load, which creates nothing
	for alg, kid := range map[string]string{"": rs[0], RS256: rs[0], ES256: es[0]} {
		if h := headerOf(t, g.mintIDAlg(t, alg, "", "")); h["kid"] != kid {
			t.Errorf("all retired: Alg %q signed by %v, want %s", alg, h["kid"], kid)
		}
	}

	// A store whose only ID key is RS256: ES256 is refused, not RS256-signed.
	h := newFixture(t)
	es2, _ := h.idKeys(ES256)
	h.ks.mu.Lock()
	h.ks.keys = slices.DeleteFunc(h.ks.keys, func(k *store.SigningKey) bool { return k.ID == es2[0] })
	h.ks.mu.Unlock()
	m, _ = NewKeyManager(h.ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: h.clk.Now})
	c := h.id()
	c.Alg = ES256
	if raw, err := m.MintID(t.Context(), c); err == nil {
		t.Errorf("ES256 with only an RS256 ID key: signed %v", headerOf(t, raw))
	}
}

// TestRotateIDAlgs: Rotate makes a new ID key of every ID alg; tokens of each
// alg then carry the new kids, the old ones stay published and their tokens
// keep verifying, and there is one active key per use and alg.
func TestRotateIDAlgs(t *testing.T) {
	f := newFixture(t, func(c *KeyConfig) { c.ExtraIDAlgs = []string{EdDSA} })
	ctx := t.Context()
	algs := f.m.IDAlgorithms()
	old := map[string]string{}    // alg: token
	oldKid := map[string]string{} // alg: kid
	for _, alg := range algs {
		old[alg] = f.mintIDAlg(t, alg, "", "")
		oldKid[alg] = headerOf(t, old[alg])["kid"].(string)
	}
	other := f.manager(t, func(c *KeyConfig) { c.ExtraIDAlgs = []string{EdDSA} }) // loaded before
	f.clk.Advance(time.Minute)
	if err := f.m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	// Publish before use: the old keys sign until the new ones have been
	// published for PublishDelay.
	for _, alg := range algs {
		if kid := headerOf(t, f.mintIDAlg(t, alg, "", ""))["kid"]; kid != oldKid[alg] {
			t.Errorf("%s: signed by %v right after Rotate, want the old key %s", alg, kid, oldKid[alg])
		}
	}
	f.clk.Advance(f.m.PublishDelay())
	for _, alg := range algs {
		active, retired := f.idKeys(alg)
		if len(active) != 1 || len(retired) != 1 || retired[0] != oldKid[alg] {
			t.Errorf("%s ID keys after Rotate: active %v, retired %v (old %s)", alg, active, retired, oldKid[alg])
		}
		raw := f.mintIDAlg(t, alg, "", "")
		kid := headerOf(t, raw)["kid"]
		if kid == oldKid[alg] || len(active) == 1 && kid != active[0] {
			t.Errorf("%s: signed by %v after Rotate, want the new key %v", alg, kid, active)
		}
		for _, r := range []string{old[alg], raw} {
			if _, err := f.m.VerifyID(ctx, r, testIss); err != nil {
				t.Errorf("%s after Rotate: %v", alg, err)
			}
			if _, err := other.VerifyID(ctx, r, testIss); err != nil {
				t.Errorf("%s, other instance after Rotate: %v", alg, err)
			}
		}
	}
	if h := headerOf(t, f.mintIDAlg(t, "", "", "")); h["alg"] != RS256 || h["kid"] == oldKid[RS256] {
		t.Errorf("default after Rotate: %v", h)
	}
	kids := jwksKids(t, f.m)
	if len(kids) != 8 { // access + 3 ID algs, old and new
		t.Errorf("JWKS after Rotate: %d keys, want 8", len(kids))
	}
	for _, kid := range oldKid {
		if !slices.Contains(kids, kid) {
			t.Errorf("old kid %s no longer published", kid)
		}
	}
	if n := len(f.ks.keys); n != 8 {
		t.Errorf("%d stored keys after Rotate, want 8", n)
	}

	// The other instance signs with the new keys too.
	g := &fixture{m: other, ks: f.ks, clk: f.clk}
	for _, alg := range algs {
		active, _ := f.idKeys(alg)
		if kid := headerOf(t, g.mintIDAlg(t, alg, "", ""))["kid"]; kid != active[0] {
			t.Errorf("other instance, %s: kid %v, want %s", alg, kid, active[0])
		}
	}
	if n := len(f.ks.keys); n != 8 {
		t.Errorf("the other instance's reload created keys: %d", n)
	}
}

// TestEnsureIDAlgs: Ensure again, or by another manager, creates nothing;
// a manager offering one more alg adds exactly that key and retires nothing.
func TestEnsureIDAlgs(t *testing.T) {
	f := newFixture(t)
	f.manager(t)
	f.manager(t, func(c *KeyConfig) { c.IDAlg = ES256 })
	if err := f.m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.ks.keys); n != 3 {
		t.Fatalf("%d keys after more Ensure calls, want 3", n)
	}
	m := f.manager(t, func(c *KeyConfig) { c.ExtraIDAlgs = []string{EdDSA} })
	if n := len(f.ks.keys); n != 4 {
		t.Fatalf("%d keys after Ensure with EdDSA, want 4", n)
	}
	for _, k := range f.ks.keys {
		if !k.RetiredAt.IsZero() {
			t.Errorf("%s %s key retired by Ensure", k.Use, k.Algorithm)
		}
	}
	g := &fixture{m: m, ks: f.ks, clk: f.clk}
	if h := headerOf(t, g.mintIDAlg(t, EdDSA, "", "")); h["alg"] != EdDSA {
		t.Errorf("header %v", h)
	}
}

// TestEnsureAddsES256IDKeyToExistingDeployment: a store made before ID keys
// came in several algs has one RS256 ID key. Ensure adds an ES256 one and
// keeps the RS256 key active and in use for the default.
func TestEnsureAddsES256IDKeyToExistingDeployment(t *testing.T) {
	ks := &memKeys{}
	clk := newClock()
	oldVersion, err := NewKeyManager(ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	oldVersion.idAlgs = []string{RS256} // what the previous version created
	if err := oldVersion.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{ks: ks, clk: clk}
	rs, _ := f.idKeys(RS256)
	if es, _ := f.idKeys(ES256); len(rs) != 1 || len(es) != 0 || len(ks.keys) != 2 {
		t.Fatalf("old deployment: %d keys, RS256 %v, ES256 %v", len(ks.keys), rs, es)
	}
	oldToken, err := oldVersion.MintID(t.Context(), f.id())
	if err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute)
	f.m = f.manager(t) // the new version starts
	rs2, rsRetired := f.idKeys(RS256)
	es, _ := f.idKeys(ES256)
	if !slices.Equal(rs2, rs) || len(rsRetired) != 0 || len(es) != 1 || len(ks.keys) != 3 {
		t.Fatalf("after Ensure: %d keys, RS256 active %v retired %v (was %v), ES256 %v", len(ks.keys), rs2, rsRetired, rs, es)
	}
	if kid := headerOf(t, f.mintIDAlg(t, "", "", ""))["kid"]; kid != rs[0] {
		t.Errorf("default signed by %v, want the existing RS256 key %s", kid, rs[0])
	}
	if kid := headerOf(t, f.mintIDAlg(t, ES256, "", ""))["kid"]; kid != es[0] {
		t.Errorf("ES256 signed by %v, want %s", kid, es[0])
	}
	if _, err := f.m.VerifyID(t.Context(), oldToken, testIss); err != nil {
		t.Errorf("token of the old version: %v", err)
	}

	// During a rolling upgrade an old-version instance rotates: it retires
	// every ID key and creates only an RS256 one. The new version keeps
	// signing ES256 with the retired ES256 key (not RS256) until its next
	// periodic reload creates an ES256 key.
	if err := oldVersion.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	raw := f.mintIDAlg(t, ES256, "", "") // the snapshot from before the Rotate
	if h := headerOf(t, raw); h["alg"] != ES256 || h["kid"] != es[0] {
		t.Errorf("before reload: %v", h)
	}
	// A fresh instance (first load, which creates nothing) does the same.
	fresh, _ := NewKeyManager(ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: clk.Now})
	g := &fixture{m: fresh, ks: ks, clk: clk}
	if h := headerOf(t, g.mintIDAlg(t, ES256, "", "")); h["alg"] != ES256 || h["kid"] != es[0] {
		t.Errorf("fresh instance before any ES256 key is active: %v", h)
	}
	f.clk.Advance(defaultRefresh)
	raw = f.mintIDAlg(t, ES256, "", "") // periodic reload, with creation
	esNow, esRetired := f.idKeys(ES256)
	if len(esNow) != 1 || !slices.Equal(esRetired, es) || headerOf(t, raw)["kid"] != es[0] {
		t.Errorf("after reload: ES256 active %v retired %v, token %v (the new key is published before use)", esNow, esRetired, headerOf(t, raw))
	}
	f.clk.Advance(f.m.PublishDelay())
	if kid := headerOf(t, f.mintIDAlg(t, ES256, "", ""))["kid"]; len(esNow) != 1 || kid != esNow[0] {
		t.Errorf("once published: ES256 signed by %v, want %v", kid, esNow)
	}
}

// TestEnsureConcurrentIDAlgs: instances starting at once may each create ID
// keys; after a reload they all sign each alg with the same key and verify
// each other's tokens.
func TestEnsureConcurrentIDAlgs(t *testing.T) {
	ks := &memKeys{}
	clk := newClock()
	ms := ensureAtOnce(t, ks, clk, 4)
	clk.Advance(time.Minute)
	f := &fixture{ks: ks, clk: clk}
	for _, alg := range []string{"", RS256, ES256} {
		var kids []string
		for _, m := range ms {
			f.m = m
			raw := f.mintIDAlg(t, alg, "", "")
			kids = append(kids, headerOf(t, raw)["kid"].(string))
			for _, v := range ms {
				if _, err := v.VerifyID(t.Context(), raw, testIss); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(slices.Compact(slices.Clone(kids))) != 1 {
			t.Errorf("Alg %q: instances sign with different keys: %v", alg, kids)
		}
	}
}

// failingSigner stands for go-jose's signer where it must not be used.
type failingSigner struct{ jose.Signer }

func (failingSigner) Sign([]byte) (*jose.JSONWebSignature, error) {
	return nil, errors.New("go-jose signer used")
}

// timedKeys records when ID keys were last retired and created.
type timedKeys struct {
	*memKeys
	mu                 sync.Mutex
	retired, lastStore time.Time
}

func (s *timedKeys) RetireSigningKeys(ctx context.Context, use string, now time.Time, keep time.Duration) error {
	err := s.memKeys.RetireSigningKeys(ctx, use, now, keep)
	if use == UseID {
		s.mu.Lock()
		s.retired = time.Now()
		s.mu.Unlock()
	}
	return err
}

func (s *timedKeys) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	if k.Use == UseID {
		s.mu.Lock()
		s.lastStore = time.Now()
		s.mu.Unlock()
	}
	return s.memKeys.CreateSigningKey(ctx, k)
}

// TestRotateGeneratesBeforeRetiring: Rotate generates the new keys before it
// retires the old ones, so the time other instances see no active ID key
// (and may create one themselves) does not include an RSA key generation.
// Timed, so a slow scheduler gets three tries; without the ordering every
// try takes at least one RSA-2048 generation (tens of milliseconds).
func TestRotateGeneratesBeforeRetiring(t *testing.T) {
	ks := &timedKeys{memKeys: &memKeys{}}
	clk := newClock()
	m, err := NewKeyManager(ks, KeyConfig{Secret: testSecret, MaxTokenTTL: testTTL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	var gaps []time.Duration
	for range 3 {
		clk.Advance(time.Minute)
		if err := m.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		ks.mu.Lock()
		gap := ks.lastStore.Sub(ks.retired)
		ks.mu.Unlock()
		if gap < 2*time.Millisecond {
			return
		}
		gaps = append(gaps, gap)
	}
	t.Errorf("between retiring the ID keys and storing the last new one: %v", gaps)
}
