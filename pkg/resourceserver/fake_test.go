package resourceserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeIssuer is a minimal authorization server publishing RFC 8414
// metadata and a JWKS with keys the test controls, to sign hand-made
// tokens the real server would never issue.
type fakeIssuer struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      map[string]*ecdsa.PrivateKey
	published []string // kids in the JWKS
	fetches   atomic.Int32
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{keys: map[string]*ecdsa.PrivateKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		var set jose.JSONWebKeySet
		for _, kid := range f.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &f.keys[kid].PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.addKey(t, "k1", true)
	return f
}

// addKey makes a key; publish puts it in the JWKS.
func (f *fakeIssuer) addKey(t *testing.T, kid string, publish bool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[kid] = k
	if publish {
		f.published = append(f.published, kid)
	}
}

func (f *fakeIssuer) publish(kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, kid)
}

// sign makes a compact JWS of claims with key kid and header typ.
func (f *fakeIssuer) sign(t *testing.T, kid, typ string, claims map[string]any) string {
	t.Helper()
	f.mu.Lock()
	k := f.keys[kid]
	f.mu.Unlock()
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// claims are good claims for resource at now, changed by kv.
func (f *fakeIssuer) claims(resource string, now time.Time, kv ...any) map[string]any {
	c := map[string]any{
		"iss": f.srv.URL, "sub": "user-1", "aud": resource, "client_id": "agent",
		"scope": "notes:read", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "j1",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}
