package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/cimd"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Error codes of the authorization endpoint beyond RFC 6749's: OpenID
// Connect Core §3.1.2.6.
const (
	codeLoginRequired   = "login_required"
	codeConsentRequired = "consent_required"
)

// MaxClientID bounds the client_id looked up (the other parameters' limits
// are oauth.ParseAuthorizeRequest's): a client ID metadata document's URL
// at most (cimd.MaxURLLength).
const MaxClientID = 1024

// authzRequest is a validated authorization request. It lives for one HTTP
// request only: the login and consent pages carry the original parameters
// (raw) and every step parses and validates them again from the start, so
// nothing a browser sends back is trusted.
type authzRequest struct {
	*oauth.AuthorizeRequest
	raw             url.Values
	client          *store.Client
	redirectURI     string // where the answer goes (validated)
	sentRedirectURI string // redirect_uri as sent, "" when omitted; bound to the code (RFC 6749 §4.1.3)
	hintSubject     string // sub of a valid id_token_hint
	resources       []*store.Resource
}

// fail sends e back to the client's validated redirect URI.
func (q *authzRequest) fail(e *oauth.Error) error {
	return &redirectError{err: e, uri: q.redirectURI, state: q.State, fragment: q.Fragment, clientID: q.client.ID}
}

func authzError(code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// authzParams reads the request's parameters: the query of a GET, the form
// (and query) of a POST (OIDC Core §3.1.2.1).
func authzParams(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
		}
		return r.Form, nil
	}
	return r.URL.Query(), nil
}

// parseAuthz validates an authorization request. Until the client and its
// redirect URI are known good, every error is a *PageError: RFC 6749
// §4.1.2.1 "If the request fails due to a missing, invalid, or mismatching
// redirection URI, or if the client identifier is missing or invalid, the
// authorization server SHOULD inform the resource owner of the error and MUST
// NOT automatically redirect the user-agent to the invalid redirection URI."
// After that, errors are *redirectError with the §4.1.2.1 codes.
func (w *Web) parseAuthz(ctx context.Context, vals url.Values) (*authzRequest, error) {
	q, err := w.authzClient(ctx, vals)
	if err != nil {
		return nil, err
	}
	// From here on the client and its redirect URI are trusted: errors go back.
	c := q.client
	res, resScopes, unknown, err := w.authzResources(ctx, vals)
	req, e := oauth.ParseAuthorizeRequest(vals, oauth.AuthorizeClient{
		CodeFlow: slices.Contains(c.Grants, store.GrantAuthorizationCode), Legacy: c.Legacy,
		Public: c.Type == store.ClientPublic, FirstParty: c.IsFirstParty(), Scopes: c.Scopes,
		ResourceScopes: resScopes,
	})
	q.AuthorizeRequest, q.resources = req, res
	switch {
	case err != nil:
		return nil, q.fail(oauth.ServerError(err))
	case e != nil:
		return nil, q.fail(e)
	case unknown:
		return nil, q.fail(oauth.InvalidTarget("resource no registrado en este servidor"))
	}
	if h := req.IDTokenHint; h != "" {
		// OIDC Core §3.1.2.1: an expired hint is fine; VerifyID checks the
		// signature and issuer only.
		claims, err := w.cfg.Keys.VerifyID(ctx, h, w.issuer)
		if err != nil {
			return nil, q.fail(oauth.InvalidRequest("id_token_hint no es valido").WithCause(err))
		}
		q.hintSubject = claims.Subject
	}
	return q, nil
}

