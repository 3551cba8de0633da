package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
)

// TestAuthorizeResources: RFC 8707 at the authorization endpoint — the
// consent page names the resources; the code carries them; unregistered or
// malformed ones are an invalid_target redirect; a remembered consent
// covers only the resources it was given for; resource scopes may be asked.
func TestAuthorizeResources(t *testing.T) {
	e := newEnv(t, nil)
	for _, r := range []*store.Resource{
		{URI: "https://notes.example/mcp", Name: "Notas del equipo", Scopes: []string{"notes:read"}},
		{URI: "https://files.example/", Name: "Archivos"},
	} {
		if err := e.st.CreateResource(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login()

	q := authzQuery("scope", "openid notes:read")
	q.Add("resource", "https://notes.example/mcp")
	r := b.authorize(q)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Notas del equipo") || !strings.Contains(r.body, "https://notes.example/mcp") {
		t.Fatalf("consent page does not name the resource: %d %s", r.status, r.body)
	}
	r = b.consent(r, "allow")
	if r.loc == nil || r.loc.Query().Get("code") == "" {
		t.Fatalf("no code: %d %v", r.status, r.loc)
	}
	c := e.st.lastCode()
	if !slices.Equal(c.Resources, []string{"https://notes.example/mcp"}) || !slices.Equal(c.Scopes, []string{"openid", "notes:read"}) {
		t.Errorf("code resources %v scopes %v", c.Resources, c.Scopes)
	}

	// Remembered for that resource; another resource asks again.
	if r := b.authorize(q); r.status != http.StatusFound {
		t.Fatalf("remembered consent asked again: %d", r.status)
	}
	q2 := authzQuery()
	q2.Add("resource", "https://files.example/")
	if r := b.authorize(q2); r.status != http.StatusOK || !strings.Contains(r.body, "Archivos") {
		t.Fatalf("a new resource was not asked for: %d", r.status)
	}

	// Unregistered, malformed: invalid_target back to the client.
	for _, bad := range []string{"https://unknown.example/", "https://notes.example/mcp#f", "/relative"} {
		qb := authzQuery()
		qb.Add("resource", bad)
		e.wantRedirectError(b.authorize(qb), webRedirect, "invalid_target")
	}
	// A resource's scope without its resource is still unknown here.
	e.wantRedirectError(b.authorize(authzQuery("scope", "openid notes:read")), webRedirect, "invalid_scope")
}

// TestActivateNamesResources: the device confirmation page names the
// resources the device asked for, and the token's aud is them.
func TestActivateNamesResources(t *testing.T) {
	e := newDeviceEnv(t)
	if err := e.st.CreateResource(t.Context(), &store.Resource{URI: "https://notes.example/mcp", Name: "Notas del equipo"}); err != nil {
		t.Fatal(err)
	}
	res, err := http.PostForm(e.srv.URL+provider.PathDevice, url.Values{"client_id": {deviceApp}, "scope": {"openid"},
		"resource": {"https://notes.example/mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	var da deviceAuth
	if err := json.NewDecoder(res.Body).Decode(&da); err != nil || da.UserCode == "" {
		t.Fatalf("device authorization: %d %v", res.StatusCode, err)
	}
	res.Body.Close()
	b := e.browser()
	b.login()
	r := b.enterCode(da.UserCode)
	if !strings.Contains(r.body, "Notas del equipo") || !strings.Contains(r.body, "https://notes.example/mcp") {
		t.Fatalf("confirmation page does not name the resource: %s", r.body)
	}
	b.decideDevice(r, "allow")
	status, tok := e.poll(da.DeviceCode)
	if status != 200 {
		t.Fatalf("poll: %d %v", status, tok)
	}
	c, err := e.keys.VerifyAccess(t.Context(), tok["access_token"].(string), e.issuer, []string{"https://notes.example/mcp"})
	if err != nil || len(c.Audience) != 1 {
		t.Fatalf("access token for the resource: %+v %v", c, err)
	}
}
