package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/testenv"
)

// toLoopback resolves every name to 127.0.0.1: a public-looking name
// pointing inside.
type toLoopback struct{}

func (toLoopback) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestClientIDMetadataDocument: a client nobody registered identifies
// itself with a document served (over TLS) on loopback; the person sees
// its host and that it is not registered, authorizes with PKCE and a
// resource, the client gets a token for that resource, the connection is
// listed and revoking it ends the grant. A name resolving to 127.0.0.1 is
// refused; with --cimd off the URL is an unknown client.
func TestClientIDMetadataDocument(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testCIMD(t, backend) })
	}
}

func testCIMD(t *testing.T, backend string) {
	doc := httptest.NewTLSServer(nil)
	defer doc.Close()
	clientID := doc.URL + "/oauth/client.json"
	const cb = "http://127.0.0.1:4567/callback"
	doc.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_ = json.NewEncoder(w).Encode(map[string]any{"client_id": clientID, "client_name": "Agente MCP",
			"redirect_uris": []string{cb}, "grant_types": []string{"authorization_code", "refresh_token"},
			"token_endpoint_auth_method": "none"})
	})
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv := newServer(t, backend, issuer, func(c *server.Config) {
		c.Serve.CIMD, c.Serve.CIMDLoopback = "on", true
		c.CIMDRootCAs = certPool(doc)
		c.Resolver = toLoopback{}
	})
	ts.Config.Handler = srv.Handler()
	ts.Start()
	defer ts.Close()
	e := &env{srv: srv, issuer: issuer}
	const resource = "https://notes.example/mcp"
	if err := srv.Store.CreateResource(t.Context(), &store.Resource{URI: resource, Name: "Notas", Scopes: []string{"notes:read"}}); err != nil {
		t.Fatal(err)
	}
	e.user(t, "ana@example.com", "una contraseña larga")
	p := testenv.NewPerson(t, issuer, "ana@example.com", "una contraseña larga")

	var meta map[string]any
	getJSON(t, issuer+"/.well-known/oauth-authorization-server", &meta)
	if meta["client_id_metadata_document_supported"] != true {
		t.Errorf("discovery: %v", meta["client_id_metadata_document_supported"])
	}

	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {cb}, "state": {"st"},
		"scope": {"openid profile notes:read"}, "resource": {resource},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	host := strings.TrimPrefix(doc.URL, "https://")
	loc := p.Authorize(issuer+"/auth/v1/authorize?"+q.Encode(), func(page string) {
		if !strings.Contains(page, "Agente MCP") || !strings.Contains(page, "<strong>"+host+"</strong>") ||
			!strings.Contains(page, "No está registrada con el operador") || !strings.Contains(page, "Notas") {
			t.Errorf("consent page does not show the host and that the client is not registered: %s", page)
		}
	})
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("iss") != issuer {
		t.Fatalf("redirect %s", loc)
	}
	tok := tokenForm(t, issuer+"/auth/v1/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {cb}, "client_id": {clientID}, "code_verifier": {verifier}, "resource": {resource}})
	if tok["access_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("token: %v", tok)
	}
	claims := jwtClaims(t, tok["access_token"].(string))
	if claims["aud"] != resource || claims["client_id"] != clientID || claims["name"] != "Ana Pérez" {
		t.Errorf("access token claims %v", claims)
	}

	// Connected applications lists it; revoking ends the grant.
	res, body := p.Do(http.MethodGet, issuer+"/account/connections", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "Agente MCP") {
		t.Fatalf("connections: %d %s", res.StatusCode, body)
	}
	revokeURL := issuer + "/account/connections/" + url.PathEscape(clientID) + "/revoke"
	res, body = p.Do(http.MethodGet, revokeURL, nil)
	if res.StatusCode != 200 {
		t.Fatalf("revoke page: %d %s", res.StatusCode, body)
	}
	f := url.Values{}
	for _, m := range regexpHidden.FindAllStringSubmatch(body, -1) {
		f.Set(m[1], m[2])
	}
	// Post where the confirmation page's form posts (the URL client_id
	// escaped into one path segment).
	action := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(body)
	if action == nil || html.UnescapeString(action[1]) != "/account/connections/"+url.PathEscape(clientID)+"/revoke" {
		t.Fatalf("revoke form action %v", action)
	}
	if res, body = p.Do(http.MethodPost, issuer+html.UnescapeString(action[1]), f); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", res.StatusCode, body)
	}
	again := tokenForm(t, issuer+"/auth/v1/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tok["refresh_token"].(string)}, "client_id": {clientID}})
	if again["error"] != "invalid_grant" {
		t.Fatalf("refresh after revoking the connection: %v", again)
	}

	// A name that resolves to 127.0.0.1 is refused (error page, no redirect).
	evil := "https://metadata.evil.example/client.json"
	q.Set("client_id", evil)
	res, body = p.Do(http.MethodGet, issuer+"/auth/v1/authorize?"+q.Encode(), nil)
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(body, "client_id es una URL") {
		t.Fatalf("a name resolving to loopback: %d %s", res.StatusCode, body)
	}
	if _, err := srv.Store.GetClient(t.Context(), evil); err == nil {
		t.Error("a refused document left a client row")
	}

	// With documents turned off, the row the document left is not
	// authorized again (same database, a server with --cimd off).
	off := newServer(t, backend, issuer, func(c *server.Config) {
		c.Global.DB = srv.Backend.URL
		if backend == "sqlite" {
			c.Global.DB = "sqlite:" + srv.Backend.Path
		}
		c.Serve.CIMD = "off"
	})
	q.Set("client_id", clientID)
	rec := httptest.NewRecorder()
	off.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, issuer+"/auth/v1/authorize?"+q.Encode(), nil))
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
		t.Fatalf("a metadata-document client with documents off: %d %s", rec.Code, rec.Header().Get("Location"))
	}
}

// TestCIMDOff: with --cimd off a URL client_id is an unknown client and
// discovery does not advertise documents.
func TestCIMDOff(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv := newServer(t, "sqlite", issuer, func(c *server.Config) { c.Serve.CIMD = "off" })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	defer ts.Close()
	var meta map[string]any
	getJSON(t, issuer+"/.well-known/openid-configuration", &meta)
	if _, ok := meta["client_id_metadata_document_supported"]; ok {
		t.Errorf("advertised while off: %v", meta["client_id_metadata_document_supported"])
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"https://agent.example/client.json"}, "redirect_uri": {"http://127.0.0.1/cb"}}
	res, err := http.Get(issuer + "/auth/v1/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
}
