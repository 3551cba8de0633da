package provider

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
)

// BenchmarkClientAuth is the client-authentication step of every token,
// revocation and introspection request: a client look-up and a SHA-256 of
// the secret (no slow hash: the secret has 256 random bits).
func BenchmarkClientAuth(b *testing.B) {
	e := newEnv(b)
	cc := clientCredentials{id: e.cc.id, secret: e.cc.secret}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.p.authenticateClient(e.ctx, cc, "127.0.0.1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTokenClientCredentials is the whole token endpoint for a
// client_credentials grant: parse, Basic auth, policy, sign an ES256 JWT,
// one grant row written.
func BenchmarkTokenClientCredentials(b *testing.B) {
	e := newEnv(b)
	mux := httpx.NewRoutes(httpx.RoutesConfig{})
	e.p.Mount(mux)
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	auth := basic(e.cc.id, e.cc.secret)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", auth)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkVerifyBearer is the hot path of every API call: verify the ES256
// signature and claims, then check the grant and its user in the store.
func BenchmarkVerifyBearer(b *testing.B) {
	e := newEnv(b)
	at := e.passwordLogin(e.pw, "openid").str("access_token")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/v1/users/me", nil)
			req.Header.Set("Authorization", "Bearer "+at)
			if _, err := e.p.VerifyBearer(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTokenRefresh is the whole token endpoint for a refresh grant with
// rotation, one chain per goroutine: three reads, one write transaction,
// an ES256 access token and (scope openid) an RS256 ID token.
func BenchmarkTokenRefresh(b *testing.B) {
	for _, c := range []struct{ name, scope, idAlg string }{
		{"id=RS256", "openid profile email", ""},
		{"id=ES256", "openid profile email", "ES256"},
		{"no-openid", "profile email", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			mux := httpx.NewRoutes(httpx.RoutesConfig{})
			e.p.Mount(mux)
			cl, secret, err := clients.Create(e.ctx, e.st, clients.CreateInput{Name: "bench",
				Grants: []string{store.GrantPassword, store.GrantRefreshToken}, IDTokenAlg: c.idAlg}, e.clk.Now())
			if err != nil {
				b.Fatal(err)
			}
			tc := testClient{cl.ID, secret}
			auth := basic(tc.id, tc.secret)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				rt := e.passwordLogin(tc, c.scope).str("refresh_token")
				for pb.Next() {
					body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
					req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", auth)
					rec := httptest.NewRecorder()
					mux.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
					var out struct {
						RT string `json:"refresh_token"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
						b.Fatal(err)
					}
					rt = out.RT
				}
			})
		})
	}
}
