package oauth

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on authorization request parameters: no client needs more, and
// each value travels through pages and into the store.
const (
	MaxState     = 2048
	MaxNonce     = 512
	MaxLoginHint = 254
)

// Authorization endpoint error codes beyond RFC 6749 §4.1.2.1's common ones.
const (
	CodeRequestNotSupported    = "request_not_supported"     // OIDC Core §3.1.2.6
	CodeRequestURINotSupported = "request_uri_not_supported" // OIDC Core §3.1.2.6
)

// AuthorizeClient is what the rules of an authorization request need to know
// of the (already identified) client.
type AuthorizeClient struct {
	CodeFlow   bool     // given the authorization_code grant
	Legacy     bool     // marked legacy by an operator: may use response_type=token
	Public     bool     // no secret: PKCE is required
	FirstParty bool     // may be granted ScopeAccount (ClientScope)
	Scopes     []string // its registered scopes
	// ResourceScopes are the scopes the requested resources define (the
	// caller looked them up): this request may ask for them too, as the
	// person consents to them on the resource's behalf.
	ResourceScopes []string
}

// AuthorizeRequest is an authorization request (RFC 6749 §4.1.1, §4.2.1;
// OIDC Core §3.1.2.1) whose parameters passed ParseAuthorizeRequest. The
// client and its redirect URI are checked before, against the store; the
// id_token_hint's signature after, against the keys.
type AuthorizeRequest struct {
	State        string
	Fragment     bool   // answer in the fragment (the implicit grant)
	ResponseType string // "code" or "token"
	Scopes       []string
	// Resources are the RFC 8707 resource indicators asked for, checked
	// for form only (ParseResources); the caller checks they are registered.
	Resources []string
	// Challenge and Method: PKCE (RFC 7636), empty when none was sent or
	// the response type is not code.
	Challenge, Method string
	Prompt            map[string]bool
	MaxAge            time.Duration
	HasMaxAge         bool
	Nonce             string
	// Claims is the OIDC claims request (Core §5.5), restricted to claims
	// the client may have by scope; ClaimScopes are the scopes covering them
	// that the scope parameter did not ask for (the consent page lists them
	// too).
	Claims      *ClaimsRequest
	ClaimScopes []string
	LoginHint   string
	UILocales   string
	IDTokenHint string // as sent; the caller verifies it
}

// NonEmpty drops empty values: RFC 6749 §3.1 "Parameters sent without a
// value MUST be treated as if they were omitted from the request."
func NonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Single returns parameter k of vals: "" when absent or empty, false when
// it was sent more than once with a value.
func Single(vals url.Values, k string) (string, bool) {
	vs := NonEmpty(vals[k])
	switch len(vs) {
	case 0:
		return "", true
	case 1:
		return vs[0], true
	}
	return "", false
}

