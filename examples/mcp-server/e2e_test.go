package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
)

// stack is Multinexo, this MCP server and (for the metadata-document
// client) the client's document, all on loopback.
type stack struct {
	issuer, mcpURL string
}

const (
	email    = "ana@example.com"
	password = "una contraseña larga"
)

// start runs Multinexo (metadata documents on loopback, open dynamic
// registration) with the MCP server registered as a resource, and Ana's
// account. docCA is the metadata document server's certificate.
func start(t *testing.T, docCA *x509.Certificate) *stack {
	t.Helper()
	ms := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ms.Listener.Addr().String()
	pool := x509.NewCertPool()
	if docCA != nil {
		pool.AddCert(docCA)
	}
	srv, err := server.New(t.Context(), server.Config{
		Global:      config.Global{DB: "sqlite:" + filepath.Join(t.TempDir(), "m.db"), Secret: strings.Repeat("s3cr3t-", 6), LogLevel: "error"},
		Serve:       config.Serve{Issuer: issuer, AccessTTL: 900 * time.Second, AccessAlg: "ES256", IDAlg: "RS256", CIMD: "on", CIMDLoopback: true, Registration: "open"},
		Log:         slog.New(slog.DiscardHandler),
		CIMDRootCAs: pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ms.Config.Handler = srv.Handler()
	ms.Start()
	t.Cleanup(ms.Close)
	if _, err := srv.Accounts.Register(t.Context(), account.RegisterInput{Email: email, Password: password, FirstName: "Ana", LastName: "Pérez"}); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mcpURL := "http://" + ln.Addr().String() + "/mcp"
	if err := srv.Store.CreateResource(t.Context(), &store.Resource{URI: mcpURL, Name: "Ejemplo MCP", Scopes: []string{Scope}}); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(t.Context(), Config{Issuer: issuer, Resource: mcpURL})
	if err != nil {
		t.Fatal(err)
	}
	mcpSrv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	mcpSrv.Start()
	t.Cleanup(mcpSrv.Close)
	return &stack{issuer: issuer, mcpURL: mcpURL}
}

// callWhoami connects a real MCP client (the Go SDK's, with its OAuth
// handler) and calls the tool.
func callWhoami(t *testing.T, s *stack, h auth.OAuthHandler) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-client", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("call whoami: %v", err)
	}
	if res.IsError || len(res.Content) == 0 {
		t.Fatalf("whoami: %+v", res)
	}
	return res.Content[0].(*mcp.TextContent).Text
}

// TestMCPClientWithMetadataDocument: the SDK's client gets the 401, reads
// the resource metadata, finds Multinexo, identifies itself with a client
// ID metadata document served over TLS on loopback, runs the code flow
// with PKCE and resource, and calls the tool as Ana.
func TestMCPClientWithMetadataDocument(t *testing.T) {
	cb := newCallback(t)
	doc := httptest.NewTLSServer(nil)
	defer doc.Close()
	clientID := doc.URL + "/client.json"
	doc.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"client_id": clientID, "client_name": "Cliente MCP de prueba",
			"redirect_uris": []string{cb.url()}, "grant_types": []string{"authorization_code", "refresh_token"},
			"response_types": []string{"code"}, "token_endpoint_auth_method": "none"})
	})
	s := start(t, doc.Certificate())

	// Without a token: 401 naming the metadata, which names Multinexo.
	res, err := http.Post(s.mcpURL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `resource_metadata="`) {
		t.Fatalf("unauthenticated: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}

	host := strings.TrimPrefix(doc.URL, "https://")
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		ClientIDMetadataDocumentConfig: &auth.ClientIDMetadataDocumentConfig{URL: clientID},
		RedirectURL:                    cb.url(),
		AuthorizationCodeFetcher: browserFetcher(t, s, cb, wantConsent(t, "Cliente MCP de prueba", host,
			"No está registrada con el operador", "Ejemplo MCP", s.mcpURL)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := callWhoami(t, s, h); got != "Hola, Ana Pérez" {
		t.Fatalf("whoami = %q", got)
	}
}

// TestMCPClientWithDynamicRegistration: the same with RFC 7591 dynamic
// registration instead of a metadata document.
func TestMCPClientWithDynamicRegistration(t *testing.T) {
	cb := newCallback(t)
	s := start(t, nil)
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{cb.url()}, TokenEndpointAuthMethod: "none", ClientName: "Cliente MCP registrado",
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		}},
		AuthorizationCodeFetcher: browserFetcher(t, s, cb, wantConsent(t, "Cliente MCP registrado", "Ejemplo MCP")),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := callWhoami(t, s, h); got != "Hola, Ana Pérez" {
		t.Fatalf("whoami = %q", got)
	}
}
