package httpx

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Class is what kind of route a pattern is. Every route of the server is
// mounted through Routes under exactly one class, and the class — never the
// handler — installs the defences that kind of route needs, so a new route
// cannot forget one. TestRoutesOnlyThroughClasses fails if any package but
// this one touches an http.ServeMux.
type Class int

const (
	// Protocol: OAuth 2.0 / OpenID Connect endpoints called by programs and
	// by browser applications (token, revocation, introspection, userinfo,
	// device authorization, discovery, JWKS). They use no cookies, so any
	// origin may call them, never with credentials (CORS "*", preflight
	// answered); answers are not cacheable unless the handler says so
	// (discovery and JWKS do); nosniff; bodies up to MaxProtocolBody.
	Protocol Class = iota + 1
	// Browser: pages. The page defences on every answer (PageCSP, no
	// framing, nosniff, no referrer, HSTS on https) — render may narrow the
	// CSP to the page's own form targets, never drop it; forms only from our
	// own pages (http.CrossOriginProtection on every unsafe method); bodies
	// up to MaxPageBody.
	Browser
	// BrowserEntry: the pages other sites send people to, by a navigation
	// or a form post (the authorization endpoint, RP-initiated logout): the
	// page defences of Browser without CrossOriginProtection, since a
	// cross-site POST is how clients legitimately arrive (OIDC Core
	// §3.1.2.1). Such handlers must never act on the session cookie without
	// showing a page, unless the person consented before.
	BrowserEntry
	// API: the JSON:API, authenticated by Bearer tokens only. Nothing is
	// cacheable (RFC 6749 §5.1's no-store, errors included); nosniff;
	// bodies up to MaxAPIBody. Routes that take a Bearer token may be called
	// from any origin without credentials (CORS "*": the token, not the
	// origin, is the authority, and no cookie is ever read); routes without
	// a token (registration, password-reset requests) are same-origin only,
	// so that a page on another site cannot make its visitors' browsers
	// create accounts or send mail from their addresses and so spread
	// around the per-address limits.
	API
	// Ops: health, readiness, metrics and profiling, read by operators'
	// tools. Not cacheable, nosniff, no CORS.
	Ops
)

func (c Class) String() string {
	switch c {
	case Protocol:
		return "protocol"
	case Browser:
		return "browser"
	case BrowserEntry:
		return "browser-entry"
	case API:
		return "api"
	case Ops:
		return "ops"
	}
	return "unknown"
}

// Body limits per class.
const (
	MaxProtocolBody = 64 << 10
	MaxPageBody     = 64 << 10
	MaxAPIBody      = 1 << 20
)

// Route is one mounted route.
type Route struct {
	Class   Class
	Pattern string // as given to http.ServeMux: "METHOD /path"
	// CrossOrigin: browsers of other origins may call it (CORS).
	CrossOrigin bool
}

// RoutesConfig configures Routes.
type RoutesConfig struct {
	// Issuer decides HSTS: sent when it is an https URL.
	Issuer string
}

// Routes is the server's one mux. Mount routes with its class methods.
type Routes struct {
	mux       *http.ServeMux
	https     bool
	cop       *http.CrossOriginProtection
	denied    http.Handler
	preflight map[string]bool // paths with an OPTIONS route
	list      []Route
}

// NewRoutes returns an empty set of routes.
func NewRoutes(cfg RoutesConfig) *Routes {
	rs := &Routes{mux: http.NewServeMux(), preflight: map[string]bool{}}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Scheme == "https" {
		rs.https = true
	}
	rs.cop = http.NewCrossOriginProtection()
	rs.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rs.denied != nil {
			rs.denied.ServeHTTP(w, r)
			return
		}
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return rs
}

// HTTPS reports whether the issuer is an https URL.
func (rs *Routes) HTTPS() bool { return rs.https }

