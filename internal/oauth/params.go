package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
)

// Params are the parameters of a protocol request, each present at most once.
// RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they
// were omitted from the request. ... Request and response parameters MUST NOT
// be included more than once." An empty value is therefore never stored.
type Params map[string]string

// Get returns the value of name, "" when absent.
func (p Params) Get(name string) string { return p[name] }

// Has reports whether name was sent with a non-empty value.
func (p Params) Has(name string) bool { _, ok := p[name]; return ok }

// multiSep joins the values of the one repeatable parameter (resource) in
// Params. The edge check (httpx.CheckInput) refuses a NUL in any request,
// so no single value contains it.
const multiSep = "\x00"

// Resources returns the resource values (RFC 8707), each non-empty, in the
// order sent; nil when none was.
func (p Params) Resources() []string {
	v, ok := p[ParamResource]
	if !ok {
		return nil
	}
	return strings.Split(v, multiSep)
}

// ParseForm parses an application/x-www-form-urlencoded body (RFC 6749
// Appendix B). A repeated parameter is invalid_request (§3.1).
func ParseForm(body string) (Params, *Error) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		// No cause: url.ParseQuery quotes the bad escape, which may be part
		// of a password.
		return nil, InvalidRequest("cuerpo application/x-www-form-urlencoded mal formado")
	}
	p := make(Params, len(vals))
	for k, vs := range vals {
		if k == ParamResource {
			// RFC 8707 §2: the one parameter that may be repeated.
			if ne := NonEmpty(vs); len(ne) > 0 {
				p[k] = strings.Join(ne, multiSep)
			}
			continue
		}
		n := 0
		for _, v := range vs {
			if v != "" {
				n++
				p[k] = v
			}
		}
		if n > 1 {
			return nil, InvalidRequest("el parametro " + strings.Map(safeRune, k) + " esta repetido")
		}
	}
	return p, nil
}

// ParseJSON parses an application/json body, which seed 004's clients send to
// the token endpoint instead of a form: one object whose values are strings
// (scope too, space-delimited as in a form). Numbers, booleans, null, arrays
// and nested objects are invalid_request, and so is a key given twice
// (RFC 6749 §3.1, as in a form).
//
// Seed 004's documented requests end their object with a trailing comma
// ({"grant_type": "password", ..., "password": "password", }) and its clients
// copy that, so one comma directly before a closing brace or bracket is
// tolerated; any other malformation (a leading comma, two commas, unquoted
// keys, comments, trailing data) is still refused.
func ParseJSON(body []byte) (Params, *Error) {
	bad := func(cause error) (Params, *Error) {
		return nil, InvalidRequest("cuerpo JSON mal formado").WithCause(cause)
	}
	clean, err := StripTrailingCommas(body)
	if err != nil {
		return bad(err)
	}
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, InvalidRequest("el cuerpo JSON debe ser un objeto")
	}
	p := Params{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, ok := tok.(string)
		if !ok {
			return bad(errors.New("object key is not a string"))
		}
		tok, err = dec.Token()
		if err != nil {
			return bad(err)
		}
		if d, isArray := tok.(json.Delim); isArray && d == '[' && key == ParamResource {
			// RFC 8707's repeatable resource, as a JSON array of strings.
			vals, e := stringArray(dec, key)
			if e != nil {
				return nil, e
			}
			tok = strings.Join(vals, multiSep)
		}
		val, ok := tok.(string)
		if !ok {
			return nil, InvalidRequest("el valor de " + strings.Map(safeRune, key) + " debe ser una cadena JSON")
		}
		if seen[key] {
			return nil, InvalidRequest("el parametro " + strings.Map(safeRune, key) + " esta repetido")
		}
		seen[key] = true
		if val != "" {
			p[key] = val
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(errors.New("data after the JSON object"))
	}
	return p, nil
}

// StripTrailingCommas removes each comma that directly (ignoring white space)
// precedes a '}' or ']' and follows a complete value, outside strings. A comma
// after '{', '[', ',' or ':' is left in place, so the decoder still refuses
// "{,}", "[,]" and "{"a":"b",,}". It returns an error for an unterminated
// string. The input is not modified.
func StripTrailingCommas(b []byte) ([]byte, error) {
	if bytes.IndexByte(b, ',') < 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b))
	var last byte // last significant byte copied outside a string
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			for ; j < len(b); j++ {
				if b[j] == '\\' {
					j++
					continue
				}
				if b[j] == '"' {
					break
				}
			}
			if j >= len(b) {
				return nil, errors.New("unterminated string")
			}
			out = append(out, b[i:j+1]...)
			last = '"'
			i = j
		case c == ',' && last != 0 && last != '{' && last != '[' && last != ',' && last != ':':
			k := i + 1
			for k < len(b) && isJSONSpace(b[k]) {
				k++
			}
			if k < len(b) && (b[k] == '}' || b[k] == ']') {
				continue // drop the trailing comma
			}
			out = append(out, c)
			last = c
		default:
			out = append(out, c)
			if !isJSONSpace(c) {
				last = c
			}
		}
	}
	return out, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// stringArray reads the rest of a JSON array of strings (the '[' was read),
// dropping empty ones.
func stringArray(dec *json.Decoder, key string) ([]string, *Error) {
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, InvalidRequest("cuerpo JSON mal formado").WithCause(err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, InvalidRequest("los valores de " + strings.Map(safeRune, key) + " deben ser cadenas JSON")
		}
		if v != "" {
			out = append(out, v)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, InvalidRequest("cuerpo JSON mal formado").WithCause(err)
	}
	return out, nil
}
