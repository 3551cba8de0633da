package resourceserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/pkg/resourceserver"
)

// multinexo is a real Multinexo Auth server on a loopback port with one
// protected resource and one client_credentials client allowed its scope.
type multinexo struct {
	issuer, resource string
	clientID, secret string
	srv              *server.Server
}

// startMultinexo starts it in dir; stop closes it.
func startMultinexo(dir, resource string) (m *multinexo, stop func(), err error) {
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(context.Background(), server.Config{
		Global: config.Global{DB: "sqlite:" + filepath.Join(dir, "m.db"), Secret: strings.Repeat("s3cr3t-", 6), LogLevel: "error"},
		Serve:  config.Serve{Issuer: issuer, AccessTTL: 900 * time.Second, AccessAlg: "ES256", IDAlg: "RS256"},
		Log:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, nil, err
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	stop = func() { ts.Close(); srv.Close() }
	ctx := context.Background()
	if err := srv.Store.CreateResource(ctx, &store.Resource{URI: resource, Name: "Notas", Scopes: []string{"notes:read"}}); err != nil {
		stop()
		return nil, nil, err
	}
	c, secret, err := clients.Create(ctx, srv.Store, clients.CreateInput{Name: "Agente",
		Grants: []string{store.GrantClientCredentials}, Scopes: []string{"notes:read", "voucher"},
		KnownScopes: append(clients.BuiltinScopes, "notes:read")}, time.Now())
	if err != nil {
		stop()
		return nil, nil, err
	}
	return &multinexo{issuer: issuer, resource: resource, clientID: c.ID, secret: secret, srv: srv}, stop, nil
}

// token asks Multinexo for a client_credentials token with the given
// scope and resource parameters ("" leaves one out).
func (m *multinexo) token(scope, resource string) (string, error) {
	v := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		v.Set("scope", scope)
	}
	if resource != "" {
		v.Set("resource", resource)
	}
	req, _ := http.NewRequest(http.MethodPost, m.issuer+"/auth/v1/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(m.clientID, m.secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return "", err
	}
	if body.Error != "" {
		return "", errors.New(body.Error)
	}
	return body.AccessToken, nil
}

// TestAgainstMultinexo: tokens the real server issues for this resource
// pass; a token for the server's own API (no resource) does not; the
// scope check; introspection mode sees a revocation at once.
func TestAgainstMultinexo(t *testing.T) {
	m, stop, err := startMultinexo(t.TempDir(), "https://notes.example/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := t.Context()
	s, err := resourceserver.New(ctx, resourceserver.Config{Issuer: m.issuer, Resource: m.resource})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.token("notes:read", m.resource)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(ctx, tok)
	if err != nil || c.Subject != m.clientID || !c.HasScope("notes:read") {
		t.Fatalf("a token for this resource: %+v %v", c, err)
	}
	own, err := m.token("voucher", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, own); !errors.Is(err, resourceserver.ErrInvalidToken) {
		t.Fatalf("a token for the issuer's own API was accepted: %v", err)
	}
	if _, err := m.token("notes:read", "https://unregistered.example/"); err == nil || err.Error() != "invalid_target" {
		t.Fatalf("unregistered resource: %v", err)
	}

	// Introspection mode: the resource server authenticates as a
	// confidential client; a revoked token stops at once.
	is, err := resourceserver.New(ctx, resourceserver.Config{Issuer: m.issuer, Resource: m.resource,
		Introspection: &resourceserver.ClientCredentials{ClientID: m.clientID, ClientSecret: m.secret}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Verify(ctx, tok); err != nil {
		t.Fatalf("introspection of a live token: %v", err)
	}
	if _, err := s.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, m.issuer+"/auth/v1/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(m.clientID, m.secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", res, err)
	}
	res.Body.Close()
	if _, err := is.Verify(ctx, tok); !errors.Is(err, resourceserver.ErrInvalidToken) {
		t.Fatalf("introspection mode accepted a revoked token: %v", err)
	}
	// Without introspection the signature alone still holds until exp: the
	// trade-off the option exists for.
	if _, err := s.Verify(ctx, tok); err != nil {
		t.Fatalf("JWT mode: %v", err)
	}
}
