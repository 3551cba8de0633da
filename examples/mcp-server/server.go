package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/multinexo/auth/pkg/resourceserver"
)

// Scope is the scope the example's resource defines; the whoami tool also
// needs profile, so that the token carries the person's name.
const Scope = "mcp:tools"

// Config configures the handler.
type Config struct {
	Issuer   string // Multinexo's issuer
	Resource string // this MCP endpoint's URL, registered at Multinexo
	// HTTPClient talks to Multinexo (nil: a default one).
	HTTPClient *http.Client
}

// whoamiOut is the tool's structured answer.
type whoamiOut struct {
	Name    string `json:"name"`
	Subject string `json:"sub"`
}

// NewHandler returns the HTTP handler: the RFC 9728 metadata and, behind
// resourceserver.Require, the MCP endpoint at the resource's path.
func NewHandler(ctx context.Context, cfg Config) (http.Handler, error) {
	rs, err := resourceserver.New(ctx, resourceserver.Config{
		Issuer:          cfg.Issuer,
		Resource:        cfg.Resource,
		ResourceName:    "Ejemplo MCP",
		ScopesSupported: []string{Scope, "profile"},
		HTTPClient:      cfg.HTTPClient,
	})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.Resource)
	if err != nil {
		return nil, err
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "multinexo-example", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Dice a quién representa el token / says whom the token stands for"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
			ti := req.Extra.TokenInfo
			if ti == nil {
				return nil, whoamiOut{}, errors.New("no token")
			}
			name, _ := ti.Extra["name"].(string)
			if name == "" {
				name = ti.UserID
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Hola, " + name}}},
				whoamiOut{Name: name, Subject: ti.UserID}, nil
		})
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)

	mux := http.NewServeMux()
	mux.Handle("GET "+rs.MetadataPath(), rs.MetadataHandler())
	// resourceserver answers every refusal (401 with resource_metadata,
	// 403 insufficient_scope); the SDK's own middleware then only hands the
	// verified claims to the tools (and binds sessions to the user).
	fromClaims := func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		c, ok := resourceserver.FromContext(r.Context())
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{Scopes: c.Scopes, Expiration: c.ExpiresAt, UserID: c.Subject,
			Extra: map[string]any{"name": c.Name, "email": c.Email}}, nil
	}
	mux.Handle(u.Path, rs.Require(Scope, "profile")(auth.RequireBearerToken(fromClaims, nil)(streamable)))
	return mux, nil
}
