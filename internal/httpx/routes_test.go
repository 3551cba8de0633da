package httpx_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/httpx"
)

// TestRoutesOnlyThroughClasses fails if code outside this package mounts a
// route any other way than through httpx.Routes' classes: an
// http.ServeMux, http.Handle or http.HandleFunc (the default mux) anywhere
// in the server's code (tests excepted: they build third-party sites).
func TestRoutesOnlyThroughClasses(t *testing.T) {
	root := filepath.Join("..", "..")
	forbidden := map[string]bool{"ServeMux": true, "NewServeMux": true, "Handle": true, "HandleFunc": true, "DefaultServeMux": true}
	checked := 0
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && filepath.Base(path) == "httpx" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			checked++
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "http" && forbidden[sel.Sel.Name] {
					t.Errorf("%s: http.%s — mount routes through httpx.Routes (Protocol, Browser, BrowserEntry, API, Ops)", path, sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked", checked)
	}
}

func serve(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader("a=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestClasses(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	rs := httpx.NewRoutes(httpx.RoutesConfig{Issuer: "https://auth.example"})
	rs.Protocol("POST /token", ok)
	rs.Browser("POST /form", ok)
	rs.BrowserEntry("POST /authorize", ok)
	rs.API("GET /me", ok, true)
	rs.API("POST /register", ok, false)
	rs.Ops("GET /healthz", ok)
	cross := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}

	w := serve(rs, "POST", "/token", cross...)
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("protocol: %d %v", w.Code, w.Header())
	}
	if w := serve(rs, "OPTIONS", "/token", cross...); w.Code != 204 || w.Header().Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("protocol preflight: %d %v", w.Code, w.Header())
	}
	if w := serve(rs, "POST", "/form", cross...); w.Code != http.StatusForbidden || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("browser cross-site post: %d %v", w.Code, w.Header())
	}
	if w := serve(rs, "POST", "/form", "Sec-Fetch-Site", "same-origin"); w.Code != 200 || w.Header().Get("Strict-Transport-Security") == "" {
		t.Errorf("browser same-origin post: %d %v", w.Code, w.Header())
	}
	if w := serve(rs, "POST", "/authorize", cross...); w.Code != 200 || w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("browser entry cross-site post: %d %v", w.Code, w.Header())
	}
	if w := serve(rs, "GET", "/me", cross...); w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("api with token: %v", w.Header())
	}
	if w := serve(rs, "POST", "/register", cross...); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("api without token allows other origins: %v", w.Header())
	}
	if w := serve(rs, "OPTIONS", "/register", cross...); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("api without token answers a preflight: %d %v", w.Code, w.Header())
	}
	if w := serve(rs, "GET", "/healthz"); w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("ops: %v", w.Header())
	}
	if got := len(rs.List()); got != 6 {
		t.Errorf("List: %d routes, want 6 (preflights are not listed)", got)
	}
	big := strings.Repeat("x", httpx.MaxPageBody+1)
	r := httptest.NewRequest("POST", "/authorize", strings.NewReader(big))
	var readErr error
	rs2 := httpx.NewRoutes(httpx.RoutesConfig{})
	rs2.BrowserEntry("POST /authorize", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { readErr = r.ParseForm() }))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rs2.ServeHTTP(httptest.NewRecorder(), r)
	if readErr == nil {
		t.Errorf("a body over MaxPageBody was read whole")
	}
}
