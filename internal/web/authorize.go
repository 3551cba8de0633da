package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Error codes of the authorization endpoint beyond RFC 6749's: OpenID
// Connect Core §3.1.2.6.
const (
	codeLoginRequired           = "login_required"
	codeConsentRequired         = "consent_required"
	codeRequestNotSupported     = "request_not_supported"
	codeRequestURINotSupported  = "request_uri_not_supported"
	codeUnsupportedResponseType = oauth.CodeUnsupportedResponseType
)

// Limits on values that are stored or echoed.
const (
	maxNonce     = 512
	maxState     = 2048
	maxLoginHint = 254
	maxClientID  = 200
)

// authzRequest is a validated authorization request. It lives for one HTTP
// request only: the login and consent pages carry the original parameters
// (raw) and every step parses and validates them again from the start, so
// nothing a browser sends back is trusted.
type authzRequest struct {
	raw             url.Values
	client          *store.Client
	redirectURI     string // where the answer goes (validated)
	sentRedirectURI string // redirect_uri as sent, "" when omitted; bound to the code (RFC 6749 §4.1.3)
	responseType    string // "code" or "token"
	fragment        bool   // answer in the fragment (implicit)
	state           string
	nonce           string
	scopes          []string
	challenge       string
	method          string
	prompt          map[string]bool
	maxAge          time.Duration
	hasMaxAge       bool
	loginHint       string
	uiLocales       string
	hintSubject     string // sub of a valid id_token_hint
	// claims is the OIDC claims request (Core §5.5), restricted to claims
	// the client may have by scope; claimScopes are the scopes covering
	// them that the scope parameter did not ask for: the consent page
	// lists them too.
	claims      *oauth.ClaimsRequest
	claimScopes []string
}

// fail sends e back to the client's validated redirect URI.
func (q *authzRequest) fail(e *oauth.Error) error {
	return &redirectError{err: e, uri: q.redirectURI, state: q.state, fragment: q.fragment, clientID: q.client.ID}
}

func authzError(code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// authzParams reads the request's parameters: the query of a GET, the form
// (and query) of a POST (OIDC Core §3.1.2.1).
func authzParams(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, &pageError{Status: http.StatusBadRequest, Msg: "error.badrequest", cause: err}
		}
		return r.Form, nil
	}
	return r.URL.Query(), nil
}

