package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is the part of store.Store the sign-in pages use (the consoles
// name their own, console.Store).
type Store interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
	GetUser(ctx context.Context, id string) (*store.User, error)
	CreateSession(ctx context.Context, s *store.Session) error
	GetSession(ctx context.Context, id string) (*store.Session, error)
	TouchSession(ctx context.Context, id string, now, expires time.Time) error
	DeleteSession(ctx context.Context, id string) error
	GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error)
	GetResource(ctx context.Context, uri string) (*store.Resource, error)
	SaveConsent(ctx context.Context, c *store.Consent) error
	CreateAuthCode(ctx context.Context, c *store.AuthCode) error
	RecordEvent(ctx context.Context, e *store.Event) error
	Hit(ctx context.Context, key string, windowStart, expires time.Time) (int, error)
	Count(ctx context.Context, key string, windowStart time.Time) (int, error)

	// The device verification page (/activate).
	deviceStore
}

// Keys checks id_token_hint; *token.KeyManager implements it.
type Keys interface {
	VerifyID(ctx context.Context, raw, issuer string) (*token.IDClaims, error)
}

// Tokens issues the tokens the authorization endpoint hands out directly
// (the implicit grant); *provider.Provider implements it, so every token
// is minted, with one issuer, lifetime and audience, by package provider.
type Tokens interface {
	IssueImplicit(ctx context.Context, c *store.Client, g *store.Grant, now time.Time) (string, time.Duration, error)
}

// Accounts checks passwords and registers accounts; *account.Service
// implements it.
type Accounts interface {
	Authenticate(ctx context.Context, email, password, ip string) (*store.User, error)
	Register(ctx context.Context, in account.RegisterInput) (*store.User, error)
	// The second step of a login (mfa.go).
	VerifySecondFactor(ctx context.Context, userID, code, ip string) (*store.User, error)
	PendingLogin(u *store.User) (string, time.Time, error)
	ResumeLogin(ctx context.Context, ticket string) (*store.User, error)
}

// ScopeText describes a scope on the consent page, in each language, as a
// sentence the person understands ("Ver tu nombre").
type ScopeText struct{ ES, EN string }

// Config configures the pages.
type Config struct {
	// Issuer is the issuer identifier, as in provider.Config. The iss
	// response parameter (RFC 9207), cookie security and HSTS follow it;
	// no request header changes it.
	Issuer   string
	Store    Store
	Keys     Keys
	Tokens   Tokens
	Accounts Accounts
	// Passkeys signs in with passkeys; nil (or a service that is not
	// Available): the pages offer none.
	Passkeys Passkeys
	// Recovery serves the pages of mailed links (recover.go); nil: none.
	Recovery Recovery
	Now      func() time.Time // nil: time.Now
	Log      *slog.Logger
	// CodeTTL is the lifetime of authorization codes (default 60 s).
	CodeTTL time.Duration
	// SessionTTL is how long a browser session lives without use (default
	// 12 h); SessionMaxAge is its absolute limit (default 30 days).
	SessionTTL    time.Duration
	SessionMaxAge time.Duration
	// RegisterLimit registrations per client address per RegisterWindow
	// (default 10 per hour, shared with POST /v1/users; negative: none).
	RegisterLimit  int
	RegisterWindow time.Duration
	// Scopes describes operator-configured scopes on the consent page; the
	// built-in ones (openid, profile, email, voucher, offline_access) have
	// texts already.
	Scopes map[string]ScopeText
	// MetadataClients, when set, resolves client_ids that are URLs of
	// client ID metadata documents (*cimd.Resolver); nil: off.
	MetadataClients MetadataClients
}

// MetadataClients resolves a client_id URL to its client row.
type MetadataClients interface {
	Client(ctx context.Context, clientID string) (*store.Client, error)
}

// Web serves the login, registration, consent, account and logout pages and
// the authorization endpoint that leads through them. Build it with New.
type Web struct {
	cfg    Config
	issuer string
	https  bool
	now    func() time.Time
	log    *slog.Logger
	pages  map[string]*template.Template
	funcs  template.FuncMap
	scopes map[string]ScopeText
}

// Paths served.
const (
	PathAuthorize      = provider.PathAuthorize   // what discovery advertises
	PathAuthorization  = "/auth/v1/authorization" // seed 002
	PathLogoutEndpoint = provider.PathLogout      // RP-initiated logout, as advertised
	PathLogin          = "/login"
	PathRegister       = "/register"
	PathConsent        = "/consent"
	PathAccount        = "/account"
	PathLogout         = "/logout"
	PathStatic         = "/static/"
	PathApplications   = "/account/applications"
	PathConnections    = "/account/connections"
	PathAdmin          = "/admin"
)

