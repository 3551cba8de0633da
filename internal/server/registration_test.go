package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
)

// startWith starts a real server on backend with opts.
func startWith(t *testing.T, backend string, opts ...func(*server.Config)) (*server.Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv := newServer(t, backend, issuer, opts...)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return srv, issuer
}

type regResp struct {
	status int
	header http.Header
	body   map[string]any
}

func (r regResp) str(k string) string { s, _ := r.body[k].(string); return s }

func regCall(t *testing.T, method, u, bearer string, body any) regResp {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := regResp{status: res.StatusCode, header: res.Header}
	_ = json.NewDecoder(res.Body).Decode(&out.body)
	return out
}

// TestDynamicRegistration: RFC 7591 registration and RFC 7592 management
// in open mode, on both stores; off by default.
func TestDynamicRegistration(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testRegistrationOpen(t, backend) })
	}
}

func testRegistrationOpen(t *testing.T, backend string) {
	srv, issuer := startWith(t, backend, func(c *server.Config) { c.Serve.Registration = "open" })
	var meta map[string]any
	getJSON(t, issuer+"/.well-known/oauth-authorization-server", &meta)
	if meta["registration_endpoint"] != issuer+"/auth/v1/register" {
		t.Fatalf("registration_endpoint %v", meta["registration_endpoint"])
	}
	r := regCall(t, "POST", issuer+"/auth/v1/register", "", map[string]any{
		"client_name": "Servicio", "grant_types": []string{"client_credentials"}, "response_types": []string{},
		"scope": "voucher", "software_id": "ignored",
	})
	if r.status != 201 || r.str("client_id") == "" || r.str("client_secret") == "" || r.str("registration_access_token") == "" ||
		r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("register: %d %v", r.status, r.body)
	}
	id, secret, rat, uri := r.str("client_id"), r.str("client_secret"), r.str("registration_access_token"), r.str("registration_client_uri")
	if uri != issuer+"/auth/v1/register/"+id {
		t.Errorf("registration_client_uri %s", uri)
	}
	c, err := srv.Store.GetClient(t.Context(), id)
	if err != nil || c.Origin != store.OriginDynamic || bytes.Equal(c.RegistrationHash, []byte(rat)) || c.SecretHash == nil {
		t.Fatalf("stored client %+v %v", c, err)
	}
	tok := tokenForm(t, issuer+"/auth/v1/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if tok["access_token"] == nil {
		t.Fatalf("token for the registered client: %v", tok)
	}

	// RFC 7592: read, update, delete with the registration access token only.
	if r := regCall(t, "GET", uri, "", nil); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("read without token: %d", r.status)
	}
	if r := regCall(t, "GET", uri, rat+"x", nil); r.status != 401 {
		t.Errorf("read with a wrong token: %d", r.status)
	}
	if r := regCall(t, "GET", uri, rat, nil); r.status != 200 || r.str("client_name") != "Servicio" || r.str("client_secret") != "" {
		t.Errorf("read: %d %v", r.status, r.body)
	}
	upd := map[string]any{"client_id": id, "client_name": "Servicio 2", "grant_types": []string{"client_credentials"}, "response_types": []string{}}
	if r := regCall(t, "PUT", uri, rat, upd); r.status != 200 || r.str("client_name") != "Servicio 2" {
		t.Errorf("update: %d %v", r.status, r.body)
	}
	upd["grant_types"] = []string{"client_credentials", "refresh_token"}
	if r := regCall(t, "PUT", uri, rat, upd); r.status != 400 || r.str("error") != "invalid_client_metadata" {
		t.Errorf("changing grants: %d %v", r.status, r.body)
	}
	// Another client's URI with this token: 401, like an unknown one.
	other := regCall(t, "POST", issuer+"/auth/v1/register", "", map[string]any{"redirect_uris": []string{"http://127.0.0.1:9000/cb"}, "token_endpoint_auth_method": "none"})
	if other.status != 201 || other.str("client_secret") != "" {
		t.Fatalf("public client: %d %v", other.status, other.body)
	}
	if r := regCall(t, "GET", other.str("registration_client_uri"), rat, nil); r.status != 401 {
		t.Errorf("another client's registration with this token: %d", r.status)
	}
	// A browser application may manage its registration: the preflight
	// allows PUT and DELETE.
	pre, _ := http.NewRequest(http.MethodOptions, uri, nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "DELETE")
	if res, err := http.DefaultClient.Do(pre); err != nil || !strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "DELETE") ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight: %v %v", res.Header, err)
	} else {
		res.Body.Close()
	}
	if r := regCall(t, "DELETE", uri, rat, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	if _, err := srv.Store.GetClient(t.Context(), id); err == nil {
		t.Error("deleted client still stored")
	}
	if tok := tokenForm(t, issuer+"/auth/v1/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}); tok["error"] != "invalid_client" {
		t.Errorf("token after delete: %v", tok)
	}

	for name, body := range map[string]map[string]any{
		"fragment redirect": {"redirect_uris": []string{"https://app.example/cb#x"}},
		"no redirect":       {"grant_types": []string{"authorization_code"}},
		"password grant":    {"grant_types": []string{"password"}, "redirect_uris": []string{"https://app.example/cb"}},
		"public cc":         {"grant_types": []string{"client_credentials"}, "response_types": []string{}, "token_endpoint_auth_method": "none"},
		"account scope":     {"redirect_uris": []string{"https://app.example/cb"}, "scope": "openid account"},
		"private_key_jwt":   {"redirect_uris": []string{"https://app.example/cb"}, "token_endpoint_auth_method": "private_key_jwt"},
	} {
		r := regCall(t, "POST", issuer+"/auth/v1/register", "", body)
		if r.status != 400 || (r.str("error") != "invalid_client_metadata" && r.str("error") != "invalid_redirect_uri") {
			t.Errorf("%s: %d %v", name, r.status, r.body)
		}
	}
}

