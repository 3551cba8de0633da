package oauth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Error codes of RFC 6749 §5.2 (token endpoint), §4.1.2.1 (authorization
// endpoint), RFC 7009 §2.2.1 and RFC 8628 §3.5.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeUnsupportedTokenType    = "unsupported_token_type"
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
)

// Error is an OAuth 2.0 protocol error (RFC 6749 §5.2). Build one fresh for
// every use with the constructors below: an Error is never shared, so a
// handler may set RetryAfter or a cause on it without touching anyone else's.
//
// Code, Description and URI go to the client; the cause only to the log.
// Descriptions must not carry internal detail (no err.Error() of a store or
// a key).
type Error struct {
	Code        string
	Description string
	Status      int
	URI         string
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds, rounded up).
	RetryAfter time.Duration

	cause error
}

func (e *Error) Error() string {
	s := "oauth: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the cause, for errors.Is/As and the log.
func (e *Error) Unwrap() error { return e.cause }

// WithCause records the internal cause (logged, never shown) and returns e.
func (e *Error) WithCause(err error) *Error {
	e.cause = err
	return e
}

func newError(code string, status int, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest: "The request is missing a required parameter, includes an
// unsupported parameter value (other than grant type), repeats a parameter,
// includes multiple credentials, utilizes more than one mechanism for
// authenticating the client, or is otherwise malformed." (RFC 6749 §5.2)
func InvalidRequest(desc string) *Error {
	return newError(CodeInvalidRequest, http.StatusBadRequest, desc)
}

// InvalidClient: "Client authentication failed (e.g., unknown client, no
// client authentication included, or unsupported authentication method)."
// The status is 400 here; WriteTokenError turns it into 401 with a
// WWW-Authenticate challenge when the client used the Authorization header.
func InvalidClient(desc string) *Error {
	return newError(CodeInvalidClient, http.StatusBadRequest, desc)
}

// InvalidGrant: the grant (code, refresh token, resource owner credentials)
// is invalid, expired, revoked, does not match the redirection URI, or was
// issued to another client.
func InvalidGrant(desc string) *Error {
	return newError(CodeInvalidGrant, http.StatusBadRequest, desc)
}

// UnauthorizedClient: the authenticated client may not use this grant type.
func UnauthorizedClient(desc string) *Error {
	return newError(CodeUnauthorizedClient, http.StatusBadRequest, desc)
}

// UnsupportedGrantType: the server does not support the grant type.
func UnsupportedGrantType(desc string) *Error {
	return newError(CodeUnsupportedGrantType, http.StatusBadRequest, desc)
}

// InvalidScope: the requested scope is invalid, unknown, malformed, or
// exceeds the scope granted by the resource owner.
func InvalidScope(desc string) *Error {
	return newError(CodeInvalidScope, http.StatusBadRequest, desc)
}

// UnsupportedTokenType (RFC 7009 §2.2.1): the server cannot revoke tokens of
// the type given.
func UnsupportedTokenType(desc string) *Error {
	return newError(CodeUnsupportedTokenType, http.StatusBadRequest, desc)
}

// ServerError is a 500 that shows nothing of cause; cause goes to the log.
// When cause is the database being unavailable (store.Unavailable: down,
// restarting, disk full) it is a 503 temporarily_unavailable with
// Retry-After instead — RFC 6749 §4.1.2.1: "The authorization server is
// currently unable to handle the request due to a temporary overloading or
// maintenance of the server." — so clients and load balancers back off
// rather than report a bug.
func ServerError(cause error) *Error {
	if store.Unavailable(cause) {
		return TemporarilyUnavailable(store.UnavailableRetry).WithCause(cause)
	}
	return newError(CodeServerError, http.StatusInternalServerError, "error interno del servidor").WithCause(cause)
}

// TemporarilyUnavailable is a 503 with Retry-After: the server is overloaded
// (e.g. too many password hashes at once) and the client should retry later.
func TemporarilyUnavailable(retryAfter time.Duration) *Error {
	e := newError(CodeTemporarilyUnavailable, http.StatusServiceUnavailable, "servicio temporalmente no disponible; reintenta mas tarde")
	e.RetryAfter = retryAfter
	return e
}

// errorBody is the JSON of RFC 6749 §5.2.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
}

// BasicRealm is the realm of the WWW-Authenticate challenge sent to clients
// that failed HTTP Basic authentication.
const BasicRealm = "multinexo"

// WriteTokenError writes e as the token endpoint (and revocation and
// introspection endpoints) answer errors: JSON, never cached.
//
// RFC 6749 §5.2, invalid_client: "If the client attempted to authenticate
// via the "Authorization" request header field, the authorization server MUST
// respond with an HTTP 401 (Unauthorized) status code and include the
// "WWW-Authenticate" response header field matching the authentication scheme
// used by the client." usedBasic says whether it did; otherwise the status is
// e.Status (400 for every §5.2 code).
func WriteTokenError(w http.ResponseWriter, e *Error, usedBasic bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if e.Code == CodeInvalidClient && usedBasic {
		// A client throttled for guessing (429) keeps its status: the
		// challenge still names the scheme, and Retry-After says when to
		// try again, which a 401 cannot.
		if status != http.StatusTooManyRequests {
			status = http.StatusUnauthorized
		}
		h.Set("WWW-Authenticate", `Basic realm="`+BasicRealm+`", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	b, _ := json.Marshal(errorBody{Error: e.Code, Description: DescriptionSafe(e.Description), URI: e.URI})
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// DescriptionSafe makes s fit RFC 6749 §5.2: "Values for the
// "error_description" parameter MUST NOT include characters outside the set
// %x20-21 / %x23-5B / %x5D-7E." Our descriptions are Spanish, so accented
// letters lose their accent (á → a, ñ → n); any other character outside the
// set (quotes, backslashes, control characters, other scripts) is dropped.
func DescriptionSafe(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !descChar(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 {
			if descChar(byte(r)) {
				b = append(b, byte(r))
			}
			continue
		}
		if a, found := unaccent[r]; found {
			b = append(b, a)
		}
	}
	return string(b)
}

func descChar(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'
}

var unaccent = map[rune]byte{
	'á': 'a', 'é': 'e', 'í': 'i', 'ó': 'o', 'ú': 'u', 'ü': 'u', 'ñ': 'n',
	'Á': 'A', 'É': 'E', 'Í': 'I', 'Ó': 'O', 'Ú': 'U', 'Ü': 'U', 'Ñ': 'N',
	'à': 'a', 'è': 'e', 'ì': 'i', 'ò': 'o', 'ù': 'u', 'ç': 'c', 'Ç': 'C',
	'¿': '?', '¡': '!', '«': '\'', '»': '\'', '“': '\'', '”': '\'',
}