// nonEmpty drops empty values: RFC 6749 §3.1 "Parameters sent without a
// value MUST be treated as if they were omitted from the request."
func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseAuthz validates an authorization request. Until the client and its
// redirect URI are known good, every error is a *pageError: RFC 6749
// §4.1.2.1 "If the request fails due to a missing, invalid, or mismatching
// redirection URI, or if the client identifier is missing or invalid, the
// authorization server SHOULD inform the resource owner of the error and MUST
// NOT automatically redirect the user-agent to the invalid redirection URI."
// After that, errors are *redirectError with the §4.1.2.1 codes.
func (w *Web) parseAuthz(ctx context.Context, vals url.Values) (*authzRequest, error) {
	one := func(k string) (string, bool) {
		vs := nonEmpty(vals[k])
		if len(vs) > 1 {
			return "", false
		}
		if len(vs) == 0 {
			return "", true
		}
		return vs[0], true
	}
	clientID, ok1 := one("client_id")
	sent, ok2 := one("redirect_uri")
	if !ok1 || !ok2 {
		return nil, pageErr(http.StatusBadRequest, "error.repeated")
	}
	if clientID == "" {
		return nil, pageErr(http.StatusBadRequest, "error.noclient")
	}
	if len(clientID) > maxClientID {
		return nil, pageErr(http.StatusBadRequest, "error.unknownclient").presented(clientID, sent)
	}
	client, err := w.cfg.Store.GetClient(ctx, clientID)
	if err != nil {
		if isNotFound(err) {
			return nil, pageErr(http.StatusBadRequest, "error.unknownclient").presented(clientID, sent)
		}
		return nil, err
	}
	if client.Disabled {
		return nil, pageErr(http.StatusBadRequest, "error.disabledclient").presented(clientID, sent)
	}
	q := &authzRequest{raw: vals, client: client, sentRedirectURI: sent}
	switch {
	case sent != "":
		// RFC 9700 §4.1.3: exact string matching (RFC 8252 §7.3 for loopback IPs).
		u, ok := oauth.MatchRedirectURI(client.RedirectURIs, sent)
		if !ok {
			return nil, pageErr(http.StatusBadRequest, "error.badredirect").presented(clientID, sent)
		}
		q.redirectURI = u
	case len(client.RedirectURIs) == 1:
		// RFC 6749 §3.1.2.3: with one registered URI the parameter is optional.
		q.redirectURI = client.RedirectURIs[0]
	default:
		return nil, pageErr(http.StatusBadRequest, "error.noredirect").presented(clientID, "")
	}

	// From here on the client and its redirect URI are trusted: errors go back.
	if vs := nonEmpty(vals["state"]); len(vs) == 1 && len(vs[0]) <= maxState {
		q.state = vs[0]
	}
	rt, _ := one("response_type")
	q.fragment = rt == "token" && client.Legacy
	for k, vs := range vals {
		if len(nonEmpty(vs)) > 1 {
			// RFC 6749 §3.1: "Request and response parameters MUST NOT be
			// included more than once."
			return nil, q.fail(oauth.InvalidRequest("el parametro " + safeName(k) + " esta repetido"))
		}
	}
	if s := vals.Get("state"); len(s) > maxState {
		return nil, q.fail(oauth.InvalidRequest("state es demasiado largo"))
	}
	// OIDC Core §6: request objects are not implemented.
	if vals.Get("request") != "" {
		return nil, q.fail(authzError(codeRequestNotSupported, "el parametro request no esta soportado"))
	}
	if vals.Get("request_uri") != "" {
		return nil, q.fail(authzError(codeRequestURINotSupported, "el parametro request_uri no esta soportado"))
	}
	switch rt {
	case "":
		return nil, q.fail(oauth.InvalidRequest("falta response_type"))
	case "code":
		if !slices.Contains(client.Grants, store.GrantAuthorizationCode) {
			return nil, q.fail(authzError(oauth.CodeUnauthorizedClient, "este cliente no puede usar el flujo authorization_code"))
		}
	case "token":
		// RFC 9700 §2.1.2: the implicit grant SHOULD NOT be used; only
		// clients an operator marked legacy get it.
		if !client.Legacy {
			return nil, q.fail(authzError(codeUnsupportedResponseType, "response_type=token solo esta disponible para clientes heredados; use response_type=code con PKCE"))
		}
	default:
		return nil, q.fail(authzError(codeUnsupportedResponseType, "response_type no soportado; use code"))
	}
	q.responseType = rt
	if m := vals.Get("response_mode"); m != "" && !(m == "query" && rt == "code" || m == "fragment" && rt == "token") {
		return nil, q.fail(oauth.InvalidRequest("response_mode no soportado"))
	}

	requested, e := oauth.ParseScope(vals.Get("scope"))
	if e != nil {
		return nil, q.fail(e)
	}
	if q.scopes, e = oauth.ClientScope(requested, client.Scopes, client.IsFirstParty()); e != nil {
		return nil, q.fail(e)
	}

	// PKCE, RFC 7636 §4.4.1 and RFC 9700 §2.1.1: S256 only; required for
	// public clients, honoured whenever a challenge is sent.
	q.challenge, q.method = vals.Get("code_challenge"), vals.Get("code_challenge_method")
	if rt == "code" {
		switch {
		case q.challenge != "":
			if e := oauth.ValidateChallenge(q.challenge, q.method); e != nil {
				return nil, q.fail(e)
			}
		case q.method != "":
			return nil, q.fail(oauth.InvalidRequest("code_challenge_method sin code_challenge"))
		case client.Type == store.ClientPublic:
			return nil, q.fail(oauth.InvalidRequest("los clientes publicos deben usar PKCE: envie code_challenge con code_challenge_method=S256"))
		}
	} else {
		q.challenge, q.method = "", ""
	}

	q.prompt = map[string]bool{}
	for _, p := range strings.Fields(vals.Get("prompt")) {
		switch p {
		case "none", "login", "consent", "select_account":
			q.prompt[p] = true
		default:
			return nil, q.fail(oauth.InvalidRequest("valor de prompt desconocido"))
		}
	}
	// OIDC Core §3.1.2.1: "If this parameter contains none with any other
	// value, an error is returned."
	if q.prompt["none"] && len(q.prompt) > 1 {
		return nil, q.fail(oauth.InvalidRequest("prompt=none no se puede combinar con otros valores"))
	}
	if s := vals.Get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, q.fail(oauth.InvalidRequest("max_age debe ser un numero entero de segundos"))
		}
		q.hasMaxAge = true
		q.maxAge = time.Duration(min(n, 100*365*24*3600)) * time.Second
	}
	q.nonce = vals.Get("nonce")
	if len(q.nonce) > maxNonce {
		return nil, q.fail(oauth.InvalidRequest("nonce es demasiado largo"))
	}
	if c := vals.Get("claims"); c != "" {
		cr, e := oauth.ParseClaims(c)
		if e != nil {
			return nil, q.fail(e)
		}
		// OIDC Core §5.5 lets a request ask for individual claims beyond
		// its scopes, but only in an OpenID request (and the ID token is
		// issued only by the code flow), and only claims whose scope the
		// client may be granted at all.
		if slices.Contains(q.scopes, oauth.ScopeOpenID) {
			q.claims = cr.Restrict(func(s string) bool { return slices.Contains(client.Scopes, s) })
		}
		for _, s := range q.claims.Scopes() {
			if !slices.Contains(q.scopes, s) {
				q.claimScopes = append(q.claimScopes, s)
			}
		}
	}
	if h := vals.Get("id_token_hint"); h != "" {
		// OIDC Core §3.1.2.1: an expired hint is fine; VerifyID checks the
		// signature and issuer only.
		claims, err := w.cfg.Keys.VerifyID(ctx, h, w.issuer)
		if err != nil {
			return nil, q.fail(oauth.InvalidRequest("id_token_hint no es valido").WithCause(err))
		}
		q.hintSubject = claims.Subject
	}
	if h := vals.Get("login_hint"); len(h) <= maxLoginHint {
		q.loginHint = h
	}
	q.uiLocales = vals.Get("ui_locales")
	// display and acr_values are accepted and need nothing from us: the
	// pages fit any screen and there is one authentication level.
	return q, nil
}

