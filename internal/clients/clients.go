// Package clients creates and changes OAuth applications (clients): the
// operator's command line, "Mis Aplicaciones" and the admin panel all go
// through it, so every path validates redirect URIs, grants and scopes the
// same way and every secret is shown once and stored only as a hash.
package clients

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// BuiltinScopes are the scopes every server knows (seeds 000 and 002).
var BuiltinScopes = []string{"openid", "profile", "email", "voucher", "offline_access"}

// KnownGrants are the grant types a client may be given.
var KnownGrants = []string{
	store.GrantAuthorizationCode,
	store.GrantRefreshToken,
	store.GrantPassword,
	store.GrantClientCredentials,
	store.GrantDeviceCode,
}

// InputError is a problem with what the caller asked for; its message is
// safe to show and says what to change.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// CreateInput describes a new client.
type CreateInput struct {
	Name                   string
	Type                   string // store.ClientConfidential (default) or store.ClientPublic
	Grants                 []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Scopes                 []string
	OwnerID                string
	Legacy                 bool
	// KnownScopes lists the scopes the server accepts; nil means BuiltinScopes.
	KnownScopes []string
}

// Store is what this package needs of the store.
type Store interface {
	CreateClient(ctx context.Context, c *store.Client) error
	UpdateClient(ctx context.Context, id string, upd store.ClientUpdate, now time.Time) (*store.Client, error)
}

// Create validates in and stores a new client. For confidential clients it
// returns the secret, which is never available again.
func Create(ctx context.Context, st Store, in CreateInput, now time.Time) (*store.Client, string, error) {
	c, err := build(in, now)
	if err != nil {
		return nil, "", err
	}
	var secret string
	if c.Type == store.ClientConfidential {
		secret = token.NewOpaque(token.PrefixClientSecret)
		c.SecretHash = store.HashToken(secret)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func build(in CreateInput, now time.Time) (*store.Client, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		return nil, &InputError{"name", "el nombre es obligatorio y tiene como máximo 100 caracteres / a name of 1 to 100 characters is required"}
	}
	typ := in.Type
	if typ == "" {
		typ = store.ClientConfidential
	}
	if typ != store.ClientConfidential && typ != store.ClientPublic {
		return nil, &InputError{"type", "el tipo debe ser confidential o public / type must be confidential or public"}
	}
	grants := dedupe(in.Grants)
	if len(grants) == 0 {
		grants = []string{store.GrantAuthorizationCode, store.GrantRefreshToken}
	}
	for _, g := range grants {
		if !slices.Contains(KnownGrants, g) {
			return nil, &InputError{"grant", fmt.Sprintf("tipo de concesión desconocido %q; use uno de %s / unknown grant type", g, strings.Join(KnownGrants, ", "))}
		}
	}
	if typ == store.ClientPublic && slices.Contains(grants, store.GrantClientCredentials) {
		return nil, &InputError{"grant", "un cliente público no puede usar client_credentials / a public client cannot use client_credentials"}
	}
	known := in.KnownScopes
	if known == nil {
		known = BuiltinScopes
	}
	scopes := dedupe(in.Scopes)
	if len(scopes) == 0 {
		scopes = slices.Clone(known)
	}
	for _, s := range scopes {
		if !slices.Contains(known, s) {
			return nil, &InputError{"scope", fmt.Sprintf("alcance desconocido %q; use uno de %s / unknown scope", s, strings.Join(known, ", "))}
		}
	}
	redirects := dedupe(in.RedirectURIs)
	for _, u := range redirects {
		if err := ValidateRedirectURI(u); err != nil {
			return nil, &InputError{"redirect_uri", err.Error()}
		}
	}
	if (slices.Contains(grants, store.GrantAuthorizationCode) || in.Legacy) && len(redirects) == 0 {
		return nil, &InputError{"redirect_uri", "el flujo authorization_code necesita al menos un URI de redirección / authorization_code needs at least one redirect URI"}
	}
	postLogout := dedupe(in.PostLogoutRedirectURIs)
	for _, u := range postLogout {
		if err := ValidateRedirectURI(u); err != nil {
			return nil, &InputError{"post_logout_redirect_uri", err.Error()}
		}
	}
	return &store.Client{
		ID:                     token.NewID(),
		Name:                   name,
		Type:                   typ,
		RedirectURIs:           redirects,
		PostLogoutRedirectURIs: postLogout,
		Grants:                 grants,
		Scopes:                 scopes,
		OwnerID:                in.OwnerID,
		Legacy:                 in.Legacy,
		CreatedAt:              now,
		UpdatedAt:              now,
	}, nil
}

// RotateSecret gives a confidential client a new secret; the old one stops
// working at once (every instance reads the hash from the store).
func RotateSecret(ctx context.Context, st Store, c *store.Client, now time.Time) (string, error) {
	if c.Type != store.ClientConfidential {
		return "", &InputError{"type", "un cliente público no tiene secreto / a public client has no secret"}
	}
	secret := token.NewOpaque(token.PrefixClientSecret)
	if _, err := st.UpdateClient(ctx, c.ID, store.ClientUpdate{SecretHash: store.HashToken(secret)}, now); err != nil {
		return "", err
	}
	return secret, nil
}

// ValidateRedirectURI checks a redirect URI at registration (RFC 6749 §3.1.2,
// RFC 8252 §7): absolute, no fragment; http only for loopback hosts (native
// apps); private-use schemes must contain a period (reverse domain name).
func ValidateRedirectURI(raw string) error {
	if len(raw) > 2000 {
		return fmt.Errorf("URI demasiado largo / URI too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("%q no es un URI absoluto / is not an absolute URI", raw)
	}
	// RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q no puede tener fragmento (#) / must not contain a fragment", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q no puede incluir usuario ni contraseña / must not contain user info", raw)
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%q no tiene host / has no host", raw)
		}
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%q: http solo se admite para 127.0.0.1, [::1] o localhost; use https / http is allowed only for loopback", raw)
		}
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("%q: esquema no permitido / scheme not allowed", raw)
	default:
		// RFC 8252 §7.1: private-use URI schemes in reverse domain name form.
		if !strings.Contains(scheme, ".") {
			return fmt.Errorf("%q: un esquema propio debe contener un punto, por ejemplo com.example.app:/cb / a private-use scheme must contain a period", raw)
		}
	}
	return nil
}

// IsLoopbackHost reports whether host is a loopback IP literal or localhost.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
