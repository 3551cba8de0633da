package oauth

import (
	"net/http"
	"strings"
	"time"
)

// Access is what a verified bearer access token tells a resource handler.
type Access struct {
	UserID    string // "" for client-credentials tokens
	ClientID  string
	GrantID   string
	JTI       string
	Scopes    []string
	ExpiresAt time.Time
}

// HasScope reports whether the token carries scope s.
func (a *Access) HasScope(s string) bool {
	for _, x := range a.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// BearerVerifier authenticates a resource request (RFC 6750): the token from
// the Authorization header or the access_token query parameter, a valid
// signature, not expired, and its grant still live. Errors are *BearerError.
type BearerVerifier interface {
	VerifyBearer(r *http.Request) (*Access, error)
}

// BearerError is an RFC 6750 §3.1 error.
type BearerError struct {
	Status      int    // 400, 401 or 403
	Code        string // invalid_request, invalid_token, insufficient_scope; "" when no token was sent
	Description string
	Scope       string // for insufficient_scope: the scope needed
}

func (e *BearerError) Error() string { return "bearer: " + e.Code + ": " + e.Description }

// ErrInsufficientScope builds the 403 of RFC 6750 §3.1 for a missing scope.
func ErrInsufficientScope(scope string) *BearerError {
	return &BearerError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "the token lacks the scope " + scope, Scope: scope}
}

// WriteBearerChallenge sets the WWW-Authenticate header for e (RFC 6750 §3).
// The caller writes the body in its own format.
func WriteBearerChallenge(w http.ResponseWriter, realm string, e *BearerError) {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(realm)
	b.WriteString(`"`)
	if e.Code != "" {
		b.WriteString(`, error="` + e.Code + `"`)
	}
	if e.Description != "" {
		b.WriteString(`, error_description="` + strings.ReplaceAll(e.Description, `"`, "'") + `"`)
	}
	if e.Scope != "" {
		b.WriteString(`, scope="` + e.Scope + `"`)
	}
	w.Header().Set("WWW-Authenticate", b.String())
}