func safeName(s string) string {
	s = oauth.DescriptionSafe(s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// authorize is the authorization endpoint (RFC 6749 §3.1, OIDC Core
// §3.1.2): validate, make sure the right person is logged in recently
// enough, ask for consent unless it was given before, then answer.
func (w *Web) authorize(rw http.ResponseWriter, r *http.Request) error {
	vals, err := authzParams(r)
	if err != nil {
		return err
	}
	q, err := w.parseAuthz(r.Context(), vals)
	if err != nil {
		return err
	}
	sess, user, err := w.session(r)
	if err != nil {
		return q.fail(oauth.ServerError(err))
	}
	if w.needsLogin(q, sess, user) {
		if q.prompt["none"] {
			// OIDC Core §3.1.2.6 login_required.
			return q.fail(authzError(codeLoginRequired, "se requiere iniciar sesion"))
		}
		w.redirect(rw, r, PathLogin+"?"+url.Values{"continue": {authorizeURL(vals)}}.Encode())
		return nil
	}
	ok, err := w.consented(r.Context(), user.ID, q)
	if err != nil {
		return q.fail(oauth.ServerError(err))
	}
	if !ok {
		if q.prompt["none"] {
			return q.fail(authzError(codeConsentRequired, "se requiere el consentimiento del usuario"))
		}
		w.renderConsent(rw, r, q, sess, user)
		return nil
	}
	return w.answer(rw, r, q, sess, user)
}

// authorizeURL is the local URL that repeats an authorization request.
func authorizeURL(vals url.Values) string { return PathAuthorize + "?" + vals.Encode() }

// needsLogin: no session; prompt=login or select_account (the login page
// drops them from the request it returns to, so they act once); the last
// login older than max_age (OIDC Core §3.1.2.1: "If the elapsed time is
// greater than this value, the OP MUST attempt to actively re-authenticate
// the End-User"); or an id_token_hint naming someone else.
func (w *Web) needsLogin(q *authzRequest, sess *store.Session, user *store.User) bool {
	switch {
	case sess == nil:
		return true
	case q.prompt["login"], q.prompt["select_account"]:
		return true
	case q.hasMaxAge && w.now().Sub(sess.AuthTime) > q.maxAge:
		return true
	case q.hintSubject != "" && q.hintSubject != user.ID:
		return true
	}
	return false
}

// consented reports whether the user allowed the client every requested
// scope before (and the request does not insist on asking again).
func (w *Web) consented(ctx context.Context, userID string, q *authzRequest) (bool, error) {
	if q.prompt["consent"] {
		return false, nil
	}
	c, err := w.cfg.Store.GetConsent(ctx, userID, q.client.ID)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, err
	}
	for _, s := range q.consentScopes() {
		if !slices.Contains(c.Scopes, s) {
			return false, nil
		}
	}
	return true, nil
}

// consentScopes are the scopes the person consents to: those requested and
// those covering the claims the claims parameter asked for beyond them.
func (q *authzRequest) consentScopes() []string {
	if len(q.claimScopes) == 0 {
		return q.scopes
	}
	return append(slices.Clone(q.scopes), q.claimScopes...)
}

// renderConsent shows the consent page. Its form posts the original
// request back with the session binding; the redirect that answers it goes
// to the client, so the CSP's form-action names the client's origin.
func (w *Web) renderConsent(rw http.ResponseWriter, r *http.Request, q *authzRequest, sess *store.Session, user *store.User) {
	lang := w.lang(r, q.uiLocales)
	v := &view{
		Lang:         lang,
		Title:        "consent.title",
		User:         user,
		ClientName:   q.client.Name,
		RedirectHost: displayHost(q.redirectURI),
		Authz:        q.raw.Encode(),
		Binding:      binding(sess),
		Continue:     PathLogin + "?" + url.Values{"continue": {authorizeURL(withoutLoginPrompt(q.raw, true))}}.Encode(),
		formAction:   []string{formActionSource(q.redirectURI)},
	}
	for _, s := range q.consentScopes() {
		v.Scopes = append(v.Scopes, scopeView{Name: s, Text: w.scopeText(lang, s)})
	}
	// The page says what will happen: a code for a client not registered
	// with offline_access_required brings a refresh token (seed 003), so
	// the application keeps access whether or not it asked for
	// offline_access (provider.firstRefresh).
	if q.responseType == "code" && !q.client.OfflineAccessRequired && !slices.Contains(q.scopes, oauth.ScopeOfflineAccess) {
		v.Scopes = append(v.Scopes, scopeView{Name: oauth.ScopeOfflineAccess, Text: w.scopeText(lang, oauth.ScopeOfflineAccess)})
	}
	w.render(rw, r, http.StatusOK, "consent", v)
}

// displayHost is what the consent page says the person returns to.
func displayHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":"
}