// authzClient identifies the client of an authorization request and where
// its answer goes. Every error is a *PageError: RFC 6749 §4.1.2.1 "If the
// request fails due to a missing, invalid, or mismatching redirection URI,
// or if the client identifier is missing or invalid, the authorization
// server SHOULD inform the resource owner of the error and MUST NOT
// automatically redirect the user-agent to the invalid redirection URI."
func (w *Web) authzClient(ctx context.Context, vals url.Values) (*authzRequest, error) {
	clientID, ok1 := oauth.Single(vals, "client_id")
	sent, ok2 := oauth.Single(vals, "redirect_uri")
	if !ok1 || !ok2 {
		return nil, PageErr(http.StatusBadRequest, "error.repeated")
	}
	if clientID == "" {
		return nil, PageErr(http.StatusBadRequest, "error.noclient")
	}
	if len(clientID) > MaxClientID {
		return nil, PageErr(http.StatusBadRequest, "error.unknownclient").presented(clientID, sent)
	}
	client, err := w.lookupClient(ctx, clientID)
	if err != nil {
		if errors.Is(err, cimd.ErrRefused) {
			return nil, (&PageError{Status: http.StatusBadRequest, Msg: "error.cimd", Cause: err}).presented(clientID, sent)
		}
		if isNotFound(err) {
			return nil, PageErr(http.StatusBadRequest, "error.unknownclient").presented(clientID, sent)
		}
		return nil, err
	}
	if client.Disabled {
		return nil, PageErr(http.StatusBadRequest, "error.disabledclient").presented(clientID, sent)
	}
	q := &authzRequest{raw: vals, client: client, sentRedirectURI: sent}
	switch {
	case sent != "":
		// RFC 9700 §4.1.3: exact string matching (RFC 8252 §7.3 for loopback IPs).
		u, ok := oauth.MatchRedirectURI(client.RedirectURIs, sent)
		if !ok {
			return nil, PageErr(http.StatusBadRequest, "error.badredirect").presented(clientID, sent)
		}
		q.redirectURI = u
	case len(client.RedirectURIs) == 1:
		// RFC 6749 §3.1.2.3: with one registered URI the parameter is optional.
		q.redirectURI = client.RedirectURIs[0]
	default:
		return nil, PageErr(http.StatusBadRequest, "error.noredirect").presented(clientID, "")
	}
	return q, nil
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
		if q.Prompt["none"] {
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
		if q.Prompt["none"] {
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
	case q.Prompt["login"], q.Prompt["select_account"]:
		return true
	case q.HasMaxAge && w.now().Sub(sess.AuthTime) > q.MaxAge:
		return true
	case q.hintSubject != "" && q.hintSubject != user.ID:
		return true
	}
	return false
}

// consented reports whether the user allowed the client every requested
// scope before (and the request does not insist on asking again).
func (w *Web) consented(ctx context.Context, userID string, q *authzRequest) (bool, error) {
	if q.Prompt["consent"] {
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
	return resourcesConsented(c, q.Resources), nil
}

// consentScopes are the scopes the person consents to: those requested and
// those covering the claims the claims parameter asked for beyond them.
func (q *authzRequest) consentScopes() []string {
	if len(q.ClaimScopes) == 0 {
		return q.Scopes
	}
	return append(slices.Clone(q.Scopes), q.ClaimScopes...)
}

// renderConsent shows the consent page. Its form posts the original
// request back with the session binding; the redirect that answers it goes
// to the client, so the CSP's form-action names the client's origin.
func (w *Web) renderConsent(rw http.ResponseWriter, r *http.Request, q *authzRequest, sess *store.Session, user *store.User) {
	lang := w.lang(r, q.UILocales)
	v := &View{
		Lang:         lang,
		Title:        "consent.title",
		User:         user,
		ClientName:   q.client.Name,
		RedirectHost: displayHost(q.redirectURI),
		Resources:    resourceViews(q.resources),
		ClientHost:   metadataHost(q.client),
		Authz:        q.raw.Encode(),
		Binding:      binding(sess),
		Continue:     PathLogin + "?" + url.Values{"continue": {authorizeURL(withoutLoginPrompt(q.raw, true))}}.Encode(),
		FormAction:   []string{formActionSource(q.redirectURI)},
	}
	for _, s := range q.consentScopes() {
		v.Scopes = append(v.Scopes, scopeView{Name: s, Text: w.scopeText(lang, s)})
	}
	// The page says what will happen: a code for a client not registered
	// with offline_access_required brings a refresh token (seed 003), so
	// the application keeps access whether or not it asked for
	// offline_access (provider.firstRefresh).
	if q.ResponseType == "code" && !q.client.OfflineAccessRequired && !slices.Contains(q.Scopes, oauth.ScopeOfflineAccess) {
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
	if sub, ok := q.Claims.SubValue(); ok && sub != user.ID {
		return q.fail(authzError(codeLoginRequired, "la sesion no es la del usuario pedido en claims"))
	}
	if q.ResponseType == "token" {
		return w.answerImplicit(rw, r, q, sess, user, now)
	}
	code := token.NewOpaque(token.PrefixCode) // 256 random bits
	ac := &store.AuthCode{
		Hash:                store.HashToken(code),
		ClientID:            q.client.ID,
		UserID:              user.ID,
		RedirectURI:         q.sentRedirectURI,
		Scopes:              q.Scopes,
		Nonce:               q.Nonce,
		CodeChallenge:       q.Challenge,
		CodeChallengeMethod: q.Method,
		AuthTime:            sess.AuthTime,
		AMR:                 sess.AMR,
		SessionID:           sess.ID,
		CreatedAt:           now,
		ExpiresAt:           now.Add(w.cfg.CodeTTL),
		Claims:              q.Claims.Encode(),
		Resources:           q.Resources,
	}
	if err := w.cfg.Store.CreateAuthCode(ctx, ac); err != nil {
		return q.fail(oauth.ServerError(err))
	}
	// RFC 6749 §4.1.2 and RFC 9207 §2: code, state, iss.
	w.redirect(rw, r, oauth.AppendParams(q.redirectURI, url.Values{
		"code":  {code},
		"state": {q.State},
		"iss":   {w.issuer},
	}, false))
	return nil
}

// answerImplicit is RFC 6749 §4.2.2 for legacy clients: an access token in
// the fragment, with a grant row so it can be revoked like any other.
func (w *Web) answerImplicit(rw http.ResponseWriter, r *http.Request, q *authzRequest, sess *store.Session, user *store.User, now time.Time) error {
	g := &store.Grant{
		UserID:    user.ID,
		ClientID:  q.client.ID,
		Scopes:    q.Scopes,
		Claims:    q.Claims.Encode(), // userinfo claims
		AuthTime:  sess.AuthTime,
		AMR:       sess.AMR,
		Resources: q.Resources,
	}
	at, ttl, err := w.cfg.Tokens.IssueImplicit(r.Context(), q.client, g, now)
	if err != nil {
		return q.fail(oauth.ServerError(err))
	}
	w.redirect(rw, r, oauth.AppendParams(q.redirectURI, url.Values{
		"access_token": {at},
		"token_type":   {"Bearer"},
		"expires_in":   {strconv.FormatInt(int64(ttl/time.Second), 10)},
		"scope":        {oauth.FormatScope(q.Scopes)},
		"state":        {q.State},
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
