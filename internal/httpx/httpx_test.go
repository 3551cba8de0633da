package httpx

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLoggingNeverRecordsQueryOrBody(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	h := Logging(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if RequestID(r.Context()) == "" {
			t.Error("no request id in context")
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	req := httptest.NewRequest("POST", "/v1/users/me?access_token=SECRET-TOKEN", strings.NewReader("password=SECRET-PW"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
	out := buf.String()
	if strings.Contains(out, "SECRET") {
		t.Fatalf("log contains a secret: %s", out)
	}
	if !strings.Contains(out, `"path":"/v1/users/me"`) || !strings.Contains(out, `"status":418`) {
		t.Fatalf("log line lacks path or status: %s", out)
	}
}

func TestLoggingRecoversPanics(t *testing.T) {
	var buf bytes.Buffer
	h := Logging(slog.New(slog.NewJSONHandler(&buf, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), id) || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("panic answer %d %q", rec.Code, rec.Body.String())
	}
}

func TestPageHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	PageHeaders(rec, true)
	h := rec.Header()
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Referrer-Policy") != "no-referrer" || h.Get("Strict-Transport-Security") == "" {
		t.Fatalf("headers %v", h)
	}
	rec = httptest.NewRecorder()
	PageHeaders(rec, false)
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS over http")
	}
}

func TestMaxBody(t *testing.T) {
	h := MaxBody(10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if _, err := b.ReadFrom(r.Body); err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11))))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestCheckInput(t *testing.T) {
	for _, c := range []struct {
		name, target, ct, body string
		bad                    bool
	}{
		{"plain", "/x?a=b", "", "", false},
		{"query bad utf8", "/x?a=%C0%AF", "", "", true},
		{"query nul", "/x?a=%00", "", "", true},
		{"query key nul", "/x?a%00=1", "", "", true},
		{"path", "/x/%FF", "", "", true},
		{"form", "/x", "application/x-www-form-urlencoded", "a=%FF", true},
		{"form ok", "/x", "application/x-www-form-urlencoded", "a=%C3%B1", false},
		{"json nul escape", "/x", "application/json", `{"a":"\u0000"}`, true},
		{"json escaped backslash", "/x", "application/json", `{"a":"\\u0000"}`, false},
		{"json raw bad", "/x", "application/vnd.api+json", "{\"a\":\"\xff\"}", true},
		{"other type unread", "/x", "text/plain", "\xff", false},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		r := httptest.NewRequest("POST", c.target, body)
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		err := CheckInput(r)
		if (err != nil) != c.bad {
			t.Errorf("%s: %v", c.name, err)
		}
		if rest, _ := io.ReadAll(r.Body); string(rest) != c.body {
			t.Errorf("%s: body not put back: %q", c.name, rest)
		}
	}
}
