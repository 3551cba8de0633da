// Command mcp-server is a small MCP server (Model Context Protocol, with the
// official Go SDK) protected by Multinexo Auth through
// github.com/multinexo/auth/pkg/resourceserver. Its one tool, whoami,
// answers with the name of the person the access token was issued for.
//
// Register it at Multinexo, then run it:
//
//	multinexo resources create --uri http://127.0.0.1:8090/mcp --name "Ejemplo MCP" --scope mcp:tools
//	go run ./examples/mcp-server -issuer http://localhost:8080 -addr 127.0.0.1:8090
//
// An MCP client that connects to http://127.0.0.1:8090/mcp gets a 401
// naming the resource metadata, finds Multinexo there, signs the person in
// (authorization code with PKCE and resource=http://127.0.0.1:8090/mcp)
// and calls whoami with the token.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	issuer := flag.String("issuer", "http://localhost:8080", "Multinexo's issuer")
	resource := flag.String("resource", "", "this server's resource URI (default http://ADDR/mcp)")
	flag.Parse()
	if *resource == "" {
		*resource = "http://" + *addr + "/mcp"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h, err := NewHandler(ctx, Config{Issuer: *issuer, Resource: *resource})
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("MCP server for %s at %s", *resource, *addr)
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
