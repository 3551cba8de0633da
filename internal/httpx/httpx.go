package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the id of the request in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// StatusClientClosedRequest is logged (as nginx does) for a request whose
// client went away before its answer was written: the failure that follows
// (a store call or a hash cut short) is the client's doing, not a 500.
const StatusClientClosedRequest = 499

// ClientGone reports whether the client of the request with context ctx has
// gone away (closed its connection, or cancelled an HTTP/2 stream) before
// the handler finished. The server's own contexts are never cancelled
// (serve.go gives them context.WithoutCancel), so while a handler runs a
// cancelled request context means exactly that.
func ClientGone(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// DetachTimeout bounds work that goes on after its client has gone.
const DetachTimeout = 10 * time.Second

// Detach returns a context for work a request must finish even if its
// client goes away (ending a session on logout): ctx's values without its
// cancellation, bounded by DetachTimeout.
func Detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), DetachTimeout)
}

// Logging assigns a request id (X-Request-Id on the response), recovers
// panics as a 500 naming that id, and logs one line per request. Only the path
// is logged, never the query string or the body: tokens and passwords travel
// there (RFC 6750 §2.3 access_token, authorization codes in redirects).
func Logging(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					http.Error(sw, "internal error (request "+id+")", http.StatusInternalServerError)
				}
			}
			status := sw.status
			if ClientGone(ctx) && (status == 0 || status >= 500) {
				// Nobody read the answer: not a server error.
				status = StatusClientClosedRequest
			}
			log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", sw.size),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", ClientIP(r)),
			)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// ClientIP is the peer address of the request. X-Forwarded-For is not
// trusted: rate limits keyed on it could be dodged by any client.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Error is an error that is safe to show: Status and Public go to the
// client, Cause only to the log.
type Error struct {
	Status int
	Code   string // machine-readable code
	Public string // message for the person
	Cause  error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Public + ": " + e.Cause.Error()
	}
	return e.Public
}

func (e *Error) Unwrap() error { return e.Cause }

// HandlerFunc is a handler that may fail. The adapter that runs it decides
// how the error is written (JSON:API, OAuth JSON, an HTML page).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// LogError logs err for request r at a level fitting its status: 5xx as
// errors (with cause), others at debug. A failure after the client went
// away is at debug too: Logging records the request once, at info, with
// status 499.
func LogError(log *slog.Logger, r *http.Request, status int, err error) {
	lvl := slog.LevelDebug
	if status >= 500 && !ClientGone(r.Context()) {
		lvl = slog.LevelError
	}
	log.Log(r.Context(), lvl, "request failed", "request_id", RequestID(r.Context()), "path", r.URL.Path, "status", status, "error", err.Error())
}

// MaxBody limits request bodies to n bytes; a larger body fails the read
// with *http.MaxBytesError instead of being read whole.
func MaxBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			w.Header().Set("Connection", "close")
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// MediaType returns the lower-cased media type of the request without
// parameters ("application/json" for "application/json; charset=utf-8").
func MediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// NoStore marks a response as not cacheable (RFC 6749 §5.1: token responses
// MUST carry Cache-Control: no-store).
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// PageCSP is the one Content-Security-Policy of browser pages: nothing but
// our own stylesheet and images, no framing (frame-ancestors 'none'), no
// base, forms posted to us — and to formAction, the sources a form's
// answer may redirect to (Chrome applies form-action to every redirect
// that follows a form submission, so a form whose answer goes to a client
// must list that client) — and scripts only from us when scripts is set,
// which may then fetch only from us too (connect-src 'self': the passkey
// ceremonies' JSON endpoints).
func PageCSP(formAction []string, scripts bool) string {
	fa := "'self'"
	for _, s := range formAction {
		if s != "" {
			fa += " " + s
		}
	}
	p := "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action " + fa +
		"; frame-ancestors 'none'; base-uri 'none'"
	if scripts {
		p += "; script-src 'self'; connect-src 'self'"
	}
	return p
}

// PageHeaders sets the defenses of a browser page: its CSP (PageCSP),
// nosniff, no referrer, no framing, and HSTS when served over https.
func PageHeaders(w http.ResponseWriter, https bool, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if https {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}
