package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// logBuffer collects a server's JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// refusal returns the "request refused" line logged for the request id, or nil.
func (l *logBuffer) refusal(t *testing.T, requestID string) map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range strings.Split(l.b.String(), "\n") {
		var line map[string]any
		if s == "" || json.Unmarshal([]byte(s), &line) != nil {
			continue
		}
		if line["msg"] == "request refused" && line["request_id"] == requestID {
			return line
		}
	}
	return nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefusalsTellTheDeveloperWhy: every refused protocol request and
// authorization page logs, at INFO and under the request id the answer
// carries, which check failed, the client presented and the rejected
// redirect_uri; a failed client authentication says why and is a security
// event; the error page shows the rejected redirect_uri; no secret reaches
// the log. Before issue 14 the log held only the status.
func TestRefusalsTellTheDeveloperWhy(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var logs logBuffer
			clk := &testClock{t: time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)}
			srv := newServer(t, backend, fuzzIssuer, func(c *server.Config) {
				c.Now = clk.Now
				c.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			})
			h := srv.Handler()
			conf, _, err := clients.Create(t.Context(), srv.Store, clients.CreateInput{Name: "Conf", Grants: []string{"client_credentials"}, Scopes: []string{"voucher"}}, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			pub, _, err := clients.Create(t.Context(), srv.Store, clients.CreateInput{Name: "SPA", Type: store.ClientPublic,
				Grants: []string{"authorization_code"}, RedirectURIs: []string{"https://spa.example/cb"}}, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			const wrong = "mnx_cs_definitely-not-the-secret-0123456789"
			for _, c := range []struct {
				name, id, secret, reason string
			}{
				{"wrong secret", conf.ID, wrong, "wrong client secret"},
				{"unknown client", "no-such-client", wrong, "unknown client"},
				{"no secret", conf.ID, "", "wrong method: confidential client sent no secret"},
				{"public sends a secret", pub.ID, wrong, "wrong method: public client sent a secret"},
			} {
				body := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}}
				if c.secret != "" {
					body.Set("client_secret", c.secret)
				}
				r := httptest.NewRequest("POST", "/auth/v1/token", strings.NewReader(body.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_client") {
					t.Fatalf("%s: %d %s", c.name, rec.Code, rec.Body.String())
				}
				line := logs.refusal(t, rec.Header().Get("X-Request-Id"))
				if line == nil || line["level"] != "INFO" || line["client_id"] != c.id || !strings.HasPrefix(line["cause"].(string), c.reason) || line["error"] != "invalid_client" {
					t.Errorf("%s: refusal line %v; want INFO, client %s, cause %q", c.name, line, c.id, c.reason)
				}
			}
			evs, _, err := srv.Store.ListEvents(t.Context(), store.ListOptions{Page: store.Page{Size: 10}, Sort: "time",
				Filters: []store.Filter{{Field: "type", Op: "eq", Value: "client.auth_failed"}}})
			if err != nil || len(evs) != 4 || evs[0].ClientID != conf.ID || evs[0].Detail != "wrong client secret" || evs[1].Detail != "unknown client" {
				t.Fatalf("client.auth_failed events: %+v %v", evs, err)
			}

			// The authorization endpoint: an unregistered redirect_uri is an
			// error page (never a redirect) that shows it, logged with the client.
			bad := "https://evil.example/callback"
			r := httptest.NewRequest("GET", web.PathAuthorize+"?"+url.Values{"response_type": {"code"}, "client_id": {pub.ID},
				"redirect_uri": {bad}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode(), nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			id := rec.Header().Get("X-Request-Id")
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad) || !strings.Contains(rec.Body.String(), id) {
				t.Errorf("error page %d does not show the rejected redirect_uri and the request code: %s", rec.Code, rec.Body.String())
			}
			if line := logs.refusal(t, id); line == nil || line["level"] != "INFO" || line["client_id"] != pub.ID || line["redirect_uri"] != bad || line["reason"] != "error.badredirect" {
				t.Errorf("authorize refusal line %v", line)
			}
			// After the redirect URI is trusted, errors go back to it, and are logged too.
			r = httptest.NewRequest("GET", web.PathAuthorize+"?"+url.Values{"response_type": {"code"}, "client_id": {pub.ID},
				"redirect_uri": {"https://spa.example/cb"}, "scope": {"openid no-such-scope"},
				"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode(), nil)
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			loc, _ := url.Parse(rec.Header().Get("Location"))
			if rec.Code != http.StatusFound || loc.Query().Get("error") != "invalid_scope" || !strings.Contains(loc.Query().Get("error_description"), "no existe") {
				t.Errorf("unknown scope at authorize: %d %s", rec.Code, rec.Header().Get("Location"))
			}
			if line := logs.refusal(t, rec.Header().Get("X-Request-Id")); line == nil || line["client_id"] != pub.ID || line["error"] != "invalid_scope" || line["redirect_uri"] != "https://spa.example/cb" {
				t.Errorf("authorize redirect refusal line %v", line)
			}
			if out := logs.String(); strings.Contains(out, wrong) {
				t.Error("a client secret reached the log")
			}
		})
	}
}

