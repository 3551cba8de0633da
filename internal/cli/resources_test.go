package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestResourcesCommands: resources create prints JSON with the uri; list
// and delete; malformed URIs and duplicates are usage errors; a client may
// then be registered with a scope the resource defines.
func TestResourcesCommands(t *testing.T) {
	_, db := newDB(t)
	r := run(t, "", "--db", db, "resources", "create", "--uri", "https://notes.example/mcp", "--name", "Notas", "--scope", "notes:read", "--scope", "notes:read")
	if r.status != 0 {
		t.Fatalf("resources create: %+v", r)
	}
	var res struct {
		URI    string   `json:"uri"`
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.URI != "https://notes.example/mcp" || res.Name != "Notas" || strings.Join(res.Scopes, " ") != "notes:read" {
		t.Fatalf("create output %q: %v", r.stdout, err)
	}
	for _, bad := range [][]string{
		{"--uri", "https://notes.example/mcp", "--name", "Otra"},         // taken
		{"--uri", "notes.example/mcp", "--name", "Relativa"},             // relative
		{"--uri", "https://notes.example/mcp#x", "--name", "Frag"},       // fragment
		{"--uri", "https://b.example/", "--name", "B", "--scope", "a b"}, // two scopes in one
		{"--uri", "https://b.example/", "--name", "B", "--scope", "account"},
	} {
		if r := run(t, "", append([]string{"--db", db, "resources", "create"}, bad...)...); r.status != 2 {
			t.Errorf("resources create %v: status %d, want 2: %+v", bad, r.status, r)
		}
	}
	r = run(t, "", "--db", db, "clients", "create", "--name", "Agente", "--grant", "client_credentials", "--scope", "notes:read")
	if r.status != 0 {
		t.Fatalf("a client with a resource's scope: %+v", r)
	}
	if r := run(t, "", "--db", db, "clients", "create", "--name", "X", "--grant", "client_credentials", "--scope", "nope:read"); r.status != 2 {
		t.Fatalf("a client with an unknown scope: %+v", r)
	}
	r = run(t, "", "--db", db, "resources", "list")
	if r.status != 0 || !strings.Contains(r.stdout, `"uri": "https://notes.example/mcp"`) {
		t.Fatalf("list: %+v", r)
	}
	if r := run(t, "", "--db", db, "resources", "delete", "https://notes.example/mcp"); r.status != 0 {
		t.Fatalf("delete: %+v", r)
	}
	if r := run(t, "", "--db", db, "resources", "delete", "https://notes.example/mcp"); r.status != 1 {
		t.Fatalf("delete again: %+v", r)
	}
	if r := run(t, "", "--db", db, "resources", "list"); r.status != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list after delete: %+v", r)
	}
}

// TestRegistrationTokensAndOrigin: registration-tokens create prints a
// token once (stored hashed); clients list says where each client came from.
func TestRegistrationTokensAndOrigin(t *testing.T) {
	path, db := newDB(t)
	r := run(t, "", "--db", db, "registration-tokens", "create", "--ttl", "1h")
	var out struct {
		Token string `json:"initial_access_token"`
	}
	if r.status != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || !strings.HasPrefix(out.Token, "mnx_iat_") {
		t.Fatalf("registration-tokens create: %+v", r)
	}
	for _, f := range []string{path, path + "-wal"} {
		raw, _ := os.ReadFile(f)
		if strings.Contains(string(raw), out.Token) {
			t.Errorf("the initial access token is stored in clear in %s", f)
		}
	}
	if r := run(t, "", "--db", db, "registration-tokens", "create", "--ttl", "0s"); r.status != 2 {
		t.Errorf("--ttl 0: %+v", r)
	}
	if r := run(t, "", "--db", db, "clients", "create", "--name", "X", "--grant", "client_credentials"); r.status != 0 {
		t.Fatal(r)
	}
	if r := run(t, "", "--db", db, "clients", "list"); !strings.Contains(r.stdout, `"origin": "cli"`) {
		t.Errorf("clients list without origin: %s", r.stdout)
	}
}
