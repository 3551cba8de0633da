package cimd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits of the draft and of this server.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxSize       = 64 << 10
	DefaultMaxConcurrent = 8
	MinCache             = time.Minute
	MaxCache             = 24 * time.Hour
	DefaultCache         = 10 * time.Minute
	// MaxURLLength bounds a client_id URL.
	MaxURLLength = 1024
)

// Errors of a fetch. Every refusal wraps ErrRefused (the client_id cannot
// be used: the authorization request is answered with an error page).
var (
	ErrRefused = errors.New("cimd: client metadata document refused")
	// ErrBusy: MaxConcurrent fetches are running; try again later.
	ErrBusy = fmt.Errorf("%w: too many metadata documents being fetched", ErrRefused)
)

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// IPResolver resolves host names; *net.Resolver implements it. Tests
// give their own to point a name anywhere.
type IPResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// FetchConfig configures a Fetcher.
type FetchConfig struct {
	// AllowLoopback also accepts http and https URLs on 127.0.0.1 and [::1]
	// (development and tests only).
	AllowLoopback bool
	Resolver      IPResolver // nil: net.DefaultResolver
	Timeout       time.Duration
	MaxSize       int64
	MaxConcurrent int
	Now           func() time.Time
	// RootCAs, if set, replaces the system's roots (tests; in production
	// the system roots and SSL_CERT_FILE apply, as everywhere in Go).
	RootCAs *x509.CertPool
}

// Fetcher fetches metadata documents with the defences of the package doc.
type Fetcher struct {
	cfg    FetchConfig
	client *http.Client
	slots  chan struct{}

	mu       sync.Mutex
	cache    map[string]cached
	inflight map[string]*call
}

type cached struct {
	body    []byte
	expires time.Time
}

type call struct {
	done chan struct{}
	body []byte
	err  error
}

// maxCached bounds the documents kept in memory.
const maxCached = 10_000

// NewFetcher builds a Fetcher.
func NewFetcher(cfg FetchConfig) *Fetcher {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Fetcher{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent),
		cache: map[string]cached{}, inflight: map[string]*call{}}
	tr := &http.Transport{
		Proxy:                 nil, // never through a proxy: the address checked is the one dialed
		DialContext:           f.dial,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          10,
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    true, // the size limit is on what travels
		ForceAttemptHTTP2:     true,
	}
	if cfg.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	f.client = &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return refused("the metadata document URL redirects; redirects are not followed")
		},
	}
	return f
}

// CheckURL reports whether clientID is a URL this fetcher would fetch: an
// https URL with a path other than "/", no fragment, no user information,
// no dot segments (draft §3), at most MaxURLLength bytes; with
// AllowLoopback also http(s)://127.0.0.1 or [::1].
func (f *Fetcher) CheckURL(clientID string) error {
	if len(clientID) > MaxURLLength {
		return refused("client_id URL too long")
	}
	u, err := url.Parse(clientID)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return refused("client_id is not an absolute URL")
	}
	switch {
	case u.User != nil, u.Fragment != "", strings.Contains(clientID, "#"):
		return refused("client_id URL must not have user information or a fragment")
	case u.Path == "" || u.Path == "/":
		return refused("client_id URL must have a path")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return refused("client_id URL must not have dot segments")
		}
	}
	switch {
	case f.cfg.AllowLoopback && isLoopbackHost(u.Hostname()) && (u.Scheme == "http" || u.Scheme == "https"):
		return nil
	case u.Scheme != "https":
		return refused("client_id URL must be https")
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && !Public(a) {
		return refused("client_id URL names a non-public address")
	}
	return nil
}

func isLoopbackHost(h string) bool { return h == "127.0.0.1" || h == "::1" }

// Fetch returns the document at rawURL: from the cache while fresh, else
// fetched (one fetch per URL at a time).
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, error) {
	if err := f.CheckURL(rawURL); err != nil {
		return nil, err
	}
	now := f.cfg.Now()
	f.mu.Lock()
	if c, ok := f.cache[rawURL]; ok && now.Before(c.expires) {
		f.mu.Unlock()
		return c.body, nil
	}
	if c := f.inflight[rawURL]; c != nil {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.body, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case f.slots <- struct{}{}:
	default:
		f.mu.Unlock()
		return nil, ErrBusy
	}
	c := &call{done: make(chan struct{})}
	f.inflight[rawURL] = c
	f.mu.Unlock()

	var maxAge time.Duration
	// The fetch does not follow the caller's cancellation: others may be
	// waiting on it; it is bounded by Timeout.
	c.body, maxAge, c.err = f.get(context.WithoutCancel(ctx), rawURL)
	<-f.slots
	f.mu.Lock()
	delete(f.inflight, rawURL)
	if c.err == nil {
		if len(f.cache) >= maxCached {
			clear(f.cache)
		}
		f.cache[rawURL] = cached{body: c.body, expires: now.Add(maxAge)}
	}
	f.mu.Unlock()
	close(c.done)
	return c.body, c.err
}

// get does one GET with the limits.
func (f *Fetcher) get(ctx context.Context, rawURL string) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, 0, refused("bad URL")
	}
	req.Header.Set("Accept", "application/json")
	res, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, 0, err
		}
		return nil, 0, refused("fetching the metadata document: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, 0, refused("the metadata document URL answered %s", res.Status)
	}
	if res.ContentLength > f.cfg.MaxSize {
		return nil, 0, refused("the metadata document is larger than %d bytes", f.cfg.MaxSize)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, f.cfg.MaxSize+1))
	if err != nil {
		return nil, 0, refused("reading the metadata document: %v", err)
	}
	if int64(len(body)) > f.cfg.MaxSize {
		return nil, 0, refused("the metadata document is larger than %d bytes", f.cfg.MaxSize)
	}
	return body, cacheFor(res.Header.Get("Cache-Control")), nil
}

// cacheFor is how long to keep a document: its max-age within [MinCache,
// MaxCache]; DefaultCache without one; MinCache for no-store or no-cache.
func cacheFor(cc string) time.Duration {
	d := DefaultCache
	for part := range strings.SplitSeq(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(strings.ToLower(part)), "=")
		switch k {
		case "no-store", "no-cache":
			return MinCache
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64); err == nil && n >= 0 {
				d = time.Duration(min(n, int64(MaxCache/time.Second))) * time.Second
			}
		}
	}
	return min(max(d, MinCache), MaxCache)
}

// dial resolves the host, checks every address, and dials a checked one.
func (f *Fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = f.cfg.Resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, refused("resolving %s: %v", host, err)
	}
	if len(addrs) == 0 {
		return nil, refused("%s has no address", host)
	}
	// Every answer must be public: a name with one public and one private
	// address is refused, whichever a dialer would pick.
	for _, a := range addrs {
		if !f.allowed(host, a) {
			return nil, refused("%s resolves to a non-public address", host)
		}
	}
	var d net.Dialer
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// allowed: a public address, or with AllowLoopback the loopback address
// the URL itself names literally.
func (f *Fetcher) allowed(host string, a netip.Addr) bool {
	if f.cfg.AllowLoopback && isLoopbackHost(host) && a.Unmap().IsLoopback() {
		return true
	}
	return Public(a)
}
