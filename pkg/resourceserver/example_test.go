package resourceserver_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/multinexo/auth/pkg/resourceserver"
)

// Example protects an API registered at Multinexo as
// https://notes.example/mcp (multinexo resources create --uri
// https://notes.example/mcp --name Notas --scope notes:read). A client
// gets a token with resource=https://notes.example/mcp and sends it as
// "Authorization: Bearer …".
func Example() {
	// A real Multinexo server for the example to talk to.
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	m, stop, err := startMultinexo(dir, "https://notes.example/mcp")
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	rs, err := resourceserver.New(context.Background(), resourceserver.Config{
		Issuer:          m.issuer, // e.g. "https://auth.example.com"
		Resource:        "https://notes.example/mcp",
		ScopesSupported: []string{"notes:read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+rs.MetadataPath(), rs.MetadataHandler())
	mux.Handle("/mcp", rs.Require("notes:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resourceserver.FromContext(r.Context())
		fmt.Fprintf(w, "hola; scopes %v", c.Scopes)
	})))
	api := httptest.NewServer(mux)
	defer api.Close()

	// Without a token: 401 pointing at the metadata.
	res, _ := http.Get(api.URL + "/mcp")
	fmt.Println(res.StatusCode, strings.Contains(res.Header.Get("WWW-Authenticate"), `resource_metadata="https://notes.example/.well-known/oauth-protected-resource/mcp"`))
	res.Body.Close()

	// With a token for this resource.
	tok, _ := m.token("notes:read", "https://notes.example/mcp")
	req, _ := http.NewRequest(http.MethodGet, api.URL+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output:
	// 401 true
	// 200 hola; scopes [notes:read]
}
