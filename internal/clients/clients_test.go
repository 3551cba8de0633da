package clients

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
)

func TestValidateRedirectURI(t *testing.T) {
	good := []string{
		"https://app.example.com/cb",
		"https://app.example.com/cb?x=1",
		"http://127.0.0.1/cb",
		"http://127.0.0.1:8765/cb",
		"http://[::1]:8765/cb",
		"http://localhost:3000/cb",
		"com.example.app:/oauth2redirect",
	}
	for _, u := range good {
		if err := ValidateRedirectURI(u); err != nil {
			t.Errorf("ValidateRedirectURI(%q) = %v, want nil", u, err)
		}
	}
	bad := []string{
		"",
		"/relative/cb",
		"app.example.com/cb",
		"https://app.example.com/cb#frag",
		"https://app.example.com/cb#",
		"http://app.example.com/cb",
		"http://127.0.0.1.evil.com/cb",
		"myapp:/cb",
		"javascript:alert(1)",
		"https://user:pass@app.example.com/cb",
		"https:///cb",
	}
	for _, u := range bad {
		if err := ValidateRedirectURI(u); err == nil {
			t.Errorf("ValidateRedirectURI(%q) = nil, want error", u)
		}
	}
}

type memStore struct{ clients map[string]*store.Client }

func (m *memStore) CreateClient(_ context.Context, c *store.Client) error {
	m.clients[c.ID] = c
	return nil
}

func (m *memStore) UpdateClient(_ context.Context, id string, upd store.ClientUpdate, _ time.Time) (*store.Client, error) {
	c, ok := m.clients[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	if upd.SecretHash != nil {
		c.SecretHash = upd.SecretHash
	}
	return c, nil
}

func TestCreate(t *testing.T) {
	st := &memStore{clients: map[string]*store.Client{}}
	now := time.Unix(1700000000, 0)
	c, secret, err := Create(t.Context(), st, CreateInput{Name: "App", Grants: []string{"password", "refresh_token"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 43 || c.Type != store.ClientConfidential {
		t.Fatalf("secret %q type %q", secret, c.Type)
	}
	if string(c.SecretHash) != string(store.HashToken(secret)) {
		t.Fatal("secret hash does not match")
	}
	old := c.SecretHash
	s2, err := RotateSecret(t.Context(), st, c, now)
	if err != nil || s2 == secret || string(st.clients[c.ID].SecretHash) == string(old) {
		t.Fatalf("rotate: %v", err)
	}

	pub, secret, err := Create(t.Context(), st, CreateInput{Name: "SPA", Type: "public", RedirectURIs: []string{"https://spa.example.com/cb"}}, now)
	if err != nil || secret != "" || pub.SecretHash != nil {
		t.Fatalf("public client: %v %q", err, secret)
	}

	var ie *InputError
	for name, in := range map[string]CreateInput{
		"no name":         {Grants: []string{"password"}},
		"bad type":        {Name: "x", Type: "secret", Grants: []string{"password"}},
		"bad grant":       {Name: "x", Grants: []string{"implicit"}},
		"bad scope":       {Name: "x", Grants: []string{"password"}, Scopes: []string{"admin"}},
		"code no uri":     {Name: "x", Grants: []string{"authorization_code"}},
		"public cc":       {Name: "x", Type: "public", Grants: []string{"client_credentials"}},
		"bad redirect":    {Name: "x", RedirectURIs: []string{"http://evil.com/cb"}},
		"bad post logout": {Name: "x", Grants: []string{"password"}, PostLogoutRedirectURIs: []string{"x"}},
	} {
		n := len(st.clients)
		if _, _, err := Create(t.Context(), st, in, now); !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want *InputError", name, err)
		}
		if len(st.clients) != n {
			t.Errorf("%s: a client was stored", name)
		}
	}
}
