package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// testClock is a settable clock for the server.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newClockedServer is newServer with a settable clock, started one minute
// into a throttle window.
func newClockedServer(t testing.TB, backend string) (*server.Server, *testClock) {
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)}
	return newServer(t, backend, fuzzIssuer, func(c *server.Config) { c.Now = clk.Now }), clk
}

// postFrom posts a form to path from the address ip with HTTP Basic.
func postFrom(h http.Handler, ip, path, id, secret, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.RemoteAddr = ip + ":40000"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestClientSecretGuessingThrottled: after a burst of wrong secrets for one
// client from one address, that pair gets 429 with Retry-After at the token,
// device, revocation and introspection endpoints, the right secret from
// another address keeps working, and the window's end lifts the lock.
// Before issue 11 every wrong secret got a plain 401, without end.
func TestClientSecretGuessingThrottled(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv, clk := newClockedServer(t, backend)
			h := srv.Handler()
			c, secret, err := clients.Create(t.Context(), srv.Store, clients.CreateInput{Name: "Máquina",
				Grants: []string{"client_credentials", store.GrantDeviceCode}, Scopes: []string{"voucher"}}, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			const guesser, other = "198.51.100.7", "203.0.113.9"
			cc := "grant_type=client_credentials"
			for i := range provider.DefaultClientFailureLimit {
				if rec := postFrom(h, guesser, "/auth/v1/token", c.ID, "guess-"+strconv.Itoa(i), cc); rec.Code != http.StatusUnauthorized {
					t.Fatalf("wrong secret %d: %d %s", i, rec.Code, rec.Body.String())
				}
			}
			rec := postFrom(h, guesser, "/auth/v1/token", c.ID, "one more", cc)
			ra, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
			if rec.Code != http.StatusTooManyRequests || ra <= 0 || ra > 240 || !strings.Contains(rec.Body.String(), `"invalid_client"`) {
				t.Fatalf("after the burst: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
			}
			// The pair is refused everywhere, the right secret included.
			for _, path := range []string{"/auth/v1/token", "/auth/v1/device", "/auth/v1/revoke", "/auth/v1/introspect"} {
				if rec := postFrom(h, guesser, path, c.ID, secret, cc+"&token=x"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
					t.Errorf("%s, right secret from the guessing address: %d", path, rec.Code)
				}
			}
			// Nobody else is locked out: the right secret from another address.
			if rec := postFrom(h, other, "/auth/v1/token", c.ID, secret, cc); rec.Code != http.StatusOK {
				t.Fatalf("right secret from another address: %d %s", rec.Code, rec.Body.String())
			}
			// The lock is recorded once as a security event.
			evs, _, err := srv.Store.ListEvents(context.Background(), store.ListOptions{Page: store.Page{Size: 10},
				Filters: []store.Filter{{Field: "type", Op: "eq", Value: "client.throttled"}}})
			if err != nil || len(evs) != 1 || evs[0].ClientID != c.ID {
				t.Fatalf("client.throttled events: %v %v", evs, err)
			}
			clk.Add(provider.DefaultClientFailureWindow)
			if rec := postFrom(h, guesser, "/auth/v1/token", c.ID, secret, cc); rec.Code != http.StatusOK {
				t.Fatalf("after the window: %d %s", rec.Code, rec.Body.String())
			}
		})
	}
}

// TestActivateGuessingThrottledOnBothStores: RFC 8628 §5.1 on each store —
// after web.DeviceAttemptLimit wrong user codes at /activate, the next is
// refused with 429, a message and Retry-After, and a second session of the
// same account from another address is refused too (per account). The
// counters are the store's, so this runs on PostgreSQL as well as SQLite.
func TestActivateGuessingThrottledOnBothStores(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv, _ := newClockedServer(t, backend)
			h := srv.Handler()
			if _, err := srv.Accounts.Register(t.Context(), account.RegisterInput{Email: "ana@example.com", Password: timingPassword, FirstName: "Ana", LastName: "P"}); err != nil {
				t.Fatal(err)
			}
			login := func(ip string) []*http.Cookie {
				r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"email": {"ana@example.com"}, "password": {timingPassword}}.Encode()))
				r.RemoteAddr = ip + ":40000"
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) == 0 {
					t.Fatalf("login: %d %s", rec.Code, rec.Body.String())
				}
				return rec.Result().Cookies()
			}
			enter := func(ip string, cookies []*http.Cookie, code string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", "/activate", strings.NewReader(url.Values{"user_code": {code}}.Encode()))
				r.RemoteAddr = ip + ":40000"
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for _, c := range cookies {
					r.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				return rec
			}
			s1 := login("198.51.100.7")
			for i := range web.DeviceAttemptLimit {
				if rec := enter("198.51.100.7", s1, "ZZZZ-ZZZZ"); rec.Code != http.StatusBadRequest {
					t.Fatalf("wrong code %d: %d", i, rec.Code)
				}
			}
			rec := enter("198.51.100.7", s1, "ZZZZ-ZZZX")
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "Demasiados códigos incorrectos") {
				t.Fatalf("after the burst: %d %v", rec.Code, rec.Header())
			}
			s2 := login("203.0.113.9")
			if rec := enter("203.0.113.9", s2, "ZZZZ-ZZZX"); rec.Code != http.StatusTooManyRequests {
				t.Fatalf("same account, another session and address: %d", rec.Code)
			}
		})
	}
}
