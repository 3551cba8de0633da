package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

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
