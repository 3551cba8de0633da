package resourceserver_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/pkg/resourceserver"
)

const resource = "https://notes.example/mcp"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestHandMadeTokens: every rule of the verifier, each against a token
// that breaks only that rule.
func TestHandMadeTokens(t *testing.T) {
	f := newFakeIssuer(t)
	clk := &clock{t: time.Now().Truncate(time.Second)}
	s, err := resourceserver.New(t.Context(), resourceserver.Config{Issuer: f.srv.URL, Resource: resource,
		Now: clk.Now, Leeway: 10 * time.Second, MinRefetchInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	good := f.sign(t, "k1", "at+jwt", f.claims(resource, now))
	c, err := s.Verify(t.Context(), good)
	if err != nil || c.Subject != "user-1" || c.ClientID != "agent" || !c.HasScope("notes:read") {
		t.Fatalf("good token: %+v %v", c, err)
	}
	if _, err := s.Verify(t.Context(), f.sign(t, "k1", "application/at+jwt", f.claims(resource, now))); err != nil {
		t.Errorf("typ application/at+jwt: %v", err)
	}
	multi := f.claims(resource, now, "aud", []string{"https://other.example/", resource})
	if _, err := s.Verify(t.Context(), f.sign(t, "k1", "at+jwt", multi)); err != nil {
		t.Errorf("aud array containing the resource: %v", err)
	}
	bad := map[string]string{
		"wrong aud":          f.sign(t, "k1", "at+jwt", f.claims("https://other.example/", now)),
		"aud array without":  f.sign(t, "k1", "at+jwt", f.claims(resource, now, "aud", []string{"https://other.example/"})),
		"no aud":             f.sign(t, "k1", "at+jwt", f.claims(resource, now, "aud", nil)),
		"expired":            f.sign(t, "k1", "at+jwt", f.claims(resource, now, "exp", now.Add(-11*time.Second).Unix())),
		"no exp":             f.sign(t, "k1", "at+jwt", f.claims(resource, now, "exp", nil)),
		"not yet valid":      f.sign(t, "k1", "at+jwt", f.claims(resource, now, "nbf", now.Add(time.Minute).Unix())),
		"issued in future":   f.sign(t, "k1", "at+jwt", f.claims(resource, now, "iat", now.Add(time.Minute).Unix())),
		"wrong iss":          f.sign(t, "k1", "at+jwt", f.claims(resource, now, "iss", "https://evil.example")),
		"typ JWT (ID token)": f.sign(t, "k1", "JWT", f.claims(resource, now)),
		"no typ":             f.sign(t, "k1", "", f.claims(resource, now)),
		"no sub":             f.sign(t, "k1", "at+jwt", f.claims(resource, now, "sub", nil)),
		"alg none":           unsigned(f.claims(resource, now)),
		"tampered":           tamper(good),
		"garbage":            "not.a.jwt",
	}
	for name, tok := range bad {
		if _, err := s.Verify(t.Context(), tok); !errors.Is(err, resourceserver.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
	// Within the leeway: still good.
	if _, err := s.Verify(t.Context(), f.sign(t, "k1", "at+jwt", f.claims(resource, now, "exp", now.Add(-5*time.Second).Unix()))); err != nil {
		t.Errorf("expired within the leeway: %v", err)
	}
}

// TestUnknownKid: a token with an unknown kid makes the JWKS be fetched
// again — once per MinRefetchInterval, however many such tokens come — so
// a rotated key is picked up and made-up kids cannot flood the issuer.
func TestUnknownKid(t *testing.T) {
	f := newFakeIssuer(t)
	clk := &clock{t: time.Now().Truncate(time.Second)}
	s, err := resourceserver.New(t.Context(), resourceserver.Config{Issuer: f.srv.URL, Resource: resource,
		Now: clk.Now, MinRefetchInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	base := f.fetches.Load()
	f.addKey(t, "k2", false) // not published yet
	for range 20 {
		tok := f.sign(t, "k2", "at+jwt", f.claims(resource, clk.Now()))
		if _, err := s.Verify(t.Context(), tok); !errors.Is(err, resourceserver.ErrInvalidToken) {
			t.Fatalf("unpublished kid: %v", err)
		}
	}
	if n := f.fetches.Load() - base; n != 1 {
		t.Fatalf("%d JWKS fetches for 20 tokens with an unknown kid, want 1", n)
	}
	// Published now (a rotation): after the interval the next token makes
	// one more fetch and is accepted; later ones need none.
	f.publish("k2")
	clk.Add(time.Minute)
	for range 3 {
		if _, err := s.Verify(t.Context(), f.sign(t, "k2", "at+jwt", f.claims(resource, clk.Now()))); err != nil {
			t.Fatalf("rotated key: %v", err)
		}
	}
	if n := f.fetches.Load() - base; n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
}

// TestNewChecksIssuer: metadata naming another issuer is refused (RFC
// 8414 §3.3), and so are a missing resource or one with a fragment.
func TestNewChecksIssuer(t *testing.T) {
	f := newFakeIssuer(t)
	if _, err := resourceserver.New(t.Context(), resourceserver.Config{Issuer: f.srv.URL + "/", Resource: resource}); err == nil {
		t.Error("an issuer differing from the metadata's was accepted")
	}
	for _, r := range []string{"", "notes.example/mcp", resource + "#x"} {
		if _, err := resourceserver.New(t.Context(), resourceserver.Config{Issuer: f.srv.URL, Resource: r}); err == nil {
			t.Errorf("resource %q accepted", r)
		}
	}
	if _, err := resourceserver.New(t.Context(), resourceserver.Config{Issuer: f.srv.URL, Resource: resource,
		Introspection: &resourceserver.ClientCredentials{ClientID: "x", ClientSecret: "y"}}); err == nil {
		t.Error("introspection mode without an introspection_endpoint was accepted")
	}
}

// TestChallenges: the middleware's answers (RFC 6750 §3, RFC 9728 §5.1)
// and the metadata document at the RFC 9728 §3.1 path.
func TestChallenges(t *testing.T) {
	f := newFakeIssuer(t)
	s, err := resourceserver.New(t.Context(), resourceserver.Config{Issuer: f.srv.URL, Resource: resource,
		ScopesSupported: []string{"notes:read", "notes:write"}, ResourceName: "Notas"})
	if err != nil {
		t.Fatal(err)
	}
	if s.MetadataPath() != "/.well-known/oauth-protected-resource/mcp" || s.MetadataURL() != "https://notes.example/.well-known/oauth-protected-resource/mcp" {
		t.Fatalf("metadata at %s (%s)", s.MetadataPath(), s.MetadataURL())
	}
	h := s.Require("notes:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := resourceserver.FromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		_, _ = w.Write([]byte("hola " + c.Subject))
	}))
	call := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	meta := `resource_metadata="https://notes.example/.well-known/oauth-protected-resource/mcp"`

	r := call("")
	if r.Code != 401 || !strings.HasPrefix(r.Header().Get("WWW-Authenticate"), "Bearer ") ||
		!strings.Contains(r.Header().Get("WWW-Authenticate"), meta) || strings.Contains(r.Header().Get("WWW-Authenticate"), "error=") {
		t.Errorf("no token: %d %q", r.Code, r.Header().Get("WWW-Authenticate"))
	}
	for _, auth := range []string{"Bearer bad", "Basic dXNlcjpwdw==", "Bearer ", "Bearer a b"} {
		r = call(auth)
		if r.Code != 401 || !strings.Contains(r.Header().Get("WWW-Authenticate"), `error="invalid_token"`) ||
			!strings.Contains(r.Header().Get("WWW-Authenticate"), meta) {
			t.Errorf("%q: %d %q", auth, r.Code, r.Header().Get("WWW-Authenticate"))
		}
	}
	now := time.Now()
	r = call("Bearer " + f.sign(t, "k1", "at+jwt", f.claims(resource, now, "scope", "notes:write")))
	if r.Code != 403 || !strings.Contains(r.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(r.Header().Get("WWW-Authenticate"), `scope="notes:read"`) {
		t.Errorf("insufficient scope: %d %q", r.Code, r.Header().Get("WWW-Authenticate"))
	}
	r = call("bearer " + f.sign(t, "k1", "at+jwt", f.claims(resource, now)))
	if r.Code != 200 || r.Body.String() != "hola user-1" {
		t.Errorf("good token: %d %s", r.Code, r.Body)
	}

	rec := httptest.NewRecorder()
	s.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, s.MetadataPath(), nil))
	body := rec.Body.String()
	for _, want := range []string{`"resource":"` + resource + `"`, `"authorization_servers":["` + f.srv.URL + `"]`,
		`"scopes_supported":["notes:read","notes:write"]`, `"bearer_methods_supported":["header"]`, `"resource_name":"Notas"`} {
		if !strings.Contains(body, want) {
			t.Errorf("metadata %s lacks %s", body, want)
		}
	}
}