// answer issues what the request asked for and redirects to the client.
func (w *Web) answer(rw http.ResponseWriter, r *http.Request, q *authzRequest, sess *store.Session, user *store.User) error {
	ctx := r.Context()
	now := w.now().UTC()
	// OIDC Core §5.5.1: a sub requested with a value is answered only for
	// that End-User. The person signed in on purpose (after any login this
	// request asked for), so the answer is login_required, not a loop back
	// to the login page.
	if sub, ok := q.claims.SubValue(); ok && sub != user.ID {
		return q.fail(authzError(codeLoginRequired, "la sesion no es la del usuario pedido en claims"))
	}
	if q.responseType == "token" {
		return w.answerImplicit(rw, r, q, sess, user, now)
	}
	code := token.NewOpaque(token.PrefixCode) // 256 random bits
	ac := &store.AuthCode{
		Hash:                store.HashToken(code),
		ClientID:            q.client.ID,
		UserID:              user.ID,
		RedirectURI:         q.sentRedirectURI,
		Scopes:              q.scopes,
		Nonce:               q.nonce,
		CodeChallenge:       q.challenge,
		CodeChallengeMethod: q.method,
		AuthTime:            sess.AuthTime,
		SessionID:           sess.ID,
		CreatedAt:           now,
		ExpiresAt:           now.Add(w.cfg.CodeTTL),
		Claims:              q.claims.Encode(),
	}
	if err := w.cfg.Store.CreateAuthCode(ctx, ac); err != nil {
		return q.fail(oauth.ServerError(err))
	}
	// RFC 6749 §4.1.2 and RFC 9207 §2: code, state, iss.
	w.redirect(rw, r, oauth.AppendParams(q.redirectURI, url.Values{
		"code":  {code},
		"state": {q.state},
		"iss":   {w.issuer},
	}, false))
	return nil
}

// answerImplicit is RFC 6749 §4.2.2 for legacy clients: an access token in
// the fragment, with a grant row so it can be revoked like any other.
func (w *Web) answerImplicit(rw http.ResponseWriter, r *http.Request, q *authzRequest, sess *store.Session, user *store.User, now time.Time) error {
	g := &store.Grant{
		UserID:   user.ID,
		ClientID: q.client.ID,
		Scopes:   q.scopes,
		Claims:   q.claims.Encode(), // userinfo claims
		AuthTime: sess.AuthTime,
	}
	at, ttl, err := w.cfg.Tokens.IssueImplicit(r.Context(), q.client, g, now)
	if err != nil {
		return q.fail(oauth.ServerError(err))
	}
	w.redirect(rw, r, oauth.AppendParams(q.redirectURI, url.Values{
		"access_token": {at},
		"token_type":   {"Bearer"},
		"expires_in":   {strconv.FormatInt(int64(ttl/time.Second), 10)},
		"scope":        {oauth.FormatScope(q.scopes)},
		"state":        {q.state},
		"iss":          {w.issuer},
	}, true))
	return nil
}

// withoutLoginPrompt returns a copy of an authorization request's
// parameters without the values that force a login (prompt=login,
// select_account; and, when hint is set, id_token_hint), so that returning
// to it after logging in does not ask again.
func withoutLoginPrompt(vals url.Values, hint bool) url.Values {
	out := url.Values{}
	for k, vs := range vals {
		out[k] = slices.Clone(vs)
	}
	if p := out.Get("prompt"); p != "" {
		var keep []string
		for _, f := range strings.Fields(p) {
			if f != "login" && f != "select_account" {
				keep = append(keep, f)
			}
		}
		if len(keep) == 0 {
			out.Del("prompt")
		} else {
			out.Set("prompt", strings.Join(keep, " "))
		}
	}
	if hint {
		out.Del("id_token_hint")
	}
	return out
}
