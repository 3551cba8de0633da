package cli

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/token"
)

// ResourcesCmd groups the protected-resource commands (RFC 8707).
type ResourcesCmd struct {
	Create ResourcesCreateCmd `cmd:"" help:"Registra un recurso protegido (una API) para el parámetro resource / Registers a protected resource (an API) for the resource parameter."`
	List   ResourcesListCmd   `cmd:"" help:"Lista los recursos protegidos / Lists protected resources."`
	Delete ResourcesDeleteCmd `cmd:"" help:"Borra un recurso protegido; no se emiten más tokens para él / Deletes a protected resource; no more tokens are issued for it."`
}

// ResourcesCreateCmd registers a protected resource.
type ResourcesCreateCmd struct {
	URI   string   `required:"" name:"uri" help:"Identificador del recurso: URI absoluto sin fragmento, el aud de sus tokens (p. ej. https://api.example.com/mcp) / resource indicator: absolute URI without fragment, its tokens' aud."`
	Name  string   `required:"" help:"Nombre visible en la pantalla de consentimiento / name shown on the consent page."`
	Scope []string `help:"Alcance que define el recurso, repetible / scope the resource defines, repeatable."`
}

// resourceJSON is how commands print a resource.
type resourceJSON struct {
	URI       string    `json:"uri"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
}

func toResourceJSON(r *store.Resource) resourceJSON {
	return resourceJSON{URI: r.URI, Name: r.Name, Scopes: nonNil(r.Scopes), CreatedAt: r.CreatedAt}
}

func (c *ResourcesCreateCmd) Run(g *config.Global, env *Env) error {
	if !oauth.ValidResource(c.URI) {
		return usage(fmt.Errorf("--uri %q: debe ser un URI absoluto con host, sin fragmento ni espacios (RFC 8707) / must be an absolute URI with a host, without fragment or spaces (RFC 8707)", c.URI))
	}
	if c.Name == "" || len(c.Name) > 200 {
		return usage(errors.New("--name: entre 1 y 200 caracteres / between 1 and 200 characters"))
	}
	var scopes []string
	for _, s := range c.Scope {
		parsed, e := oauth.ParseScope(s)
		if e != nil || len(parsed) != 1 {
			return usage(fmt.Errorf("--scope %q: un solo alcance sin espacios ni comillas / one scope, no spaces or quotes", s))
		}
		if parsed[0] == oauth.ScopeAccount {
			return usage(errors.New("--scope account: reservado a las aplicaciones de primera parte / reserved to first-party applications"))
		}
		if !slices.Contains(scopes, parsed[0]) {
			scopes = append(scopes, parsed[0])
		}
	}
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	r := &store.Resource{URI: c.URI, Name: c.Name, Scopes: scopes, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := db.CreateResource(env.Ctx, r); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return usage(fmt.Errorf("--uri %s: ya está registrado / already registered", c.URI))
		}
		return err
	}
	event(env, db, "resource.created", "", "")
	return printJSON(env.Stdout, toResourceJSON(r))
}

// ResourcesListCmd lists protected resources.
type ResourcesListCmd struct{}

func (ResourcesListCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	l, err := db.ListResources(env.Ctx)
	if err != nil {
		return err
	}
	out := make([]resourceJSON, 0, len(l))
	for _, r := range l {
		out = append(out, toResourceJSON(r))
	}
	return printJSON(env.Stdout, out)
}

// ResourcesDeleteCmd deletes a protected resource.
type ResourcesDeleteCmd struct {
	URI string `arg:"" help:"URI del recurso / the resource's URI."`
}

func (c *ResourcesDeleteCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.DeleteResource(env.Ctx, c.URI); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no existe el recurso %q / no such resource", c.URI)
		}
		return err
	}
	event(env, db, "resource.deleted", "", "")
	fmt.Fprintf(env.Stdout, "recurso %s borrado / resource deleted\n", c.URI)
	return nil
}

// knownScopes are the scopes a client may be registered with from the
// command line: the built-in ones and those the protected resources define.
func knownScopes(env *Env, db *sqlstore.DB) ([]string, error) {
	known := slices.Clone(clients.BuiltinScopes)
	l, err := db.ListResources(env.Ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range l {
		for _, s := range r.Scopes {
			if !slices.Contains(known, s) {
				known = append(known, s)
			}
		}
	}
	return known, nil
}

// RegistrationTokensCmd groups the RFC 7591 initial access token commands.
type RegistrationTokensCmd struct {
	Create RegistrationTokensCreateCmd `cmd:"" help:"Crea un token de acceso inicial de un solo uso para POST /auth/v1/register (serve --registration token); se imprime una sola vez / creates a single-use initial access token for POST /auth/v1/register; printed once."`
}

// RegistrationTokensCreateCmd creates an initial access token.
type RegistrationTokensCreateCmd struct {
	TTL time.Duration `name:"ttl" default:"24h" help:"Validez del token / how long the token is valid."`
}

func (c *RegistrationTokensCreateCmd) Run(g *config.Global, env *Env) error {
	if c.TTL <= 0 || c.TTL > 90*24*time.Hour {
		return usage(errors.New("--ttl: entre 1s y 90 días / between 1s and 90 days"))
	}
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	tok := token.NewOpaque(token.PrefixInitialAccess)
	now := time.Now().UTC()
	if err := db.CreateRegistrationToken(env.Ctx, store.HashToken(tok), now, now.Add(c.TTL)); err != nil {
		return err
	}
	event(env, db, "registration_token.created", "", "")
	return printJSON(env.Stdout, map[string]any{"initial_access_token": tok, "expires_at": now.Add(c.TTL).Truncate(time.Second)})
}
