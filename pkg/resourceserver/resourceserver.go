package resourceserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Config configures a Server.
type Config struct {
	// Issuer is the authorization server's issuer identifier, exactly as it
	// publishes it (e.g. "https://auth.example.com"). Required.
	Issuer string
	// Resource is this API's resource indicator: the URI it is registered
	// under at the authorization server, which its tokens carry in aud
	// (e.g. "https://api.example.com/mcp"). Required.
	Resource string
	// ResourceName is a human-readable name for the metadata (optional).
	ResourceName string
	// ScopesSupported are advertised in the metadata (optional).
	ScopesSupported []string
	// Introspection, if set, checks every token with the issuer's RFC 7662
	// introspection endpoint too (immediate revocation), authenticating
	// with these client credentials (a confidential client).
	Introspection *ClientCredentials
	// HTTPClient talks to the issuer; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed on exp and nbf; 0: 30 s.
	Leeway time.Duration
	// MinRefetchInterval bounds how often a token with an unknown kid makes
	// the JWKS be fetched again; 0: 1 minute.
	MinRefetchInterval time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// ClientCredentials authenticate the resource server at the introspection
// endpoint (HTTP Basic, RFC 6749 §2.3.1).
type ClientCredentials struct {
	ClientID     string
	ClientSecret string
}

// Server verifies access tokens for one resource. Build it with New; it is
// safe for concurrent use.
type Server struct {
	cfg       Config
	client    *http.Client
	meta      asMetadata
	metaPath  string
	metaURL   string
	keysMu    sync.RWMutex
	keys      jose.JSONWebKeySet
	refetchMu sync.Mutex
	lastFetch time.Time
}

// asMetadata is the part of the issuer's RFC 8414 metadata used here.
type asMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// maxDocument bounds every document read from the issuer.
const maxDocument = 1 << 20

// New checks cfg, fetches the issuer's metadata (RFC 8414, falling back to
// OpenID Connect discovery) and its JWKS. It fails when the issuer cannot
// be reached or its metadata names another issuer (RFC 8414 §3.3).
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Issuer == "" || cfg.Resource == "" {
		return nil, errors.New("resourceserver: Issuer and Resource are required")
	}
	ru, err := url.Parse(cfg.Resource)
	if err != nil || !ru.IsAbs() || ru.Host == "" || ru.Fragment != "" || strings.Contains(cfg.Resource, "#") {
		return nil, errors.New("resourceserver: Resource must be an absolute URI without fragment (RFC 8707 §2)")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, client: cfg.HTTPClient}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	// RFC 9728 §3.1: the well-known suffix goes between the host and the
	// resource's path (a trailing slash alone adds nothing).
	s.metaPath = wellKnownPath + strings.TrimSuffix(ru.EscapedPath(), "/")
	s.metaURL = ru.Scheme + "://" + ru.Host + s.metaPath
	if err := s.discover(ctx); err != nil {
		return nil, err
	}
	if cfg.Introspection != nil && s.meta.IntrospectionEndpoint == "" {
		return nil, errors.New("resourceserver: the issuer advertises no introspection_endpoint")
	}
	if err := s.fetchKeys(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// wellKnownPath is RFC 9728 §3's well-known URI suffix.
const wellKnownPath = "/.well-known/oauth-protected-resource"

// discover reads the issuer's metadata.
func (s *Server) discover(ctx context.Context) error {
	iu, err := url.Parse(s.cfg.Issuer)
	if err != nil || !iu.IsAbs() {
		return fmt.Errorf("resourceserver: bad Issuer %q", s.cfg.Issuer)
	}
	path := strings.TrimSuffix(iu.EscapedPath(), "/")
	base := iu.Scheme + "://" + iu.Host
	var errs []error
	// RFC 8414 §3.1, then OpenID Connect Discovery §4 (issuer + suffix).
	for _, u := range []string{base + "/.well-known/oauth-authorization-server" + path, base + path + "/.well-known/openid-configuration"} {
		var m asMetadata
		if err := s.getJSON(ctx, u, &m); err != nil {
			errs = append(errs, err)
			continue
		}
		// RFC 8414 §3.3: "The "issuer" value returned MUST be identical to
		// the authorization server's issuer identifier value".
		if m.Issuer != s.cfg.Issuer {
			return fmt.Errorf("resourceserver: metadata at %s names issuer %q, want %q", u, m.Issuer, s.cfg.Issuer)
		}
		if m.JWKSURI == "" {
			return fmt.Errorf("resourceserver: metadata at %s has no jwks_uri", u)
		}
		s.meta = m
		return nil
	}
	return fmt.Errorf("resourceserver: discovering %s: %w", s.cfg.Issuer, errors.Join(errs...))
}

// fetchKeys reads the JWKS and replaces the cached keys.
func (s *Server) fetchKeys(ctx context.Context) error {
	var set jose.JSONWebKeySet
	if err := s.getJSON(ctx, s.meta.JWKSURI, &set); err != nil {
		return fmt.Errorf("resourceserver: fetching the JWKS: %w", err)
	}
	s.keysMu.Lock()
	s.keys = set
	s.keysMu.Unlock()
	return nil
}

// refetchKeys fetches the JWKS again for a token naming an unknown kid, at
// most once per MinRefetchInterval (a flood of tokens with made-up kids
// must not become a flood of requests to the issuer). It reports whether
// it fetched.
func (s *Server) refetchKeys(ctx context.Context) bool {
	s.refetchMu.Lock()
	defer s.refetchMu.Unlock()
	now := s.cfg.Now()
	if !s.lastFetch.IsZero() && now.Sub(s.lastFetch) < s.cfg.MinRefetchInterval {
		return false
	}
	s.lastFetch = now
	return s.fetchKeys(ctx) == nil
}

// key returns the cached public key with kid.
func (s *Server) key(kid string) (*jose.JSONWebKey, bool) {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	for i := range s.keys.Keys {
		if k := &s.keys.Keys[i]; k.KeyID == kid && (k.Use == "" || k.Use == "sig") {
			return k, true
		}
	}
	return nil, false
}

func (s *Server) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxDocument+1))
	if err != nil {
		return err
	}
	if len(b) > maxDocument {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocument)
	}
	return json.Unmarshal(b, v)
}

// MetadataPath is where MetadataHandler belongs on this resource's host
// (RFC 9728 §3.1): "/.well-known/oauth-protected-resource" followed by the
// resource's path.
func (s *Server) MetadataPath() string { return s.metaPath }

// MetadataURL is the absolute URL of the metadata, as the 401 challenges
// name it.
func (s *Server) MetadataURL() string { return s.metaURL }

// Issuer is the configured issuer.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Resource is the configured resource indicator.
func (s *Server) Resource() string { return s.cfg.Resource }