func authorizeError(code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// ParseAuthorizeRequest applies the protocol's rules to an authorization
// request of client c, once its client and redirect URI are known good (so
// that every error here goes back to the client, RFC 6749 §4.1.2.1). The
// request it returns is never nil: State and Fragment are set even with an
// error, for the error's redirect.
func ParseAuthorizeRequest(vals url.Values, c AuthorizeClient) (*AuthorizeRequest, *Error) {
	q := &AuthorizeRequest{}
	if vs := NonEmpty(vals["state"]); len(vs) == 1 && len(vs[0]) <= MaxState {
		q.State = vs[0]
	}
	rt, _ := Single(vals, "response_type")
	q.Fragment = rt == "token" && c.Legacy
	for k, vs := range vals {
		if k != ParamResource && len(NonEmpty(vs)) > 1 {
			// RFC 6749 §3.1: "Request and response parameters MUST NOT be
			// included more than once."
			return q, InvalidRequest("el parametro " + safeParamName(k) + " esta repetido")
		}
	}
	if len(vals.Get("state")) > MaxState {
		return q, InvalidRequest("state es demasiado largo")
	}
	// OIDC Core §6: request objects are not implemented.
	if vals.Get("request") != "" {
		return q, authorizeError(CodeRequestNotSupported, "el parametro request no esta soportado")
	}
	if vals.Get("request_uri") != "" {
		return q, authorizeError(CodeRequestURINotSupported, "el parametro request_uri no esta soportado")
	}
	e := q.responseType(rt, vals.Get("response_mode"), c)
	if e != nil {
		return q, e
	}
	if q.Resources, e = ParseResources(vals[ParamResource]); e != nil {
		return q, e
	}
	requested, e := ParseScope(vals.Get("scope"))
	if e != nil {
		return q, e
	}
	if q.Scopes, e = ClientScope(requested, union(c.Scopes, c.ResourceScopes), c.FirstParty); e != nil {
		return q, e
	}
	if e := q.pkce(vals, c); e != nil {
		return q, e
	}
	if e := q.oidc(vals, c); e != nil {
		return q, e
	}
	return q, nil
}

// responseType checks response_type and response_mode for c.
func (q *AuthorizeRequest) responseType(rt, mode string, c AuthorizeClient) *Error {
	switch rt {
	case "":
		return InvalidRequest("falta response_type")
	case "code":
		if !c.CodeFlow {
			return authorizeError(CodeUnauthorizedClient, "este cliente no puede usar el flujo authorization_code")
		}
	case "token":
		// RFC 9700 §2.1.2: the implicit grant SHOULD NOT be used; only
		// clients an operator marked legacy get it.
		if !c.Legacy {
			return authorizeError(CodeUnsupportedResponseType, "response_type=token solo esta disponible para clientes heredados; use response_type=code con PKCE")
		}
	default:
		return authorizeError(CodeUnsupportedResponseType, "response_type no soportado; use code")
	}
	q.ResponseType = rt
	if mode != "" && !(mode == "query" && rt == "code" || mode == "fragment" && rt == "token") {
		return InvalidRequest("response_mode no soportado")
	}
	return nil
}

// pkce applies RFC 7636 §4.4.1 and RFC 9700 §2.1.1: S256 only; required for
// public clients, honoured whenever a challenge is sent.
func (q *AuthorizeRequest) pkce(vals url.Values, c AuthorizeClient) *Error {
	if q.ResponseType != "code" {
		return nil
	}
	q.Challenge, q.Method = vals.Get("code_challenge"), vals.Get("code_challenge_method")
	switch {
	case q.Challenge != "":
		return ValidateChallenge(q.Challenge, q.Method)
	case q.Method != "":
		return InvalidRequest("code_challenge_method sin code_challenge")
	case c.Public:
		return InvalidRequest("los clientes publicos deben usar PKCE: envie code_challenge con code_challenge_method=S256")
	}
	return nil
}

// oidc reads the OpenID Connect request parameters (Core §3.1.2.1): prompt,
// max_age, nonce, claims (§5.5), id_token_hint, login_hint, ui_locales.
// display and acr_values are accepted and need nothing: the pages fit any
// screen and there is one authentication level.
func (q *AuthorizeRequest) oidc(vals url.Values, c AuthorizeClient) *Error {
	q.Prompt = map[string]bool{}
	for _, p := range strings.Fields(vals.Get("prompt")) {
		switch p {
		case "none", "login", "consent", "select_account":
			q.Prompt[p] = true
		default:
			return InvalidRequest("valor de prompt desconocido")
		}
	}
	// OIDC Core §3.1.2.1: "If this parameter contains none with any other
	// value, an error is returned."
	if q.Prompt["none"] && len(q.Prompt) > 1 {
		return InvalidRequest("prompt=none no se puede combinar con otros valores")
	}
	if s := vals.Get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return InvalidRequest("max_age debe ser un numero entero de segundos")
		}
		q.HasMaxAge = true
		q.MaxAge = time.Duration(min(n, 100*365*24*3600)) * time.Second
	}
	q.Nonce = vals.Get("nonce")
	if len(q.Nonce) > MaxNonce {
		return InvalidRequest("nonce es demasiado largo")
	}
	if s := vals.Get("claims"); s != "" {
		cr, e := ParseClaims(s)
		if e != nil {
			return e
		}
		// OIDC Core §5.5 lets a request ask for individual claims beyond
		// its scopes, but only in an OpenID request (and the ID token is
		// issued only by the code flow), and only claims whose scope the
		// client may be granted at all.
		if slices.Contains(q.Scopes, ScopeOpenID) {
			q.Claims = cr.Restrict(func(s string) bool { return slices.Contains(c.Scopes, s) })
		}
		for _, s := range q.Claims.Scopes() {
			if !slices.Contains(q.Scopes, s) {
				q.ClaimScopes = append(q.ClaimScopes, s)
			}
		}
	}
	q.IDTokenHint = vals.Get("id_token_hint")
	if h := vals.Get("login_hint"); len(h) <= MaxLoginHint {
		q.LoginHint = h
	}
	q.UILocales = vals.Get("ui_locales")
	return nil
}

// safeParamName is a parameter name fit for an error description: the
// characters RFC 6749 §5.2 allows there, at most 40 of them.
func safeParamName(s string) string {
	s = DescriptionSafe(s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// union is a followed by the items of b it lacks, as a fresh slice.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