var pageNames = []string{"login", "register", "consent", "logout", "loggedout", "error",
	"activate", "activate_confirm", "activate_done", "login_verify", "forgot", "reset", "linkconfirm", "done"}

// New checks cfg and builds the pages.
func New(cfg Config) (*Web, error) {
	if cfg.Issuer == "" || strings.HasSuffix(cfg.Issuer, "/") || strings.ContainsAny(cfg.Issuer, "?#") {
		return nil, errors.New("web: Issuer is required, without a trailing slash, query or fragment")
	}
	iu, err := url.Parse(cfg.Issuer)
	if err != nil || (iu.Scheme != "https" && iu.Scheme != "http") || iu.Host == "" {
		return nil, errors.New("web: Issuer must be an http or https URL")
	}
	if cfg.Store == nil || cfg.Keys == nil || cfg.Tokens == nil || cfg.Accounts == nil {
		return nil, errors.New("web: Store, Keys, Tokens and Accounts are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = 60 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 30 * 24 * time.Hour
	}
	if cfg.SessionMaxAge < cfg.SessionTTL {
		cfg.SessionMaxAge = cfg.SessionTTL
	}
	if cfg.RegisterLimit == 0 {
		cfg.RegisterLimit = 10
	}
	if cfg.RegisterWindow <= 0 {
		cfg.RegisterWindow = time.Hour
	}
	w := &Web{
		cfg:    cfg,
		issuer: cfg.Issuer,
		https:  iu.Scheme == "https",
		now:    cfg.Now,
		log:    cfg.Log,
		pages:  map[string]*template.Template{},
		scopes: map[string]ScopeText{},
	}
	for k, v := range builtinScopes {
		w.scopes[k] = v
	}
	for k, v := range cfg.Scopes {
		w.scopes[k] = v
	}
	w.funcs = template.FuncMap{"t": translate, "date": formatDate, "join": strings.Join, "pathseg": url.PathEscape, "has": slices.Contains[[]string],
		"navlink": func(lang, href, key string) navLink { return navLink{Lang: lang, Href: href, Key: key} },
		"passkeybox": func(lang, mode, base, cont string) passkeyBox {
			return passkeyBox{Lang: lang, Mode: mode, Base: base, Continue: cont}
		}}
	if err := w.AddPages(templateFS, pageNames...); err != nil {
		return nil, err
	}
	return w, nil
}

// Mount registers the pages and the authorization and logout endpoints,
// each under its route class: the authorization and end-session endpoints
// are httpx.BrowserEntry (clients send people there with a cross-site
// navigation or form post, OIDC Core §3.1.2.1; they never act on a cookie
// without showing a page unless consent was given before), every other page
// httpx.Browser (forms only from our own pages).
func (w *Web) Mount(rs *httpx.Routes) {
	rs.OnCrossOriginDenied(http.HandlerFunc(w.crossOriginDenied))
	authz := w.handle(w.authorize)
	for _, p := range []string{PathAuthorize, PathAuthorization} {
		rs.BrowserEntry("GET "+p, authz)
		rs.BrowserEntry("POST "+p, authz)
	}
	rs.BrowserEntry("GET "+PathLogoutEndpoint, w.handle(w.endSessionEndpoint))

	page := func(pattern string, h HandlerFunc) { rs.Browser(pattern, w.handle(h)) }
	page("GET "+PathLogin, w.loginPage)
	page("POST "+PathLogin, w.loginSubmit)
	page("GET "+PathRegister, w.registerPage)
	page("POST "+PathRegister, w.registerSubmit)
	page("POST "+PathConsent, w.consentSubmit)
	page("GET "+PathLogout, w.logoutPage)
	page("POST "+PathLogout, w.logoutSubmit)
	w.mountRecovery(page)
	w.mountDevice(page)
	w.mountMFA(page)
	w.mountPasskeys(page)

	// Any other address: a page that says it does not exist, with the
	// header and a way back (Go's plain "404 page not found" had neither).
	rs.NotFound(w.notFound(rs, w.handle(func(http.ResponseWriter, *http.Request) error { return NotFound() })))

	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(PathStatic, http.FileServerFS(static))
	rs.Browser("GET "+PathStatic, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(rw, r)
	}))
}

// notFound answers what no other route of mux takes. An address that
// exists for other methods still answers 405 with Allow, as the mux did
// before this catch-all was mounted; the protocol and JSON:API addresses
// keep their plain 404 (their clients are programs, not people); any other
// is the page.
func (w *Web) notFound(rs *httpx.Routes, page http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m == r.Method {
				continue
			}
			other := *r
			other.Method = m
			if pattern := rs.Pattern(&other); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			rw.Header().Set("Allow", strings.Join(allow, ", "))
			http.Error(rw, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		for _, prefix := range []string{"/auth/", "/api/", "/v1/", "/.well-known/"} {
			if strings.HasPrefix(r.URL.Path, prefix) {
				http.NotFound(rw, r)
				return
			}
		}
		page.ServeHTTP(rw, r)
	})
}

