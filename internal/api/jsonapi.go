package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// MediaType is the JSON:API media type.
const MediaType = "application/vnd.api+json"

// MaxBody is the largest request body read (1 MiB).
const MaxBody = httpx.MaxAPIBody

// Document is a JSON:API top-level document.
type Document struct {
	Data   any            `json:"data,omitempty"`
	Errors []ErrorObject  `json:"errors,omitempty"`
	Links  map[string]any `json:"links,omitempty"`
	Meta   map[string]any `json:"meta,omitempty"`
}

// Resource is a JSON:API resource object.
type Resource struct {
	Type          string                  `json:"type"`
	ID            string                  `json:"id,omitempty"`
	Attributes    any                     `json:"attributes,omitempty"`
	Relationships map[string]Relationship `json:"relationships,omitempty"`
	Links         map[string]string       `json:"links,omitempty"`
}

// Relationship is a JSON:API relationship object.
type Relationship struct {
	Data  any               `json:"data"`
	Links map[string]string `json:"links,omitempty"`
}

// Identifier is a resource identifier object.
type Identifier struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ErrorObject is a JSON:API error object.
type ErrorObject struct {
	Status string       `json:"status"`
	Code   string       `json:"code"`
	Title  string       `json:"title"`
	Detail string       `json:"detail,omitempty"`
	Source *ErrorSource `json:"source,omitempty"`
}