// TestExpiredAccessTokenSaysSo: at /v1/users/me (JSON:API) and userinfo an
// access token past its exp is answered "expired" — in WWW-Authenticate and
// in the body — and a token that is not ours is not; before issue 14 both
// got the same "invalid, expired or revoked" text.
func TestExpiredAccessTokenSaysSo(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv, clk := newClockedServer(t, backend)
			h := srv.Handler()
			if _, err := srv.Accounts.Register(t.Context(), account.RegisterInput{Email: "ana@example.com", Password: "una contraseña larga", FirstName: "Ana", LastName: "Gil"}); err != nil {
				t.Fatal(err)
			}
			c, secret, err := clients.Create(t.Context(), srv.Store, clients.CreateInput{Name: "App", Grants: []string{"password"}}, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			rec := postFrom(h, "192.0.2.1", "/auth/v1/token", c.ID, secret, url.Values{"grant_type": {"password"}, "username": {"ana@example.com"},
				"password": {"una contraseña larga"}, "scope": {"openid profile"}}.Encode())
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tok) != nil {
				t.Fatalf("login: %d %s", rec.Code, rec.Body.String())
			}
			clk.Add(16 * time.Minute)
			for _, c := range []struct {
				tok     string
				expired bool
			}{{tok.AccessToken, true}, {"eyJhbGciOiJFUzI1NiJ9.e30.c2ln", false}} {
				for _, lang := range []string{"es", "en"} {
					r := httptest.NewRequest("GET", "/v1/users/me", nil)
					r.Header.Set("Authorization", "Bearer "+c.tok)
					r.Header.Set("Accept-Language", lang)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					challenge := rec.Header().Get("WWW-Authenticate")
					var doc struct {
						Errors []struct{ Code, Title, Detail string }
					}
					if rec.Code != 401 || json.Unmarshal(rec.Body.Bytes(), &doc) != nil || len(doc.Errors) != 1 || doc.Errors[0].Code != "invalid_token" {
						t.Fatalf("/v1/users/me: %d %s", rec.Code, rec.Body.String())
					}
					word := map[string]string{"es": "caducó", "en": "expired"}[lang]
					says := strings.Contains(doc.Errors[0].Detail, word) && strings.Contains(challenge, "caducado")
					if c.expired && (strings.Contains(doc.Errors[0].Detail, "válido") || strings.Contains(doc.Errors[0].Detail, "invalid") || strings.Contains(challenge, "no es valido")) {
						t.Errorf("%s: an expired token is called invalid: %q %+v", lang, challenge, doc.Errors[0])
					}
					if says != c.expired {
						t.Errorf("%s (expired %v): challenge %q, error %+v", lang, c.expired, challenge, doc.Errors[0])
					}
				}
			}
		})
	}
}