// HandlerFunc is a page handler that may fail; fail writes its error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (w *Web) handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// The edge check of every parameter, query and form alike: bad text
		// is an error page, never a redirect (the client_id or redirect_uri
		// may be the bad part) and never a store error.
		if err := httpx.CheckInput(r); err != nil {
			w.fail(rw, r, &PageError{Status: http.StatusBadRequest, Msg: "error.badtext", Cause: err})
			return
		}
		if err := h(rw, r); err != nil {
			w.fail(rw, r, err)
		}
	})
}

// PageError is an error shown as a page, never as a redirect: an unknown
// client, a redirect URI that is not registered, a session that ended. Msg is
// a message key; the cause goes only to the log.
type PageError struct {
	Status int
	Msg    string
	Lang   string // "" : from the request
	Cause  error
	// clientID and redirectURI, when known, are what the request presented:
	// logged with the refusal, and a rejected redirectURI is shown on the
	// page so that the developer sees which one to register.
	clientID, redirectURI string
}

// presented records the client id and redirect URI the request sent.
func (e *PageError) presented(clientID, redirectURI string) *PageError {
	e.clientID, e.redirectURI = clientID, redirectURI
	return e
}

func (e *PageError) Error() string {
	if e.Cause != nil {
		return "web: " + e.Msg + ": " + e.Cause.Error()
	}
	return "web: " + e.Msg
}

func (e *PageError) Unwrap() error { return e.Cause }

func PageErr(status int, msg string) *PageError { return &PageError{Status: status, Msg: msg} }

// redirectError is an authorization error sent back to the client's
// (already validated) redirect URI, RFC 6749 §4.1.2.1 / §4.2.2.1.
type redirectError struct {
	err      *oauth.Error
	uri      string
	state    string
	fragment bool
	clientID string // for the log
}

func (e *redirectError) Error() string { return "web: authorization error: " + e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// fail is the one place errors become responses.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	var re *redirectError
	if errors.As(err, &re) {
		httpx.LogError(w.log, r, http.StatusFound, err)
		w.logRefused(r, re.err.Code, re.err.Description, re.clientID, re.uri, re.err.Unwrap())
		q := url.Values{
			"error":             {re.err.Code},
			"error_description": {oauth.DescriptionSafe(re.err.Description)},
			"error_uri":         {re.err.URI},
			"state":             {re.state},
			"iss":               {w.issuer},
		}
		w.redirect(rw, r, oauth.AppendParams(re.uri, q, re.fragment))
		return
	}
	var pe *PageError
	if !errors.As(err, &pe) {
		pe = &PageError{Status: http.StatusInternalServerError, Msg: "error.internal", Cause: err}
		if store.Unavailable(err) {
			// The database is down, restarting or out of disk: 503, and
			// when to try again.
			pe = &PageError{Status: http.StatusServiceUnavailable, Msg: "error.unavailable", Cause: err}
			SetRetryAfter(rw, store.UnavailableRetry)
		}
	}
	httpx.LogError(w.log, r, pe.Status, err)
	if pe.Status < 500 {
		w.logRefused(r, "", pe.Msg, pe.clientID, pe.redirectURI, pe.Cause)
	}
	lang := pe.Lang
	if lang == "" {
		lang = w.lang(r, "")
	}
	v := &View{Lang: lang, Title: "error.title", Message: translate(lang, pe.Msg), RequestID: httpx.RequestID(r.Context())}
	// The header's links for a signed-in person; a failure to read the
	// session (maybe the very error shown) leaves them out.
	if _, user, err := w.session(r); err == nil {
		v.User = user
	}
	if pe.Msg == "error.badredirect" {
		v.RejectedURI = clip(pe.redirectURI)
	}
	switch pe.Status {
	case http.StatusInternalServerError:
		v.Title = "error.internal.title"
	case http.StatusNotFound:
		v.Title = "error.notfound.title"
	}
	w.render(rw, r, pe.Status, "error", v)
}

// redirect sends the browser on: 302 after a GET, 303 after a POST so the
// next request is a GET (RFC 9110 §15.4.4).
func (w *Web) redirect(rw http.ResponseWriter, r *http.Request, to string) {
	h := rw.Header()
	h.Set("Cache-Control", "no-store")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	h.Set("Location", to)
	rw.WriteHeader(status)
}

