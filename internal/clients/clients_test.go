package clients

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/oauth"
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
	if upd.Name != nil {
		c.Name = *upd.Name
	}
	if upd.RedirectURIs != nil {
		c.RedirectURIs = *upd.RedirectURIs
	}
	if upd.Disabled != nil {
		c.Disabled = *upd.Disabled
	}
	if upd.IDTokenAlg != nil {
		c.IDTokenAlg = *upd.IDTokenAlg
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
		"symmetric alg":   {Name: "x", Grants: []string{"password"}, IDTokenAlg: "HS256"},
		"none alg":        {Name: "x", Grants: []string{"password"}, IDTokenAlg: "none"},
		"alg not offered": {Name: "x", Grants: []string{"password"}, IDTokenAlg: "EdDSA"},
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

func TestIDTokenAlg(t *testing.T) {
	st := &memStore{clients: map[string]*store.Client{}}
	now := time.Unix(1700000000, 0)
	c, _, err := Create(t.Context(), st, CreateInput{Name: "App", Grants: []string{"password"}}, now)
	if err != nil || c.IDTokenAlg != "" {
		t.Fatalf("default: %v %q, want the server default (\"\")", err, c.IDTokenAlg)
	}
	c, _, err = Create(t.Context(), st, CreateInput{Name: "App", Grants: []string{"password"}, IDTokenAlg: "ES256"}, now)
	if err != nil || c.IDTokenAlg != "ES256" {
		t.Fatalf("ES256: %v %q", err, c.IDTokenAlg)
	}
	ed := CreateInput{Name: "App", Grants: []string{"password"}, IDTokenAlg: "EdDSA", IDTokenAlgs: []string{"EdDSA", "RS256", "ES256"}}
	if c, _, err := Create(t.Context(), st, ed, now); err != nil || c.IDTokenAlg != "EdDSA" {
		t.Fatalf("EdDSA offered: %v", err)
	}
	back, bad := "", "PS256"
	got, err := Update(t.Context(), st, c, UpdateInput{IDTokenAlg: &back}, now)
	if err != nil || got.IDTokenAlg != "" {
		t.Fatalf("back to default: %v %q", err, got.IDTokenAlg)
	}
	var ie *InputError
	if _, err := Update(t.Context(), st, c, UpdateInput{IDTokenAlg: &bad}, now); !errors.As(err, &ie) || ie.Field != "id_token_signed_response_alg" {
		t.Fatalf("PS256: %v", err)
	}
}

func TestSelfService(t *testing.T) {
	st := &memStore{clients: map[string]*store.Client{}}
	now := time.Unix(1700000000, 0)
	cb := []string{"https://app.example.com/cb"}
	c, _, err := Create(t.Context(), st, CreateInput{Name: "Mía", RedirectURIs: cb, OwnerID: "u1", SelfService: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"authorization_code", "refresh_token"}; !slices.Equal(c.Grants, want) {
		t.Errorf("grants %v, want %v", c.Grants, want)
	}
	var ie *InputError
	for name, in := range map[string]CreateInput{
		"password":           {Grants: []string{"password"}},
		"client credentials": {Grants: []string{"authorization_code", "client_credentials"}},
		"device":             {Grants: []string{store.GrantDeviceCode}},
		"legacy":             {Legacy: true},
		"no owner":           {OwnerID: "-"},
	} {
		in.Name, in.RedirectURIs, in.SelfService = "x", cb, true
		if in.OwnerID == "" {
			in.OwnerID = "u1"
		} else {
			in.OwnerID = ""
		}
		if _, _, err := Create(t.Context(), st, in, now); !errors.As(err, &ie) || ie.Spanish == "" || ie.English == "" {
			t.Errorf("%s: err = %v, want a bilingual *InputError", name, err)
		}
	}
}

func TestUpdate(t *testing.T) {
	st := &memStore{clients: map[string]*store.Client{}}
	now := time.Unix(1700000000, 0)
	c, _, err := Create(t.Context(), st, CreateInput{Name: "App", RedirectURIs: []string{"https://a.example.com/cb"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	name, uris, off := "  Nueva  ", []string{"https://b.example.com/cb", "https://b.example.com/cb", "com.example.app:/cb"}, true
	got, err := Update(t.Context(), st, c, UpdateInput{Name: &name, RedirectURIs: &uris, Disabled: &off}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Nueva" || !slices.Equal(got.RedirectURIs, []string{"https://b.example.com/cb", "com.example.app:/cb"}) || !got.Disabled {
		t.Errorf("updated %+v", got)
	}
	var ie *InputError
	empty, long, none, bad := "", strings.Repeat("x", 101), []string{}, []string{"http://evil.example.com/cb"}
	for name, in := range map[string]UpdateInput{
		"empty name":  {Name: &empty},
		"long name":   {Name: &long},
		"no redirect": {RedirectURIs: &none},
		"bad":         {RedirectURIs: &bad},
	} {
		if _, err := Update(t.Context(), st, got, in, now); !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want *InputError", name, err)
		} else if ie.Field != "name" && ie.Field != "redirect_uri" {
			t.Errorf("%s: field %q", name, ie.Field)
		}
	}
}

func TestSplitRedirectURIs(t *testing.T) {
	got := SplitRedirectURIs(" https://a.example.com/cb\r\nhttps://b.example.com/cb  com.example.app:/cb\n")
	want := []string{"https://a.example.com/cb", "https://b.example.com/cb", "com.example.app:/cb"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
}

// The scopes operators may register are the ones the protocol layer knows
// exist (oauth.IsBuiltinScope tells "does not exist" from "not allowed").
func TestBuiltinScopesKnownToOAuth(t *testing.T) {
	for _, s := range BuiltinScopes {
		if !oauth.IsBuiltinScope(s) {
			t.Errorf("%s is offered to operators but unknown to oauth", s)
		}
	}
	for _, s := range []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeVoucher, oauth.ScopeOfflineAccess, oauth.ScopeAccount} {
		if !slices.Contains(BuiltinScopes, s) {
			t.Errorf("%s is known to oauth but not offered to operators", s)
		}
	}
}
