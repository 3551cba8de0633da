package oauth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestParseResources: RFC 8707 §2 — absolute URI, no fragment; anything
// else is invalid_target; repeats allowed, duplicates dropped.
func TestParseResources(t *testing.T) {
	bad := []string{
		"api.example/mcp",              // relative
		"/mcp",                         // relative
		"https://api.example/mcp#frag", // fragment
		"https://api.example/mcp#",     // empty fragment is still a fragment
		"urn:example:api",              // no host: not a resource this server can name
		"https://api example/",         // white space
		"https://user:pw@api.example/", // credentials
		"https://api.example/\u00e9",   // not ASCII
		"https://" + strings.Repeat("a", MaxResourceLen) + "/",
	}
	for _, v := range bad {
		if _, e := ParseResources([]string{v}); e == nil || e.Code != CodeInvalidTarget {
			t.Errorf("ParseResources(%q) = %v, want invalid_target", v, e)
		}
	}
	got, e := ParseResources([]string{"https://api.example/mcp", "", "https://b.example/?x=1", "https://api.example/mcp"})
	if e != nil || !slices.Equal(got, []string{"https://api.example/mcp", "https://b.example/?x=1"}) {
		t.Errorf("ParseResources = %v, %v", got, e)
	}
	if got, e := ParseResources(nil); got != nil || e != nil {
		t.Errorf("ParseResources(nil) = %v, %v", got, e)
	}
	many := make([]string, MaxResources+1)
	for i := range many {
		many[i] = "https://a.example/" + strings.Repeat("x", i+1)
	}
	if _, e := ParseResources(many); e == nil || e.Code != CodeInvalidTarget {
		t.Errorf("too many resources: %v", e)
	}
}

// TestNarrowResources: a token request may narrow the granted resources,
// never widen them.
func TestNarrowResources(t *testing.T) {
	granted := []string{"https://a.example/", "https://b.example/"}
	if got, e := NarrowResources(nil, granted); e != nil || !slices.Equal(got, granted) {
		t.Errorf("none requested = %v, %v", got, e)
	}
	if got, e := NarrowResources([]string{"https://b.example/"}, granted); e != nil || !slices.Equal(got, []string{"https://b.example/"}) {
		t.Errorf("narrowed = %v, %v", got, e)
	}
	for _, req := range [][]string{{"https://c.example/"}, {"https://a.example/", "https://c.example/"}} {
		if _, e := NarrowResources(req, granted); e == nil || e.Code != CodeInvalidTarget {
			t.Errorf("widening %v: %v", req, e)
		}
	}
	if _, e := NarrowResources([]string{"https://a.example/"}, nil); e == nil || e.Code != CodeInvalidTarget {
		t.Errorf("a resource on a grant without resources: %v", e)
	}
}

// TestParamsResource: resource may be repeated in a form (every other
// parameter may not), and comes back value by value.
func TestParamsResource(t *testing.T) {
	p, e := ParseForm("grant_type=client_credentials&resource=https%3A%2F%2Fa.example%2F&resource=&resource=https%3A%2F%2Fb.example%2F")
	if e != nil {
		t.Fatal(e)
	}
	if got := p.Resources(); !slices.Equal(got, []string{"https://a.example/", "https://b.example/"}) {
		t.Errorf("Resources() = %q", got)
	}
	if _, e := ParseForm("scope=a&scope=b"); e == nil {
		t.Error("a repeated scope was accepted")
	}
	p, _ = ParseForm("grant_type=x")
	if p.Resources() != nil {
		t.Errorf("Resources() without any = %q", p.Resources())
	}
	j, e := ParseJSON([]byte(`{"grant_type":"client_credentials","resource":"https://a.example/"}`))
	if e != nil || !slices.Equal(j.Resources(), []string{"https://a.example/"}) {
		t.Errorf("JSON resource = %q, %v", j.Resources(), e)
	}
	j, e = ParseJSON([]byte(`{"grant_type":"client_credentials","resource":["https://a.example/","","https://b.example/"],}`))
	if e != nil || !slices.Equal(j.Resources(), []string{"https://a.example/", "https://b.example/"}) {
		t.Errorf("JSON resource array = %q, %v", j.Resources(), e)
	}
	for _, body := range []string{`{"resource":[1]}`, `{"resource":["a",["b"]]}`, `{"scope":["a"]}`, `{"resource":["a"`} {
		if _, e := ParseJSON([]byte(body)); e == nil || e.Code != CodeInvalidRequest {
			t.Errorf("ParseJSON(%s) = %v, want invalid_request", body, e)
		}
	}
}

// TestAuthorizeResources: the authorization request takes repeated
// resources, refuses malformed ones with invalid_target, and lets the
// request ask for the scopes its resources define.
func TestAuthorizeResources(t *testing.T) {
	c := AuthorizeClient{CodeFlow: true, Public: true, Scopes: []string{"openid"}}
	vals := url.Values{"response_type": {"code"}, "scope": {"openid notes:read"}, "state": {"st"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"resource": {"https://a.example/mcp", "https://b.example/"}}
	if _, e := ParseAuthorizeRequest(vals, c); e == nil || e.Code != CodeInvalidScope {
		t.Errorf("a resource scope without its resource's scopes: %v", e)
	}
	c.ResourceScopes = []string{"notes:read"}
	q, e := ParseAuthorizeRequest(vals, c)
	if e != nil {
		t.Fatal(e)
	}
	if !slices.Equal(q.Resources, vals["resource"]) || !slices.Equal(q.Scopes, []string{"openid", "notes:read"}) {
		t.Errorf("resources %v scopes %v", q.Resources, q.Scopes)
	}
	vals["resource"] = []string{"https://a.example/mcp#x"}
	if _, e := ParseAuthorizeRequest(vals, c); e == nil || e.Code != CodeInvalidTarget {
		t.Errorf("fragment: %v", e)
	}
}