// TestRegistrationRateLimitAndToken: open mode limits registrations per
// address; token mode needs a single-use initial access token; off serves
// nothing and advertises nothing.
func TestRegistrationRateLimitAndToken(t *testing.T) {
	_, open := startWith(t, "sqlite", func(c *server.Config) { c.Serve.Registration = "open" })
	body := map[string]any{"redirect_uris": []string{"http://127.0.0.1:9000/cb"}, "token_endpoint_auth_method": "none"}
	var last regResp
	for range 11 {
		last = regCall(t, "POST", open+"/auth/v1/register", "", body)
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" {
		t.Fatalf("11th registration from one address: %d", last.status)
	}

	srv, tokIssuer := startWith(t, "sqlite", func(c *server.Config) { c.Serve.Registration = "token" })
	if r := regCall(t, "POST", tokIssuer+"/auth/v1/register", "", body); r.status != 401 || r.str("error") != "invalid_token" {
		t.Fatalf("without an initial access token: %d %v", r.status, r.body)
	}
	now := time.Now()
	if err := srv.Store.CreateRegistrationToken(t.Context(), store.HashToken("mnx_iat_good"), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r := regCall(t, "POST", tokIssuer+"/auth/v1/register", "mnx_iat_good", body); r.status != 201 {
		t.Fatalf("with the token: %d %v", r.status, r.body)
	}
	if r := regCall(t, "POST", tokIssuer+"/auth/v1/register", "mnx_iat_good", body); r.status != 401 {
		t.Fatalf("the token reused: %d %v", r.status, r.body)
	}

	_, off := startWith(t, "sqlite")
	var meta map[string]any
	getJSON(t, off+"/.well-known/openid-configuration", &meta)
	if _, ok := meta["registration_endpoint"]; ok {
		t.Error("registration_endpoint advertised while off")
	}
	if meta["code_challenge_methods_supported"].([]any)[0] != "S256" || meta["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("discovery: %v %v", meta["code_challenge_methods_supported"], meta["authorization_response_iss_parameter_supported"])
	}
	if r := regCall(t, "POST", off+"/auth/v1/register", "", body); r.status == 201 {
		t.Fatal("registration while off")
	}
}