// OnCrossOriginDenied sets how a refused cross-origin form post of a
// Browser route is answered (the pages' error page); the default is a
// plain 403.
func (rs *Routes) OnCrossOriginDenied(h http.Handler) { rs.denied = h }

// Protocol mounts a Protocol route.
func (rs *Routes) Protocol(pattern string, h http.Handler) {
	rs.add(Route{Class: Protocol, Pattern: pattern, CrossOrigin: true}, MaxBody(MaxProtocolBody, noStore(h)))
}

// Browser mounts a Browser route.
func (rs *Routes) Browser(pattern string, h http.Handler) {
	rs.add(Route{Class: Browser, Pattern: pattern}, rs.cop.Handler(MaxBody(MaxPageBody, h)))
}

// BrowserEntry mounts a BrowserEntry route.
func (rs *Routes) BrowserEntry(pattern string, h http.Handler) {
	rs.add(Route{Class: BrowserEntry, Pattern: pattern}, MaxBody(MaxPageBody, h))
}

// API mounts an API route; bearer says whether it takes a Bearer token
// (and so may be called from other origins, see API).
func (rs *Routes) API(pattern string, h http.Handler, bearer bool) {
	rs.add(Route{Class: API, Pattern: pattern, CrossOrigin: bearer}, MaxBody(MaxAPIBody, noStore(h)))
}

// Ops mounts an Ops route.
func (rs *Routes) Ops(pattern string, h http.Handler) {
	rs.add(Route{Class: Ops, Pattern: pattern}, noStore(h))
}

// NotFound mounts the catch-all "/" as a Browser route: what no other
// route takes. (Its handler decides per prefix; see web.)
func (rs *Routes) NotFound(h http.Handler) { rs.Browser("/", h) }

func (rs *Routes) add(rt Route, h http.Handler) {
	rs.list = append(rs.list, rt)
	switch rt.Class {
	case Browser, BrowserEntry:
		h = rs.pageHeaders(h)
	default:
		h = nosniff(h)
	}
	if rt.CrossOrigin {
		h = cors(rt.Class, h)
		rs.addPreflight(rt)
	}
	rs.mux.Handle(rt.Pattern, h)
}

// addPreflight answers OPTIONS on the route's path once.
func (rs *Routes) addPreflight(rt Route) {
	method, path, ok := strings.Cut(rt.Pattern, " ")
	if !ok || method == http.MethodOptions || rs.preflight[path] {
		return
	}
	rs.preflight[path] = true
	rs.mux.Handle("OPTIONS "+path, cors(rt.Class, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
}

// List returns every mounted route (preflights excepted) in mount order.
func (rs *Routes) List() []Route { return slices.Clone(rs.list) }

// Pattern returns the pattern that would serve r, "" if none.
func (rs *Routes) Pattern(r *http.Request) string {
	_, p := rs.mux.Handler(r)
	return p
}

// ServeHTTP serves the routes.
func (rs *Routes) ServeHTTP(w http.ResponseWriter, r *http.Request) { rs.mux.ServeHTTP(w, r) }

func (rs *Routes) pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		PageHeaders(w, rs.https, PageCSP(nil, false))
		next.ServeHTTP(w, r)
	})
}

func nosniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// noStore makes an answer not cacheable unless its handler says otherwise.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		NoStore(w)
		next.ServeHTTP(w, r)
	})
}

// cors lets browsers of any origin call a route, never with credentials.
func cors(c Class, next http.Handler) http.Handler {
	// Protocol routes include RFC 7592's PUT and DELETE on a registration.
	methods, expose := "GET, POST, PUT, DELETE, OPTIONS", "WWW-Authenticate, Retry-After, X-Request-Id"
	if c == API {
		methods, expose = "GET, POST, PATCH, DELETE, OPTIONS", expose+", Location"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		if r.Header.Get("Origin") != "" {
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Expose-Headers", expose)
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Accept-Language")
				h.Set("Access-Control-Max-Age", "600")
			}
		}
		next.ServeHTTP(w, r)
	})
}
