package cimd

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeResolver answers every name with addrs and counts the look-ups.
type fakeResolver struct {
	addrs []netip.Addr
	n     atomic.Int32
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.n.Add(1)
	return r.addrs, nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// TestPublic: the address rule, on each kind of special address.
func TestPublic(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
		"::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
		"::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:db8::1", "ff02::1", "2001::1"} {
		if Public(netip.MustParseAddr(a)) {
			t.Errorf("%s is public", a)
		}
	}
	for _, a := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::6810:84e5", "::ffff:93.184.216.34"} {
		if !Public(netip.MustParseAddr(a)) {
			t.Errorf("%s is not public", a)
		}
	}
}

// TestCheckURL: which client_id URLs may be fetched at all.
func TestCheckURL(t *testing.T) {
	strict := NewFetcher(FetchConfig{})
	loop := NewFetcher(FetchConfig{AllowLoopback: true})
	for _, u := range []string{
		"http://agent.example/client.json",    // not https
		"https://agent.example",               // no path
		"https://agent.example/",              // root path
		"https://agent.example/c.json#x",      // fragment
		"https://u:p@agent.example/c.json",    // user information
		"https://agent.example/a/../c.json",   // dot segments
		"https://127.0.0.1/c.json",            // loopback literal
		"https://10.0.0.1/c.json",             // private literal
		"https://169.254.169.254/latest/meta", // metadata service
		"https://[::1]/c.json",                // loopback v6
		"https://[fd00::1]/c.json",            // unique local
		"https://[::ffff:127.0.0.1]/c.json",   // mapped loopback
		"https://" + strings.Repeat("a", 1100) + ".example/c.json",
	} {
		if err := strict.CheckURL(u); !errors.Is(err, ErrRefused) {
			t.Errorf("CheckURL(%q) = %v, want refused", u, err)
		}
	}
	if err := strict.CheckURL("https://agent.example/client.json"); err != nil {
		t.Errorf("a good URL: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:8080/c.json", "https://127.0.0.1/c.json", "http://[::1]:9/c.json"} {
		if err := loop.CheckURL(u); err != nil {
			t.Errorf("allow-loopback %q: %v", u, err)
		}
	}
	for _, u := range []string{"http://localhost:8080/c.json", "http://10.0.0.1/c.json", "http://agent.example/c.json"} {
		if err := loop.CheckURL(u); !errors.Is(err, ErrRefused) {
			t.Errorf("allow-loopback still refuses %q: %v", u, err)
		}
	}
}

// TestNameResolvingToLoopback: DNS answers are checked after resolution —
// a public-looking name that resolves to 127.0.0.1 (or to one private
// address among public ones) is refused before any connection.
func TestNameResolvingToLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, answer := range [][]netip.Addr{addrs("127.0.0.1"), addrs("93.184.216.34", "10.0.0.1"), addrs("::ffff:127.0.0.1"), addrs("169.254.169.254")} {
		res := &fakeResolver{addrs: answer}
		// Even with AllowLoopback: that allows the literal address only.
		for _, allow := range []bool{false, true} {
			f := NewFetcher(FetchConfig{Resolver: res, AllowLoopback: allow})
			_, _, err := f.get(t.Context(), "http://agent.example:"+port+"/c.json")
			if !errors.Is(err, ErrRefused) {
				t.Errorf("%v (allow-loopback %v): err %v", answer, allow, err)
			}
			if res.n.Load() == 0 {
				t.Errorf("%v: the resolver was not asked", answer)
			}
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback server was reached %d times", hits.Load())
	}
}

// docServer serves handlers on loopback for the allow-loopback tests.
func docServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, srv.URL + "/client.json"
}

// TestRedirectsOversizeSlow: no redirect is followed, a document over
// MaxSize is refused (declared or not), a slow server is given up on.
func TestRedirectsOversizeSlow(t *testing.T) {
	var target atomic.Int32
	_, to := docServer(t, func(w http.ResponseWriter, r *http.Request) { target.Add(1) })
	_, redir := docServer(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
	f := NewFetcher(FetchConfig{AllowLoopback: true})
	if _, err := f.Fetch(t.Context(), redir); !errors.Is(err, ErrRefused) {
		t.Errorf("redirect: %v", err)
	}
	if target.Load() != 0 {
		t.Error("the redirect was followed")
	}

	big := strings.Repeat(" ", DefaultMaxSize+1)
	_, declared := docServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big)) })
	_, chunked := docServer(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 1000 {
			_, _ = w.Write([]byte(big[i:min(i+1000, len(big))]))
			w.(http.Flusher).Flush()
		}
	})
	for _, u := range []string{declared, chunked} {
		if _, err := f.Fetch(t.Context(), u); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "larger") {
			t.Errorf("oversize %s: %v", u, err)
		}
	}

	release := make(chan struct{})
	defer close(release)
	_, slow := docServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	quick := NewFetcher(FetchConfig{AllowLoopback: true, Timeout: 50 * time.Millisecond})
	if _, err := quick.Fetch(t.Context(), slow); !errors.Is(err, ErrRefused) {
		t.Errorf("slow: %v", err)
	}
}

// TestConcurrencyBound: with MaxConcurrent fetches stuck on slow servers,
// one more is refused at once (ErrBusy) instead of queueing; concurrent
// requests for one URL share one fetch.
func TestConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	f := NewFetcher(FetchConfig{AllowLoopback: true, MaxConcurrent: 2, Timeout: time.Minute})
	var wg sync.WaitGroup
	for i := range 2 {
		for range 3 { // three callers per URL: one fetch
			wg.Go(func() { _, _ = f.Fetch(context.Background(), srv.URL+"/c"+string(rune('0'+i))+".json") })
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for started.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/other.json"); !errors.Is(err, ErrBusy) {
		t.Errorf("a third URL while two fetches run: %v, want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	if n := started.Load(); n != 2 {
		t.Errorf("%d fetches for 2 URLs asked 3 times each, want 2", n)
	}
}

// TestCacheFor: Cache-Control within bounds.
func TestCacheFor(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                         DefaultCache,
		"max-age=3600":             time.Hour,
		"public, max-age=5":        MinCache,
		"max-age=99999999":         MaxCache,
		"no-store":                 MinCache,
		"no-cache, max-age=600":    MinCache,
		"max-age=\"120\", private": 2 * time.Minute,
	} {
		if got := cacheFor(cc); got != want {
			t.Errorf("cacheFor(%q) = %s, want %s", cc, got, want)
		}
	}
}

// TestParse: the document rules.
func TestParse(t *testing.T) {
	const id = "https://agent.example/client.json"
	good := `{"client_id":"` + id + `","client_name":"Agente","redirect_uris":["http://127.0.0.1:3000/cb"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	if d, err := Parse(id, []byte(good)); err != nil || d.ClientName != "Agente" {
		t.Fatalf("good: %+v %v", d, err)
	}
	for name, doc := range map[string]string{
		"another client_id": `{"client_id":"https://evil.example/c.json","redirect_uris":["http://127.0.0.1/cb"]}`,
		"no redirect_uris":  `{"client_id":"` + id + `"}`,
		"secret":            `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"client_secret":"x"}`,
		"secret auth":       `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"client_secret_basic"}`,
		"password grant":    `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"grant_types":["password"]}`,
		"implicit":          `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"response_types":["token"]}`,
		"bad redirect":      `{"client_id":"` + id + `","redirect_uris":["https://app.example/cb#x"]}`,
		"not an object":     `["x"]`,
	} {
		if _, err := Parse(id, []byte(doc)); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
