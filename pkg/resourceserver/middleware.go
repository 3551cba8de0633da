package resourceserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

type ctxKey struct{}

// FromContext returns the claims Require put in a request's context.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok
}

// WithClaims returns ctx carrying c (for handlers tested on their own).
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// Require returns middleware that serves next only for requests bearing a
// valid access token for this resource with every scope in scopes; the
// claims are in the request's context (FromContext). Otherwise it answers
// as RFC 6750 §3 and RFC 9728 §5.1 say: 401 with a WWW-Authenticate
// challenge naming the resource metadata (and error="invalid_token" when a
// token was sent), or 403 insufficient_scope naming the scopes needed.
func (s *Server) Require(scopes ...string) func(http.Handler) http.Handler {
	scope := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, present := bearer(r)
			if !present {
				s.challenge(w, http.StatusUnauthorized, "", "", scope)
				return
			}
			if raw == "" {
				s.challenge(w, http.StatusUnauthorized, "invalid_token", "malformed Authorization header", scope)
				return
			}
			c, err := s.Verify(r.Context(), raw)
			if err != nil {
				if errors.Is(err, ErrInvalidToken) {
					s.challenge(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or not for this resource", scope)
					return
				}
				http.Error(w, "the authorization server could not be reached", http.StatusServiceUnavailable)
				return
			}
			for _, sc := range scopes {
				if !c.HasScope(sc) {
					s.challenge(w, http.StatusForbidden, "insufficient_scope", "the access token lacks a required scope", scope)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// bearer returns the token of an "Authorization: Bearer" header (RFC 6750
// §2.1; the scheme is case-insensitive). present is false when no
// Authorization header was sent; raw is "" when one was sent but does not
// carry a bearer token.
func bearer(r *http.Request) (raw string, present bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 {
		return "", false
	}
	if len(hs) > 1 {
		return "", true
	}
	scheme, tok, ok := strings.Cut(hs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", true
	}
	return tok, true
}

// challenge writes a refusal with its WWW-Authenticate header.
func (s *Server) challenge(w http.ResponseWriter, status int, code, desc, scope string) {
	parts := []string{`resource_metadata="` + s.metaURL + `"`}
	if code != "" {
		parts = append(parts, `error="`+code+`"`, `error_description="`+desc+`"`)
	}
	if scope != "" {
		parts = append(parts, `scope="`+scope+`"`)
	}
	h := w.Header()
	h.Set("WWW-Authenticate", "Bearer "+strings.Join(parts, ", "))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]string{}
	if code != "" {
		body["error"], body["error_description"] = code, desc
	} else {
		body["error"] = "unauthorized"
		body["error_description"] = "an access token is required; see " + s.metaURL
	}
	_ = json.NewEncoder(w).Encode(body)
}

// metadata is the RFC 9728 §2 document.
type metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// MetadataHandler serves the RFC 9728 protected-resource metadata; mount it
// at MetadataPath. It answers any origin (CORS), as browser-based clients
// read it too.
func (s *Server) MetadataHandler() http.Handler {
	b, _ := json.Marshal(metadata{
		Resource:               s.cfg.Resource,
		AuthorizationServers:   []string{s.cfg.Issuer},
		ScopesSupported:        s.cfg.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           s.cfg.ResourceName,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	})
}
