package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/server"
)

// TestEveryRouteAnswersWithItsClassDefences sends one request to every
// route the server mounts — as a browser of another origin would, with no
// cookie, no token and no body — and checks that the answer, whatever it
// is (a page, a redirect, a refusal), carries the defences of the route's
// class. A route whose class forgot a defence fails here.
func TestEveryRouteAnswersWithItsClassDefences(t *testing.T) {
	// Every optional route on too (dynamic registration).
	srv := newServer(t, "sqlite", "https://auth.example", func(c *server.Config) { c.Serve.Registration = "open" })
	h := srv.Handler()
	wildcard := regexp.MustCompile(`\{[^}]*\}`)
	routes := srv.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes listed", len(routes))
	}
	seen := map[httpx.Class]int{}
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = http.MethodGet, rt.Pattern
		}
		if strings.HasSuffix(path, "/") {
			path += "x" // a subtree pattern
		}
		path = wildcard.ReplaceAllString(strings.ReplaceAll(path, "{$}", ""), "x")
		seen[rt.Class]++
		t.Run(rt.Class.String()+" "+rt.Pattern, func(t *testing.T) {
			r := httptest.NewRequest(method, "https://auth.example"+path, strings.NewReader(url.Values{"a": {"b"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", "https://other.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			checkClass(t, rt, w)
		})
	}
	for _, c := range []httpx.Class{httpx.Protocol, httpx.Browser, httpx.BrowserEntry, httpx.API, httpx.Ops} {
		if seen[c] == 0 {
			t.Errorf("no %s route mounted", c)
		}
	}
}

func checkClass(t *testing.T, rt httpx.Route, w *httptest.ResponseRecorder) {
	t.Helper()
	hd := w.Header()
	if hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("status %d without nosniff", w.Code)
	}
	switch rt.Class {
	case httpx.Browser, httpx.BrowserEntry:
		csp := hd.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("status %d: CSP %q", w.Code, csp)
		}
		if hd.Get("Strict-Transport-Security") == "" || hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("status %d: page headers missing: %v", w.Code, hd)
		}
		if hd.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("a page allows other origins")
		}
		if rt.Class == httpx.Browser && w.Code < 400 && strings.HasPrefix(rt.Pattern, "POST ") {
			t.Errorf("a cross-site form post was answered %d, not refused", w.Code)
		}
	case httpx.Protocol:
		if hd.Get("Access-Control-Allow-Origin") != "*" || hd.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("status %d: protocol CORS %v", w.Code, hd)
		}
		// Discovery and the JWKS are public and cacheable; nothing else.
		public := strings.HasPrefix(rt.Pattern, "GET /.well-known/") || strings.HasSuffix(rt.Pattern, "/jwks")
		if cc := hd.Get("Cache-Control"); cc != "no-store" && !public {
			t.Errorf("status %d: Cache-Control %q", w.Code, cc)
		}
	case httpx.API:
		if hd.Get("Cache-Control") != "no-store" {
			t.Errorf("status %d: Cache-Control %q", w.Code, hd.Get("Cache-Control"))
		}
		allow := hd.Get("Access-Control-Allow-Origin")
		if rt.CrossOrigin != (allow == "*") {
			t.Errorf("status %d: CORS %q for a route whose CrossOrigin is %v", w.Code, allow, rt.CrossOrigin)
		}
	case httpx.Ops:
		if hd.Get("Cache-Control") != "no-store" || hd.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("status %d: ops headers %v", w.Code, hd)
		}
	default:
		t.Errorf("unknown class %d", rt.Class)
	}
}

// TestAPICrossOriginDecision: the JSON:API routes that take no token
// do not answer a preflight from another origin with CORS, so no other site
// can make its visitors' browsers create accounts; routes with a token do.
func TestAPICrossOriginDecision(t *testing.T) {
	h := newServer(t, "sqlite", "http://localhost:8080").Handler()
	preflight := func(path string) string {
		r := httptest.NewRequest(http.MethodOptions, path, nil)
		r.Header.Set("Origin", "https://spa.example")
		r.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header().Get("Access-Control-Allow-Origin")
	}
	if got := preflight("/v1/users"); got != "" {
		t.Errorf("registration preflight allowed %q", got)
	}
	if got := preflight("/v1/users/me"); got != "*" {
		t.Errorf("users/me preflight allowed %q, want *", got)
	}
	if got := preflight("/auth/v1/token"); got != "*" {
		t.Errorf("token preflight allowed %q, want *", got)
	}
}
