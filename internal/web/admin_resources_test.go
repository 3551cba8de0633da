package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/store"
)

// TestAdminResources: an operator lists, registers and deletes protected
// resources at /admin/resources (confirming the deletion); bad input is
// refused with a message; nobody else sees the page.
func TestAdminResources(t *testing.T) {
	e := withProvider(t)
	e.newUser("jefa@example.com", true)
	a := e.as("jefa@example.com")
	const uri = "https://notes.example/mcp?v=1"
	r := a.post("/admin/resources", url.Values{"uri": {uri}, "name": {"Notas"}, "scopes": {"notes:read notes:write"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	res, err := e.st.GetResource(t.Context(), uri)
	if err != nil || res.Name != "Notas" || strings.Join(res.Scopes, " ") != "notes:read notes:write" {
		t.Fatalf("stored %+v %v", res, err)
	}
	page := a.get(r.loc.RequestURI())
	if page.status != 200 || !strings.Contains(page.body, "Recurso registrado") || !strings.Contains(page.body, "https://notes.example/mcp?v=1") {
		t.Fatalf("list: %d %s", page.status, page.body)
	}
	for name, f := range map[string]url.Values{
		"taken":    {"uri": {uri}, "name": {"Otra"}},
		"relative": {"uri": {"notes.example/mcp"}, "name": {"X"}},
		"fragment": {"uri": {"https://a.example/#x"}, "name": {"X"}},
		"no name":  {"uri": {"https://a.example/"}, "name": {""}},
		"account":  {"uri": {"https://a.example/"}, "name": {"X"}, "scopes": {"account"}},
	} {
		if r := a.post("/admin/resources", f); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	confirm := a.get("/admin/resources/delete?" + url.Values{"uri": {uri}}.Encode())
	if confirm.status != 200 || !strings.Contains(confirm.body, "Borrar recurso: Notas") {
		t.Fatalf("confirm: %d %s", confirm.status, confirm.body)
	}
	if _, err := e.st.GetResource(t.Context(), uri); err != nil {
		t.Fatal("the confirmation page deleted the resource")
	}
	if r := a.post("/admin/resources/delete?"+url.Values{"uri": {uri}}.Encode(), url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if _, err := e.st.GetResource(t.Context(), uri); err == nil {
		t.Fatal("not deleted")
	}
	// Not an admin: 404, nothing created.
	b := e.as(testEmail)
	wantPage(t, b.get("/admin/resources"), http.StatusNotFound, "no existe")
	wantPage(t, b.post("/admin/resources", url.Values{"uri": {"https://x.example/"}, "name": {"X"}}), http.StatusNotFound, "no existe")
	if _, err := e.st.GetResource(t.Context(), "https://x.example/"); err == nil {
		t.Fatal("a non-admin registered a resource")
	}
}

// TestAdminApplicationsShowOrigin: the operators' list of applications
// marks where each came from (dynamic registration, a metadata document).
func TestAdminApplicationsShowOrigin(t *testing.T) {
	e := withProvider(t)
	e.newUser("jefa@example.com", true)
	now := e.clock.Now()
	for _, c := range []*store.Client{
		{ID: "dyn-1", Name: "Registrada sola", Type: store.ClientPublic, Grants: []string{store.GrantAuthorizationCode},
			RedirectURIs: []string{"http://127.0.0.1/cb"}, Origin: store.OriginDynamic, CreatedAt: now, UpdatedAt: now},
		{ID: "https://agent.example/client.json", Name: "Agente", Type: store.ClientPublic, Grants: []string{store.GrantAuthorizationCode},
			RedirectURIs: []string{"http://127.0.0.1/cb"}, Origin: store.OriginMetadata, CreatedAt: now, UpdatedAt: now},
	} {
		if err := e.st.CreateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	r := e.as("jefa@example.com").get("/admin/applications")
	for _, want := range []string{"registro dinámico", "documento de metadatos (no registrada)",
		`action="/admin/applications/https:%2F%2Fagent.example%2Fclient.json/disable"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("admin applications lack %q", want)
		}
	}
}
