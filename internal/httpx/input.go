package httpx

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ErrBadText is the cause of the error CheckInput returns.
var ErrBadText = errors.New("request text is not valid UTF-8 or contains a NUL byte")

// ValidText reports whether s may reach the store: valid UTF-8 with no NUL
// byte. PostgreSQL refuses both in text parameters (SQLSTATE 22021), SQLite
// stores them; checking at the edge makes both stores answer alike.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CheckInput is the one edge check of every route class: the path, every
// query parameter and, for form and JSON bodies, every decoded body value
// must be ValidText. A failure is a 400 *Error (code invalid_request) that
// the route class's adapter writes in its own format; nothing of the bad
// input is echoed. The body is read (bounded by MaxBody, which the routes
// install first) and put back so the handler reads it as sent; a read error
// is handed on to the handler unchanged.
func CheckInput(r *http.Request) error {
	bad := &Error{Status: http.StatusBadRequest, Code: "invalid_request",
		Public: "la solicitud contiene texto que no es UTF-8 valido o un byte NUL / the request contains invalid UTF-8 or a NUL byte", Cause: ErrBadText}
	if !ValidText(r.URL.Path) || !validValues(r.URL.RawQuery) {
		return bad
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	mt := MediaType(r)
	if mt != "application/x-www-form-urlencoded" && mt != "application/json" && mt != "application/vnd.api+json" {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if mt == "application/x-www-form-urlencoded" {
		if !validValues(string(body)) {
			return bad
		}
		return nil
	}
	// RFC 8259 §8.1: "JSON text exchanged between systems that are not part
	// of a closed ecosystem MUST be encoded using UTF-8". encoding/json would
	// silently replace bad bytes with U+FFFD; we refuse them instead.
	if !utf8.Valid(body) || jsonHasNUL(body) {
		return bad
	}
	return nil
}

// validValues checks the decoded keys and values of a query or form. A
// malformed escape is left for the handler to refuse in its own words.
func validValues(raw string) bool {
	if raw == "" {
		return true
	}
	if strings.IndexByte(raw, '%') < 0 {
		// Without escapes the decoded keys and values are pieces of raw
		// (with '+' as a space): raw decides, with no parsing (the hot
		// path: tokens, client ids and secrets need no escapes).
		return ValidText(raw)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		// ParseQuery stops at the first bad pair but keeps the others.
		if vals == nil {
			return true
		}
	}
	for k, vs := range vals {
		if !ValidText(k) {
			return false
		}
		for _, v := range vs {
			if !ValidText(v) {
				return false
			}
		}
	}
	return true
}

// jsonHasNUL reports whether a string in the JSON text b holds a raw NUL or
// the escape \u0000. It only scans; a malformed text is the decoder's
// business.
func jsonHasNUL(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c == '\\' && i+1 < len(b):
			if b[i+1] == 'u' && i+5 < len(b) && string(b[i+2:i+6]) == "0000" {
				return true
			}
			i++ // skip the escaped character
		}
	}
	return false
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
