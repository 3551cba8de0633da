package provider

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Store is the part of store.Store the provider uses: grants and their
// refresh tokens, codes, device authorizations, the revocation epoch its
// caches trust, counters for the client throttle, and the users and clients
// tokens are about. Every method is in the store contract (no capability
// is found by type assertion).
type Store interface {
	store.GrantStore
	store.CodeStore
	store.DeviceStore
	store.EpochStore
	GetClient(ctx context.Context, id string) (*store.Client, error)
	GetUser(ctx context.Context, id string) (*store.User, error)
	RecordEvent(ctx context.Context, e *store.Event) error
	GetResource(ctx context.Context, uri string) (*store.Resource, error)
	Hit(ctx context.Context, key string, windowStart time.Time, expires time.Time) (int, error)
}

// Keys signs and verifies tokens; *token.KeyManager implements it.
type Keys interface {
	MintAccess(ctx context.Context, c token.AccessClaims) (string, error)
	VerifyAccess(ctx context.Context, raw, issuer string, aud []string) (*token.AccessClaims, error)
	MintID(ctx context.Context, c token.IDClaims) (string, error)
	JWKS(ctx context.Context) ([]byte, error)
	// IDAlgorithms lists the ID-token algorithms, the default first.
	IDAlgorithms() []string
}

// Accounts checks a user's password; *account.Service implements it.
type Accounts interface {
	Authenticate(ctx context.Context, email, password, ip string) (*store.User, error)
}

// Config configures a Provider.
type Config struct {
	// Issuer is the issuer identifier (RFC 8414 §2), e.g.
	// "https://auth.example.com": an https (or loopback http) URL with no
	// query or fragment. Every advertised URL is built from it, never from
	// the request's Host or X-Forwarded-* headers.
	Issuer   string
	Store    Store
	Keys     Keys
	Accounts Accounts
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// AccessTTL is the lifetime of access and ID tokens (default 900 s, seed
	// 000's expires_in); a client's own AccessTokenTTL overrides it.
	AccessTTL time.Duration
	// RefreshGrace is the window after a rotation within which the old
	// refresh token may be presented once more (a retry after a lost
	// response); 0, the default, turns it off.
	RefreshGrace time.Duration
	Log          *slog.Logger
	// Audience is the aud of access tokens and what VerifyBearer accepts
	// (default: [Issuer], the API served with the server).
	Audience []string
	// Liveness decides whether a grant named by an access token may still be
	// used. Default: the store's answer cached per grant and trusted only
	// while the revocation epoch has not moved (cache.go). Any other cache
	// must likewise be invalidated on every change (a revoked grant must
	// never keep working for a TTL).
	Liveness Liveness
	// EpochMaxAge is how old (relative to a request's arrival) a shared read
	// of the revocation epoch may be; see cache.go. 0: 1 ms; negative:
	// strictly after the arrival.
	EpochMaxAge time.Duration
	// ClientFailureLimit and ClientFailureWindow throttle client-secret
	// guessing per client and address (clientthrottle.go); 0 means the
	// defaults (10 failures per 5 minutes). The counters live in Store when
	// it implements Counters.
	ClientFailureLimit  int
	ClientFailureWindow time.Duration
	// MetadataDocuments says client ID metadata documents are on (the
	// pages resolve them; discovery advertises it).
	MetadataDocuments bool
	// RegistrationEndpoint, when not empty, is advertised as the RFC 7591
	// registration_endpoint (dynamic registration is on).
	RegistrationEndpoint string
}

// Provider serves the protocol endpoints. Build it with New.
type Provider struct {
	cfg      Config
	issuer   string
	audience []string
	now      func() time.Time
	log      *slog.Logger
	live     Liveness
	// liveCache is live when it is the default epoch cache (nil when
	// Config.Liveness replaced it): it also answers, from what it read,
	// a grant's claims request and its user's email.
	liveCache *epochLiveness
	clients   *clientCache // nil: read every client from the store
	cc        ccGrants
	ct        clientThrottle
	grants    map[string]grantHandler
	// grantOrder is the order grants are advertised in.
	grantOrder []string
}

// Paths of the endpoints, relative to the issuer.
const (
	PathToken          = "/auth/v1/token"
	PathTokenAlias     = "/api/v1/auth/oauth/token/" // seed 004
	PathAuthorize      = "/auth/v1/authorize"
	PathRevoke         = "/auth/v1/revoke"
	PathIntrospect     = "/auth/v1/introspect"
	PathUserinfo       = "/auth/v1/userinfo"
	PathJWKS           = "/auth/v1/jwks"
	PathLogout         = "/auth/v1/logout"
	PathDevice         = "/auth/v1/device"
	PathOIDCDiscovery  = "/.well-known/openid-configuration"
	PathOAuthDiscovery = "/.well-known/oauth-authorization-server"
)

