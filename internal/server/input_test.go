package server_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const fuzzIssuer = "http://127.0.0.1:8080"

// edgeRequest is one request to the running handler.
type edgeRequest struct {
	method, path, query string
	contentType, body   string
	basic               string // raw "id:secret" for HTTP Basic, "" for none
}

func (q edgeRequest) serve(h http.Handler) *httptest.ResponseRecorder {
	u := q.path
	if q.query != "" {
		u += "?" + q.query
	}
	var r *http.Request
	if q.body != "" || q.method == http.MethodPost {
		r = httptest.NewRequest(q.method, "/", strings.NewReader(q.body))
	} else {
		r = httptest.NewRequest(q.method, "/", nil)
	}
	// Set the URL by hand: httptest.NewRequest refuses some bad bytes that a
	// raw HTTP client can still send.
	r.URL = &url.URL{Path: q.path, RawQuery: q.query}
	r.RequestURI = u
	if q.contentType != "" {
		r.Header.Set("Content-Type", q.contentType)
	}
	if q.basic != "" {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(q.basic)))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

const (
	form    = "application/x-www-form-urlencoded"
	jsonapi = "application/vnd.api+json"
)

// TestBadTextAtTheEdge: invalid UTF-8 or a NUL byte in any parameter that
// can reach a query is the endpoint's own 400, never a 5xx, on both stores
// (PostgreSQL refused such text parameters with a 500 before; issue 11).
func TestBadTextAtTheEdge(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv := newServer(t, backend, fuzzIssuer)
			h := srv.Handler()
			for _, bad := range []string{"%C0%AF%C0%AE", "a%00b"} {
				for _, c := range []struct {
					name string
					req  edgeRequest
					ct   string // the endpoint's own error format
				}{
					{"authorize", edgeRequest{method: "GET", path: "/auth/v1/authorize", query: "response_type=code&client_id=" + bad}, "text/html"},
					{"authorize post", edgeRequest{method: "POST", path: "/auth/v1/authorize", contentType: form, body: "response_type=code&client_id=" + bad}, "text/html"},
					{"token form client_id", edgeRequest{method: "POST", path: "/auth/v1/token", contentType: form, body: "grant_type=password&username=a%40b.c&password=x&client_id=" + bad}, "application/json"},
					{"token form username", edgeRequest{method: "POST", path: "/auth/v1/token", contentType: form, body: "grant_type=password&password=x&client_id=abc&username=" + bad}, "application/json"},
					{"token alias", edgeRequest{method: "POST", path: "/api/v1/auth/oauth/token/", contentType: form, body: "grant_type=client_credentials&client_id=" + bad}, "application/json"},
					{"token json", edgeRequest{method: "POST", path: "/auth/v1/token", contentType: "application/json", body: `{"grant_type":"password","client_id":"x","username":"a\u0000b","password":"p",}`}, "application/json"},
					{"token basic", edgeRequest{method: "POST", path: "/auth/v1/token", contentType: form, body: "grant_type=client_credentials", basic: unescape(bad) + ":secret"}, "application/json"},
					{"revoke", edgeRequest{method: "POST", path: "/auth/v1/revoke", contentType: form, body: "token=t&client_id=" + bad}, "application/json"},
					{"introspect", edgeRequest{method: "POST", path: "/auth/v1/introspect", contentType: form, body: "token=" + bad, basic: "c:s"}, "application/json"},
					{"device", edgeRequest{method: "POST", path: "/auth/v1/device", contentType: form, body: "client_id=" + bad}, "application/json"},
					{"userinfo", edgeRequest{method: "POST", path: "/auth/v1/userinfo", contentType: form, body: "access_token=" + bad}, "application/json"},
					{"register api", edgeRequest{method: "POST", path: "/v1/users", contentType: jsonapi, body: `{"data":{"type":"users","attributes":{"email":"a\u0000@b.c","password":"una contraseña larga","first_name":"A","last_name":"B"}}}`}, jsonapi},
					{"api filter", edgeRequest{method: "GET", path: "/v1/auth_clients", query: "filter[name]=" + bad}, jsonapi},
					{"api path", edgeRequest{method: "GET", path: "/v1/users/" + unescape(bad)}, jsonapi},
					{"login form", edgeRequest{method: "POST", path: "/login", contentType: form, body: "password=x&email=" + bad}, "text/html"},
					{"register form", edgeRequest{method: "POST", path: "/register", contentType: form, body: "password=x&email=" + bad}, "text/html"},
					{"activate", edgeRequest{method: "POST", path: "/activate", contentType: form, body: "user_code=" + bad}, "text/html"},
				} {
					rec := c.req.serve(h)
					if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.ct) {
						t.Errorf("%s %s: %d %s %.200s", c.name, bad, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
					}
				}
			}
			// The raw invalid bytes of a JSON body are refused too (RFC 8259
			// §8.1), not silently replaced by U+FFFD.
			rec := edgeRequest{method: "POST", path: "/auth/v1/token", contentType: "application/json", body: "{\"grant_type\":\"password\",\"username\":\"\xc0\xaf\"}"}.serve(h)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_request") {
				t.Errorf("raw bad JSON: %d %s", rec.Code, rec.Body.String())
			}
		})
	}
}

func unescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		panic(err)
	}
	return u
}

// fuzzEndpoints feeds arbitrary parameters to the token, authorize,
// registration (POST /v1/users) and introspection handlers of a real server
// on backend and fails on any 5xx.
func fuzzEndpoints(f *testing.F, backend string) {
	srv := newServer(f, backend, fuzzIssuer)
	h := srv.Handler()
	seeds := []struct {
		endpoint uint8
		query    string
		body     string
	}{
		{0, "", "grant_type=password&client_id=abc&username=ana%40example.com&password=x"},
		{0, "", `{"grant_type":"client_credentials","client_id":"a\u0000","client_secret":"s",}`},
		{0, "", "grant_type=refresh_token&refresh_token=%C0%AF&client_id=x"},
		{0, "", "grant_type=authorization_code&code=%FF&redirect_uri=http://x&client_id=c&code_verifier=v"},
		{1, "response_type=code&client_id=%C0%AF%C0%AE", ""},
		{1, "response_type=code&client_id=abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=openid&state=%00", ""},
		{2, "", `{"data":{"type":"users","attributes":{"email":"al\u0130ce@example.com","password":"una contraseña larga","first_name":"A","last_name":"B"}}}`},
		{2, "", "{\"data\":{\"type\":\"users\",\"attributes\":{\"email\":\"\xc0@b.c\"}}}"},
		{3, "", "token=abc&token_type_hint=refresh_token"},
		{3, "", "token=mnx_rt_%00"},
	}
	for _, s := range seeds {
		f.Add(s.endpoint, s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, endpoint uint8, query, body string) {
		var q edgeRequest
		switch endpoint % 4 {
		case 0:
			ct := form
			if strings.HasPrefix(body, "{") {
				ct = "application/json"
			}
			q = edgeRequest{method: "POST", path: "/auth/v1/token", query: query, contentType: ct, body: body}
		case 1:
			q = edgeRequest{method: "GET", path: "/auth/v1/authorize", query: query}
			if body != "" {
				q = edgeRequest{method: "POST", path: "/auth/v1/authorize", query: query, contentType: form, body: body}
			}
		case 2:
			q = edgeRequest{method: "POST", path: "/v1/users", query: query, contentType: jsonapi, body: body}
		case 3:
			q = edgeRequest{method: "POST", path: "/auth/v1/introspect", query: query, contentType: form, body: body, basic: "c:s"}
		}
		if rec := q.serve(h); rec.Code >= 500 {
			t.Fatalf("%s %s?%q body %q: %d %.300s", q.method, q.path, query, body, rec.Code, rec.Body.String())
		}
	})
}

// FuzzEndpointsSQLite: go test -run='^$' -fuzz='^FuzzEndpointsSQLite$' -fuzztime=5s ./internal/server
func FuzzEndpointsSQLite(f *testing.F) { fuzzEndpoints(f, "sqlite") }

// FuzzEndpointsPostgres: the same on PostgreSQL (MULTINEXO_TEST_POSTGRES).
func FuzzEndpointsPostgres(f *testing.F) { fuzzEndpoints(f, "postgres") }
