package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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
	PageHeaders(rec, true, PageCSP([]string{"https://app.example"}, false))
	h := rec.Header()
	if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "form-action 'self' https://app.example;") || strings.Contains(got, "*") || strings.Contains(got, "script-src") {
		t.Errorf("CSP %q", got)
	}
	if got := PageCSP(nil, true); !strings.HasSuffix(got, "; script-src 'self'; connect-src 'self'") {
		t.Errorf("CSP with scripts %q", got)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Referrer-Policy") != "no-referrer" || h.Get("Strict-Transport-Security") == "" {
		t.Fatalf("headers %v", h)
	}
	rec = httptest.NewRecorder()
	PageHeaders(rec, false, PageCSP(nil, false))
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

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines decodes the JSON log lines in out.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// A request whose client hangs up is logged once, at info, with status 499
// (as nginx does): the failure its handler then meets (a store call cut
// short: "context canceled") is not a server error. A server error with the
// client still there stays an error.
func TestLoggingClientGone(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	started, logged := make(chan struct{}, 1), make(chan struct{}, 1)
	inner := Logging(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error = errors.New("disk on fire")
		if r.URL.Path == "/hang-up" {
			started <- struct{}{}
			select { // the work the client does not wait for
			case <-r.Context().Done():
				err = fmt.Errorf("storing: %w", r.Context().Err())
			case <-time.After(10 * time.Second):
				t.Error("the client's hang-up never reached the handler")
			}
		}
		LogError(log, r, http.StatusInternalServerError, err)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		logged <- struct{}{}
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/hang-up", nil)
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered")
	}
	<-logged
	lines := logLines(t, buf.String())
	if len(lines) != 1 || lines[0]["level"] != "INFO" || lines[0]["msg"] != "request" || lines[0]["status"] != 499.0 {
		t.Fatalf("hang-up logged as %v, want one request line at INFO with status 499", lines)
	}

	buf = syncBuffer{}
	resp, err := srv.Client().Post(srv.URL+"/fails", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-logged
	lines = logLines(t, buf.String())
	if len(lines) != 2 || lines[0]["level"] != "ERROR" || lines[1]["status"] != 500.0 {
		t.Fatalf("server error logged as %v, want an ERROR and a request line with status 500", lines)
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