// ErrorSource points at the part of the request that caused an error.
type ErrorSource struct {
	Pointer   string `json:"pointer,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Header    string `json:"header,omitempty"`
}

// text is one message in the two languages we speak.
type text struct{ es, en string }

func (t text) in(lang string) string {
	if lang == "en" {
		return t.en
	}
	return t.es
}

// Problem is one thing wrong with a request.
type Problem struct {
	Code    string
	Title   text
	Detail  text
	Pointer string // JSON pointer into the request document
	Param   string // query parameter
	Header  string // request header
}

// Error is a failed request as handlers return it: the status, one or more
// problems (written as error objects), response headers such as Retry-After,
// and the cause, which only goes to the log.
type Error struct {
	Status   int
	Problems []Problem
	Header   http.Header
	Bearer   *oauth.BearerError // sets WWW-Authenticate
	Cause    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("api: " + strconv.Itoa(e.Status))
	for _, p := range e.Problems {
		b.WriteString(" " + p.Code)
		if p.Pointer != "" {
			b.WriteString("(" + p.Pointer + ")")
		}
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Cause }

func newError(status int, p ...Problem) *Error { return &Error{Status: status, Problems: p} }

// lang picks the language of the answer from Accept-Language: Spanish
// unless English is preferred.
var langMatcher = language.NewMatcher([]language.Tag{language.Spanish, language.English})

func lang(r *http.Request) string {
	h := r.Header.Get("Accept-Language")
	if h == "" {
		return "es"
	}
	tags, _, err := language.ParseAcceptLanguage(h)
	if err != nil || len(tags) == 0 {
		return "es"
	}
	_, i, conf := langMatcher.Match(tags...)
	if i == 1 && conf != language.No {
		return "en"
	}
	return "es"
}

// WriteErrors writes e as a JSON:API error document.
func WriteErrors(w http.ResponseWriter, r *http.Request, e *Error) {
	l := lang(r)
	doc := Document{Errors: make([]ErrorObject, 0, len(e.Problems))}
	for _, p := range e.Problems {
		o := ErrorObject{Status: strconv.Itoa(e.Status), Code: p.Code, Title: p.Title.in(l), Detail: p.Detail.in(l)}
		if p.Pointer != "" || p.Param != "" || p.Header != "" {
			o.Source = &ErrorSource{Pointer: p.Pointer, Parameter: p.Param, Header: p.Header}
		}
		doc.Errors = append(doc.Errors, o)
	}
	writeHeaders(w, e)
	writeJSON(w, MediaType, e.Status, doc)
}

func writeHeaders(w http.ResponseWriter, e *Error) {
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if e.Bearer != nil {
		oauth.WriteBearerChallenge(w, "multinexo", e.Bearer)
	}
}

// writePlainError writes e the way Django REST framework does, for the
// seed-004 routes: {"detail": "...", "code": "..."}.
func writePlainError(w http.ResponseWriter, r *http.Request, e *Error) {
	l := lang(r)
	body := map[string]string{}
	if len(e.Problems) > 0 {
		p := e.Problems[0]
		body["code"] = p.Code
		body["detail"] = p.Detail.in(l)
	}
	writeHeaders(w, e)
	writeJSON(w, "application/json", e.Status, body)
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// handle adapts a handler that returns an error. Known errors (*Error,
// *httpx.Error) are written as they say; anything else is a 500 that names
// the request id and nothing of the cause.
func handle(log *slog.Logger, plain bool, h httpx.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The edge check of the path, the filters and the body: bad text is
		// a 400 JSON:API error before anything reaches the store.
		err := httpx.CheckInput(r)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		e := toError(r, err)
		httpx.LogError(log, r, e.Status, err)
		if plain {
			writePlainError(w, r, e)
		} else {
			WriteErrors(w, r, e)
		}
	})
}

func toError(r *http.Request, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge()
	}
	var he *httpx.Error
	if errors.As(err, &he) && he.Status < 500 {
		return newError(he.Status, Problem{Code: he.Code, Title: text{he.Public, he.Public}, Detail: text{he.Public, he.Public}})
	}
	if store.Unavailable(err) {
		return errUnavailable(err)
	}
	detail := text{"Ocurrió un error interno. Inténtalo de nuevo en unos minutos; si persiste, avisa al soporte.", "An internal error occurred. Try again in a few minutes; if it persists, tell support."}
	if id := httpx.RequestID(r.Context()); id != "" {
		detail = text{"Ocurrió un error interno. Inténtalo de nuevo en unos minutos; si persiste, comunica al soporte el identificador de solicitud " + id + ".", "An internal error occurred. Try again in a few minutes; if it persists, give support the request id " + id + "."}
	}
	return &Error{Status: http.StatusInternalServerError, Cause: err, Problems: []Problem{{
		Code:   "internal_error",
		Title:  text{"Error interno", "Internal error"},
		Detail: detail,
	}}}
}

// errUnavailable: the database is down, restarting or out of disk. A 503
// with Retry-After and the code temporarily_unavailable, so clients and
// load balancers back off instead of reporting a bug.
func errUnavailable(cause error) *Error {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(store.UnavailableRetry/time.Second)))
	return &Error{Status: http.StatusServiceUnavailable, Cause: cause, Header: h, Problems: []Problem{{
		Code:   "temporarily_unavailable",
		Title:  text{"Servicio no disponible", "Service unavailable"},
		Detail: text{"El servicio no está disponible en este momento. Vuelve a intentarlo en unos segundos.", "The service is unavailable right now. Try again in a few seconds."},
	}}}
}

func errTooLarge() *Error {
	return newError(http.StatusRequestEntityTooLarge, Problem{
		Code:   "too_large",
		Title:  text{"Cuerpo demasiado grande", "Body too large"},
		Detail: text{"El cuerpo de la solicitud supera 1 MiB. Envía solo el documento JSON:API del recurso.", "The request body exceeds 1 MiB. Send only the resource's JSON:API document."},
	})
}

func retryAfter(d time.Duration) http.Header {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return http.Header{"Retry-After": {strconv.Itoa(secs)}}
}

// checkMediaType accepts application/vnd.api+json (with at most the ext and
// profile parameters, JSON:API §Content Negotiation) and application/json.
func checkMediaType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case MediaType:
			for k := range params {
				if k != "ext" && k != "profile" {
					err = errors.New("media type parameter " + k)
				}
			}
		case "application/json":
		default:
			err = errors.New("media type " + mt)
		}
	}
	if err != nil {
		return &Error{Status: http.StatusUnsupportedMediaType, Cause: err, Problems: []Problem{{
			Code:   "unsupported_media_type",
			Title:  text{"Tipo de contenido no admitido", "Unsupported media type"},
			Detail: text{"Envía el cuerpo como JSON con la cabecera Content-Type: application/vnd.api+json (o application/json).", "Send the body as JSON with the header Content-Type: application/vnd.api+json (or application/json)."},
			Header: "Content-Type",
		}}}
	}
	return nil
}

// inResource is a resource object as received: attribute names are kept
// exactly as sent, so no case-insensitive matching can smuggle a field in.
type inResource struct {
	Type          *string
	ID            *string
	HasID         bool
	Attributes    map[string]json.RawMessage
	Relationships json.RawMessage
}

func errMalformed(cause error) *Error {
	return &Error{Status: http.StatusBadRequest, Cause: cause, Problems: []Problem{{
		Code:   "malformed",
		Title:  text{"JSON mal formado", "Malformed JSON"},
		Detail: text{"El cuerpo no es JSON válido en UTF-8. Revisa comillas, comas y llaves, y envía un único documento.", "The body is not valid UTF-8 JSON. Check quotes, commas and braces, and send a single document."},
	}}}
}

func errDocument(pointer string, detail text) *Error {
	return newError(http.StatusBadRequest, Problem{
		Code:    "invalid_document",
		Title:   text{"Documento JSON:API inválido", "Invalid JSON:API document"},
		Detail:  detail,
		Pointer: pointer,
	})
}

// readResource reads a request whose primary data is one resource object of
// type typ.
func readResource(w http.ResponseWriter, r *http.Request, typ string) (*inResource, error) {
	if err := checkMediaType(r); err != nil {
		return nil, err
	}
	if r.ContentLength > MaxBody {
		w.Header().Set("Connection", "close")
		return nil, errTooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge()
		}
		return nil, errMalformed(err)
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return nil, errMalformed(errors.New("invalid JSON"))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errDocument("", text{"El cuerpo debe ser un objeto JSON con el miembro \"data\": {\"data\":{\"type\":\"" + typ + "\",\"attributes\":{…}}}.", "The body must be a JSON object with a \"data\" member: {\"data\":{\"type\":\"" + typ + "\",\"attributes\":{…}}}."})
	}
	for k := range top {
		switch k {
		case "data", "meta", "jsonapi", "links":
		default:
			return nil, errDocument("/"+k, text{"El miembro \"" + k + "\" no está permitido aquí. Envía solo \"data\" (y opcionalmente \"meta\").", "The member \"" + k + "\" is not allowed here. Send only \"data\" (and optionally \"meta\")."})
		}
	}
	raw, ok := top["data"]
	if !ok || isNull(raw) {
		return nil, errDocument("/data", text{"Falta el miembro \"data\" con el recurso: {\"data\":{\"type\":\"" + typ + "\",\"attributes\":{…}}}.", "The \"data\" member with the resource is missing: {\"data\":{\"type\":\"" + typ + "\",\"attributes\":{…}}}."})
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, errDocument("/data", text{"\"data\" debe ser un único objeto de recurso, no una lista ni un valor.", "\"data\" must be a single resource object, not a list or a value."})
	}
	res := &inResource{}
	for k, v := range data {
		switch k {
		case "type":
			var s string
			if json.Unmarshal(v, &s) != nil || isNull(v) {
				return nil, errDocument("/data/type", text{"\"type\" debe ser el texto \"" + typ + "\".", "\"type\" must be the string \"" + typ + "\"."})
			}
			res.Type = &s
		case "id":
			var s string
			if json.Unmarshal(v, &s) != nil || isNull(v) {
				return nil, errDocument("/data/id", text{"\"id\" debe ser un texto.", "\"id\" must be a string."})
			}
			res.ID, res.HasID = &s, true
		case "attributes":
			if isNull(v) {
				continue
			}
			if json.Unmarshal(v, &res.Attributes) != nil {
				return nil, errDocument("/data/attributes", text{"\"attributes\" debe ser un objeto.", "\"attributes\" must be an object."})
			}
		case "relationships":
			res.Relationships = v
		case "meta", "links", "lid":
		default:
			return nil, errDocument("/data/"+k, text{"El miembro \"" + k + "\" no está permitido en un objeto de recurso.", "The member \"" + k + "\" is not allowed in a resource object."})
		}
	}
	if res.Type == nil {
		return nil, errDocument("/data/type", text{"Falta \"type\": indica \"type\":\"" + typ + "\" dentro de \"data\".", "\"type\" is missing: put \"type\":\"" + typ + "\" inside \"data\"."})
	}
	if *res.Type != typ {
		// JSON:API: "A server MUST return 409 Conflict when processing a POST
		// request in which the resource object's type is not among the
		// type(s) that constitute the collection represented by the endpoint."
		return nil, newError(http.StatusConflict, Problem{
			Code:    "type_mismatch",
			Title:   text{"Tipo de recurso incorrecto", "Wrong resource type"},
			Detail:  text{"Este endpoint solo acepta recursos de tipo \"" + typ + "\". Cambia \"type\".", "This endpoint only accepts resources of type \"" + typ + "\". Change \"type\"."},
			Pointer: "/data/type",
		})
	}
	return res, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