// New checks cfg and builds a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("provider: Issuer is required")
	}
	if strings.HasSuffix(cfg.Issuer, "/") || strings.ContainsAny(cfg.Issuer, "?#") {
		return nil, errors.New("provider: Issuer must not end with / nor contain a query or fragment (RFC 8414 §2)")
	}
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("provider: Store and Keys are required")
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 900 * time.Second
	}
	if cfg.AccessTTL < 0 || cfg.RefreshGrace < 0 {
		return nil, errors.New("provider: AccessTTL and RefreshGrace must not be negative")
	}
	p := &Provider{cfg: cfg, issuer: cfg.Issuer, now: cfg.Now, log: cfg.Log, live: cfg.Liveness}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.audience = append([]string(nil), cfg.Audience...)
	if len(p.audience) == 0 {
		p.audience = []string{cfg.Issuer}
	}
	maxAge := cfg.EpochMaxAge
	if maxAge == 0 {
		maxAge = time.Millisecond
	}
	epoch := &epochReader{read: cfg.Store.RevocationEpoch, local: cfg.Store.LocalChanges, maxAge: max(maxAge, 0)}
	p.clients = &clientCache{epoch: epoch, st: cfg.Store, m: map[string]clientEntry{}}
	if p.live == nil {
		p.liveCache = &epochLiveness{epoch: epoch, load: storeLiveness{st: cfg.Store}, m: map[string]liveEntry{}}
		p.live = p.liveCache
	}
	p.ct = clientThrottle{st: cfg.Store, limit: cfg.ClientFailureLimit, window: cfg.ClientFailureWindow}
	if p.ct.limit <= 0 {
		p.ct.limit = DefaultClientFailureLimit
	}
	if p.ct.window <= 0 {
		p.ct.window = DefaultClientFailureWindow
	}
	p.cc.m = map[ccKey]*store.Grant{}
	p.cc.inflight = map[ccKey]*ccCall{}
	p.grants = map[string]grantHandler{}
	p.register(store.GrantAuthorizationCode, p.grantAuthorizationCode)
	p.register(store.GrantRefreshToken, p.grantRefreshToken)
	p.register(store.GrantClientCredentials, p.grantClientCredentials)
	if cfg.Accounts != nil {
		p.register(store.GrantPassword, p.grantPassword)
	}
	p.registerDevice()
	return p, nil
}

// getClient reads a client through the cache when there is one. The
// result is shared: read only.
func (p *Provider) getClient(ctx context.Context, id string) (*store.Client, error) {
	if p.clients != nil {
		return p.clients.get(ctx, id)
	}
	return p.cfg.Store.GetClient(ctx, id)
}

func (p *Provider) register(name string, h grantHandler) {
	p.grants[name] = h
	p.grantOrder = append(p.grantOrder, name)
}

// Mount registers the endpoints as Protocol routes (httpx.Protocol: CORS
// for browser applications, no-store unless discovery or the JWKS say
// otherwise, the body limit).
func (p *Provider) Mount(rs *httpx.Routes) {
	token := p.protocol(p.handleToken)
	rs.Protocol("POST "+PathToken, token)
	rs.Protocol("POST "+PathTokenAlias, token)
	rs.Protocol("POST "+PathRevoke, p.protocol(p.handleRevoke))
	rs.Protocol("POST "+PathIntrospect, p.protocol(p.handleIntrospect))
	userinfo := p.protocol(p.handleUserinfo)
	rs.Protocol("GET "+PathUserinfo, userinfo)
	rs.Protocol("POST "+PathUserinfo, userinfo)
	rs.Protocol("GET "+PathJWKS, http.HandlerFunc(p.handleJWKS))
	rs.Protocol("GET "+PathOIDCDiscovery, http.HandlerFunc(p.handleDiscovery))
	rs.Protocol("GET "+PathOAuthDiscovery, http.HandlerFunc(p.handleDiscovery))
	p.mountDevice(rs)
}

// protocol is the adapter of the protocol endpoints that read parameters:
// the edge check of every parameter (httpx.CheckInput), answered as
// invalid_request before anything reaches the store.
func (p *Provider) protocol(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withRefusal(r)
		if err := httpx.CheckInput(r); err != nil {
			p.fail(w, r, oauth.InvalidRequest("la solicitud contiene texto que no es UTF-8 valido o un byte NUL"), false)
			return
		}
		h(w, r)
	})
}

// url makes an absolute URL of path on the configured issuer.
func (p *Provider) url(path string) string { return p.issuer + path }

// fail logs e and writes it as a token-endpoint error: a refusal (4xx) at
// INFO with its reason (logRefused), a server error with its cause.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, e *oauth.Error, usedBasic bool) {
	if e.Unwrap() != nil || e.Status >= 500 {
		httpx.LogError(p.log, r, e.Status, e)
	}
	if e.Status < 500 {
		p.logRefused(r, e)
	}
	oauth.WriteTokenError(w, e, usedBasic)
}

// event records a security event; a failure is logged, never fatal.
func (p *Provider) event(ctx context.Context, typ, userID, clientID, ip, detail string) {
	e := &store.Event{Time: p.now().UTC(), Type: typ, UserID: userID, ClientID: clientID, IP: ip, Detail: detail}
	if err := p.cfg.Store.RecordEvent(ctx, e); err != nil {
		p.log.ErrorContext(ctx, "recording a security event", "type", typ, "error", err.Error())
	}
}
