package provider

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
)

// Why a protocol request was refused, for the developer who integrates: the
// answer carries the public description and the X-Request-Id; the log line
// with that request id names the check that failed, the client presented
// and the internal cause — never a secret, a token, a code or a password
// (none of them is ever put in a description or a cause).

type refusalKey struct{}

// refusal is what a protocol request learns, while it runs, that its log
// line of refusal should name.
type refusal struct {
	clientID string
}

// withRefusal gives r a place for noteClient.
func withRefusal(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), refusalKey{}, &refusal{}))
}

// noteClient records the client id the request presented (as sent, bounded).
func noteClient(ctx context.Context, id string) {
	if rf, ok := ctx.Value(refusalKey{}).(*refusal); ok {
		if len(id) > maxClientIDLen {
			id = id[:maxClientIDLen]
		}
		rf.clientID = id
	}
}

// logRefused logs, at INFO, why a request was refused with e (4xx): the
// request id, the endpoint, the OAuth code and description, the client id
// presented and the cause when there is one.
func (p *Provider) logRefused(r *http.Request, e *oauth.Error) {
	attrs := []slog.Attr{
		slog.String("request_id", httpx.RequestID(r.Context())),
		slog.String("path", r.URL.Path),
		slog.Int("status", e.Status),
		slog.String("error", e.Code),
		slog.String("reason", e.Description),
	}
	if rf, ok := r.Context().Value(refusalKey{}).(*refusal); ok && rf.clientID != "" {
		attrs = append(attrs, slog.String("client_id", rf.clientID))
	}
	if c := e.Unwrap(); c != nil {
		attrs = append(attrs, slog.String("cause", c.Error()))
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "request refused", attrs...)
}