func (w *Web) crossOriginDenied(rw http.ResponseWriter, r *http.Request) {
	w.fail(rw, r, PageErr(http.StatusForbidden, "error.crossorigin"))
}

// logRefused logs at INFO why a request was refused, for the developer
// who integrates and quotes the request code of the error page: the check
// (an OAuth code and description, or the page's message key), the client id
// and the redirect URI presented, and the cause. Never a secret or a token:
// none reaches these fields.
func (w *Web) logRefused(r *http.Request, code, reason, clientID, redirectURI string, cause error) {
	attrs := []slog.Attr{
		slog.String("request_id", httpx.RequestID(r.Context())),
		slog.String("path", r.URL.Path),
		slog.String("reason", reason),
	}
	if code != "" {
		attrs = append(attrs, slog.String("error", code))
	}
	if clientID != "" {
		attrs = append(attrs, slog.String("client_id", clip(clientID)))
	}
	if redirectURI != "" {
		attrs = append(attrs, slog.String("redirect_uri", clip(redirectURI)))
	}
	if cause != nil {
		attrs = append(attrs, slog.String("cause", cause.Error()))
	}
	w.log.LogAttrs(r.Context(), slog.LevelInfo, "request refused", attrs...)
}

// clip bounds a value the request sent before it is logged or shown.
func clip(s string) string {
	const max = 512
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// View is what the templates see. Every field is optional.
type View struct {
	Lang      string
	Title     string // message key
	User      *store.User
	Error     string   // localized
	Errors    []string // localized
	Notice    string   // localized
	Message   string   // localized
	RequestID string
	// RejectedURI is a redirect_uri refused as not registered.
	RejectedURI string

	Continue  string
	Email     string
	FirstName string
	LastName  string

	ClientName   string
	For          string // localized: what a login is for when no application asks
	RedirectHost string
	Scopes       []scopeView
	Resources    []scopeView // the RFC 8707 resources asked for (Text: name, Name: URI)
	ClientHost   string      // a metadata-document client's host: not registered with the operator
	Authz        string
	Binding      string

	PostLogoutRedirectURI string
	ClientID              string
	State                 string

	// Data is what one page alone needs (applications, admin lists...).
	Data any
	// Passkeys is the passkey section of /account and of the second
	// step of a login (passkey.go); nil: passkeys off.
	Passkeys *PasskeySection
	// Wide pages (tables) use a wider card.
	Wide bool

	// Scripts allows the page's own static scripts (script-src 'self');
	// pages without them keep script-src at 'none'.
	Scripts bool
	// FormAction lists extra CSP form-action sources (the client's redirect
	// origin) for pages whose form submission ends in a redirect to it.
	FormAction []string
}

type scopeView struct{ Name, Text string }

// navLink is one link of the header (template "navlink").
type navLink struct{ Lang, Href, Key string }

// render writes a page with the browser defences: CSP (no framing, no
// scripts, forms only to us and to the origin the form's redirect ends at),
// nosniff, no referrer, HSTS on https, never cached.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v *View) {
	var buf bytes.Buffer
	if err := w.pages[name].ExecuteTemplate(&buf, "base", v); err != nil {
		httpx.LogError(w.log, r, http.StatusInternalServerError, err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	httpx.PageHeaders(rw, w.https, httpx.PageCSP(v.FormAction, v.Scripts))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", v.Lang)
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Language, Cookie")
	rw.WriteHeader(status)
	_, _ = rw.Write(buf.Bytes())
}

// formActionSource turns a redirect URI into a CSP source expression that
// allows it: the origin for http(s), the scheme for private-use schemes.
// "" when the URI has characters a source expression cannot carry.
func formActionSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if !cspSafe(scheme, false) {
		return ""
	}
	if scheme != "http" && scheme != "https" {
		return scheme + ":"
	}
	if u.Host == "" || !cspSafe(u.Host, true) {
		return ""
	}
	return scheme + "://" + u.Host
}

func cspSafe(s string, host bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+'
		if host {
			ok = ok || c == ':' || c == '[' || c == ']'
		}
		if !ok {
			return false
		}
	}
	return s != ""
}

// event records a security event; a failure is logged, never fatal.
func (w *Web) event(r *http.Request, typ, userID, clientID, detail string) {
	e := &store.Event{Time: w.now().UTC(), Type: typ, UserID: userID, ClientID: clientID, IP: httpx.ClientIP(r), Detail: detail}
	if err := w.cfg.Store.RecordEvent(r.Context(), e); err != nil {
		w.log.ErrorContext(r.Context(), "recording a security event", "type", typ, "error", err.Error())
	}
}

// isNotFound reports a missing record.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
