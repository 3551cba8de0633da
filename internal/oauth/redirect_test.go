package oauth

import (
	"net/url"
	"testing"
)

func TestMatchRedirectURI(t *testing.T) {
	registered := []string{
		"https://app.example.com/callback",
		"https://app.example.com/cb?tenant=1",
		"http://127.0.0.1/native",
		"http://[::1]:8080/native6",
		"http://localhost:3000/dev",
		"com.example.app:/oauth2redirect",
	}
	tests := []struct {
		name, uri string
		ok        bool
	}{
		{"exact https", "https://app.example.com/callback", true},
		{"exact with its own query", "https://app.example.com/cb?tenant=1", true},
		{"exact custom scheme", "com.example.app:/oauth2redirect", true},
		{"exact localhost", "http://localhost:3000/dev", true},
		{"loopback v4 any port", "http://127.0.0.1:49152/native", true},
		{"loopback v4 no port", "http://127.0.0.1/native", true},
		{"loopback v4 port 65535", "http://127.0.0.1:65535/native", true},
		{"loopback v6 other port", "http://[::1]:1234/native6", true},
		{"loopback v6 no port", "http://[::1]/native6", true},

		{"empty", "", false},
		{"prefix", "https://app.example.com/callbac", false},
		{"suffix path", "https://app.example.com/callback/evil", false},
		{"suffix chars", "https://app.example.com/callbackx", false},
		{"added query", "https://app.example.com/callback?x=1", false},
		{"changed query", "https://app.example.com/cb?tenant=2", false},
		{"dropped query", "https://app.example.com/cb", false},
		{"trailing slash", "https://app.example.com/callback/", false},
		{"host case", "https://APP.example.com/callback", false},
		{"scheme case", "HTTPS://app.example.com/callback", false},
		{"path case", "https://app.example.com/Callback", false},
		{"http downgrade", "http://app.example.com/callback", false},
		{"explicit default port", "https://app.example.com:443/callback", false},
		{"path traversal", "https://app.example.com/callback/../admin", false},
		{"encoded traversal", "https://app.example.com/callback/%2e%2e/admin", false},
		{"percent-encoded path", "https://app.example.com/%63allback", false},
		{"userinfo", "https://app.example.com@evil.example/callback", false},
		{"userinfo with port", "https://app.example.com:443@evil.example/callback", false},
		{"userinfo on exact host", "https://user@app.example.com/callback", false},
		{"fragment", "https://app.example.com/callback#frag", false},
		{"empty fragment", "https://app.example.com/callback#", false},
		{"subdomain", "https://evil.app.example.com/callback", false},
		{"other host suffix", "https://app.example.com.evil.example/callback", false},
		{"backslash", "https://app.example.com\\@evil.example/callback", false},
		{"space", "https://app.example.com/callback ", false},
		{"newline", "https://app.example.com/callback\n", false},
		{"relative", "/callback", false},
		{"custom scheme other path", "com.example.app:/other", false},
		{"custom scheme case", "COM.example.app:/oauth2redirect", false},
		{"loopback other path", "http://127.0.0.1:5000/native/x", false},
		{"loopback path prefix", "http://127.0.0.1:5000/nativ", false},
		{"loopback added query", "http://127.0.0.1:5000/native?x", false},
		{"loopback https", "https://127.0.0.1:5000/native", false},
		{"loopback other ip", "http://127.0.0.2:5000/native", false},
		{"loopback host suffix", "http://127.0.0.1.evil.example/native", false},
		{"loopback userinfo", "http://127.0.0.1:80@evil.example/native", false},
		{"loopback port zero", "http://127.0.0.1:0/native", false},
		{"loopback port leading zero", "http://127.0.0.1:080/native", false},
		{"loopback port too big", "http://127.0.0.1:65536/native", false},
		{"loopback empty port", "http://127.0.0.1:/native", false},
		{"loopback port letters", "http://127.0.0.1:80a/native", false},
		{"loopback v6 other path", "http://[::1]:1234/native", false},
		{"loopback v4 for v6 registration", "http://127.0.0.1:8080/native6", false},
		{"localhost any port is not loopback IP", "http://localhost:3001/dev", false},
		{"localhost as 127", "http://127.0.0.1:3000/dev", false},
		{"javascript", "javascript:alert(1)", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MatchRedirectURI(registered, tc.uri)
			if ok != tc.ok {
				t.Fatalf("MatchRedirectURI(%q) ok = %v, want %v", tc.uri, ok, tc.ok)
			}
			if ok && got != tc.uri {
				t.Errorf("returned %q, want the requested URI %q", got, tc.uri)
			}
			if !ok && got != "" {
				t.Errorf("returned %q on failure", got)
			}
		})
	}
}

func TestMatchRedirectURINoRegistrations(t *testing.T) {
	if _, ok := MatchRedirectURI(nil, "https://app.example.com/callback"); ok {
		t.Fatal("matched with nothing registered")
	}
	// A registration with a fragment (refused at registration anyway) never
	// makes a fragment acceptable.
	if _, ok := MatchRedirectURI([]string{"https://a.example/cb#x"}, "https://a.example/cb#x"); ok {
		t.Fatal("matched a URI with a fragment")
	}
}

func TestAppendParams(t *testing.T) {
	p := func() url.Values { return url.Values{"code": {"c"}, "state": {"s t"}, "empty": {""}} }
	tests := []struct {
		base     string
		fragment bool
		want     string
	}{
		{"https://a.example/cb", false, "https://a.example/cb?code=c&state=s+t"},
		{"https://a.example/cb?tenant=1", false, "https://a.example/cb?tenant=1&code=c&state=s+t"},
		{"https://a.example/cb?", false, "https://a.example/cb?code=c&state=s+t"},
		{"com.example.app:/cb", false, "com.example.app:/cb?code=c&state=s+t"},
		{"https://a.example/cb", true, "https://a.example/cb#code=c&state=s+t"},
	}
	for _, tc := range tests {
		in := p()
		if got := AppendParams(tc.base, in, tc.fragment); got != tc.want {
			t.Errorf("AppendParams(%q, %v) = %q, want %q", tc.base, tc.fragment, got, tc.want)
		}
		if _, ok := in["empty"]; !ok {
			t.Error("AppendParams changed its argument")
		}
	}
	if got := AppendParams("https://a.example/cb", url.Values{}, false); got != "https://a.example/cb" {
		t.Errorf("no params: %q", got)
	}
}

func TestIsPrivateScheme(t *testing.T) {
	for uri, want := range map[string]bool{
		"com.example.app:/cb":  true,
		"https://a.example/cb": false,
		"http://127.0.0.1/cb":  false,
	} {
		if got := IsPrivateScheme(uri); got != want {
			t.Errorf("IsPrivateScheme(%q) = %v", uri, got)
		}
	}
}
