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

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// BuiltinScopes are the scopes every server knows (seeds 000 and 002).
var BuiltinScopes = []string{"openid", "profile", "email", "voucher", "offline_access", oauth.ScopeAccount}

// KnownGrants are the grant types a client may be given.
var KnownGrants = []string{
	store.GrantAuthorizationCode,
	store.GrantRefreshToken,
	store.GrantPassword,
	store.GrantClientCredentials,
	store.GrantDeviceCode,
}

// DeveloperGrants are the grants an application's owner may give it through
// self-service ("Mis Aplicaciones", the auth_clients resource). The password
// and client_credentials grants are for operators only (the command line and
// the admin panel): the password grant hands the client the user's password,
// and client credentials act with no user at all.
var DeveloperGrants = []string{store.GrantAuthorizationCode, store.GrantRefreshToken}

// InputError is a problem with what the caller asked for; its message is
// safe to show and says what to change. Message holds both languages
// ("español / English", for the command line); Spanish and English hold
// each alone, for pages and the API.
type InputError struct {
	Field   string
	Message string
	Spanish string
	English string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

func inputError(field, es, en string) *InputError {
	return &InputError{Field: field, Message: es + " / " + en, Spanish: es, English: en}
}

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
	// FirstParty marks the operator's own application: it may be granted
	// the scope "account" (store.Client.IsFirstParty). Operators only.
	FirstParty bool
	// OfflineAccessRequired: refresh tokens from the authorization-code and
	// device flows only when offline_access was granted (OpenID Connect
	// Core §11); false keeps the Multinexo behaviour (one with every grant).
	OfflineAccessRequired bool
	// KnownScopes lists the scopes the server accepts; nil means BuiltinScopes.
	KnownScopes []string
	// IDTokenAlg signs the client's ID tokens (OIDC Dynamic Client
	// Registration id_token_signed_response_alg): "" for the server default,
	// else one of IDTokenAlgs.
	IDTokenAlg string
	// IDTokenAlgs lists the ID-token algorithms the server signs with
	// (token.KeyManager.IDAlgorithms); nil means DefaultIDTokenAlgs.
	IDTokenAlgs []string
	// SelfService: the owner creates the client for themself ("Mis
	// Aplicaciones"): OwnerID is required, only DeveloperGrants may be given
	// and Legacy (implicit) may not.
	SelfService bool
	// Origin records how the client came to be (store.Origin*).
	Origin string
	// RegistrationHash is stored with the client (RFC 7592 registration
	// access token, dynamic registration only).
	RegistrationHash []byte
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

// MaxNameLength bounds a client's name, in bytes.
const MaxNameLength = 100

func checkName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if name == "" || len(name) > MaxNameLength {
		return "", inputError("name", "el nombre es obligatorio y tiene como máximo 100 caracteres", "a name of 1 to 100 characters is required")
	}
	return name, nil
}

// checkRedirects validates and de-duplicates redirect URIs; a client with
// the authorization_code grant (or the legacy implicit flow) needs one.
func checkRedirects(field string, uris, grants []string, legacy bool) ([]string, error) {
	redirects := dedupe(uris)
	for _, u := range redirects {
		if err := ValidateRedirectURI(u); err != nil {
			ie := err.(*InputError)
			ie.Field = field
			return nil, ie
		}
	}
	if (slices.Contains(grants, store.GrantAuthorizationCode) || legacy) && len(redirects) == 0 {
		return nil, inputError(field, "el flujo authorization_code necesita al menos un URI de redirección", "authorization_code needs at least one redirect URI")
	}
	return redirects, nil
}

func build(in CreateInput, now time.Time) (*store.Client, error) {
	name, err := checkName(in.Name)
	if err != nil {
		return nil, err
	}
	typ := in.Type
	if typ == "" {
		typ = store.ClientConfidential
	}
	if typ != store.ClientConfidential && typ != store.ClientPublic {
		return nil, inputError("type", "el tipo debe ser confidential o public", "type must be confidential or public")
	}
	grants := dedupe(in.Grants)
	if len(grants) == 0 {
		grants = []string{store.GrantAuthorizationCode, store.GrantRefreshToken}
	}
	for _, g := range grants {
		if !slices.Contains(KnownGrants, g) {
			return nil, inputError("grant", fmt.Sprintf("tipo de concesión desconocido %q; usa uno de %s", g, strings.Join(KnownGrants, ", ")),
				fmt.Sprintf("unknown grant type %q; use one of %s", g, strings.Join(KnownGrants, ", ")))
		}
	}
	if in.SelfService {
		if in.OwnerID == "" {
			return nil, inputError("owner", "una aplicación propia necesita su autor", "a self-service application needs its owner")
		}
		for _, g := range grants {
			if !slices.Contains(DeveloperGrants, g) {
				return nil, inputError("grant", fmt.Sprintf("la concesión %q solo la asigna un operador; usa %s", g, strings.Join(DeveloperGrants, " o ")),
					fmt.Sprintf("only an operator can give the grant %q; use %s", g, strings.Join(DeveloperGrants, " or ")))
			}
		}
		if in.Legacy {
			return nil, inputError("legacy", "solo un operador puede habilitar el flujo implícito", "only an operator can enable the implicit flow")
		}
		if in.FirstParty {
			return nil, inputError("first_party", "solo un operador puede marcar una aplicación como de primera parte", "only an operator can mark an application as first party")
		}
	}
	if typ == store.ClientPublic && slices.Contains(grants, store.GrantClientCredentials) {
		return nil, inputError("grant", "un cliente público no puede usar client_credentials", "a public client cannot use client_credentials")
	}
	known := in.KnownScopes
	if known == nil {
		known = BuiltinScopes
	}
	scopes := dedupe(in.Scopes)
	if len(scopes) == 0 {
		// Every known scope but account, which a first-party client has
		// without registering it and a third-party one may never have.
		scopes = slices.DeleteFunc(slices.Clone(known), func(s string) bool { return s == oauth.ScopeAccount })
	}
	firstParty := in.FirstParty || slices.Contains(grants, store.GrantPassword)
	for _, s := range scopes {
		if !slices.Contains(known, s) {
			return nil, inputError("scope", fmt.Sprintf("alcance desconocido %q; usa uno de %s", s, strings.Join(known, ", ")),
				fmt.Sprintf("unknown scope %q; use one of %s", s, strings.Join(known, ", ")))
		}
		if s == oauth.ScopeAccount && !firstParty {
			return nil, inputError("scope", "el alcance account solo se concede a aplicaciones de primera parte: márquela con --first-party (o en el panel de administración)",
				"the scope account is only for first-party applications: mark it with --first-party (or in the admin panel)")
		}
	}
	redirects, err := checkRedirects("redirect_uri", in.RedirectURIs, grants, in.Legacy)
	if err != nil {
		return nil, err
	}
	postLogout, err := checkRedirects("post_logout_redirect_uri", in.PostLogoutRedirectURIs, nil, false)
	if err != nil {
		return nil, err
	}
	idAlg, err := checkIDTokenAlg(in.IDTokenAlg, in.IDTokenAlgs)
	if err != nil {
		return nil, err
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
		FirstParty:             in.FirstParty,
		OfflineAccessRequired:  in.OfflineAccessRequired,
		IDTokenAlg:             idAlg,
		Origin:                 in.Origin,
		RegistrationHash:       in.RegistrationHash,
		CreatedAt:              now,
		UpdatedAt:              now,
	}, nil
}

// DefaultIDTokenAlgs are the ID-token algorithms every server offers: RS256,
// which OIDC Core §15.1 requires, and ES256.
var DefaultIDTokenAlgs = []string{"RS256", "ES256"}

// checkIDTokenAlg accepts "" (the server default) or one of offered.
func checkIDTokenAlg(alg string, offered []string) (string, error) {
	if offered == nil {
		offered = DefaultIDTokenAlgs
	}
	if alg == "" || slices.Contains(offered, alg) {
		return alg, nil
	}
	return "", inputError("id_token_signed_response_alg",
		fmt.Sprintf("algoritmo de ID token no admitido %q; usa uno de %s", alg, strings.Join(offered, ", ")),
		fmt.Sprintf("unsupported ID-token algorithm %q; use one of %s", alg, strings.Join(offered, ", ")))
}

// UpdateInput changes some fields of a client; nil fields are left alone.
type UpdateInput struct {
	Name         *string
	RedirectURIs *[]string
	Disabled     *bool
	// IDTokenAlg: "" returns to the server default; see CreateInput.
	IDTokenAlg  *string
	IDTokenAlgs []string
	// FirstParty marks or unmarks the operator's own application
	// (operators only: the admin panel).
	FirstParty *bool
	// OfflineAccessRequired: see CreateInput.
	OfflineAccessRequired *bool
}

// Update validates in as Create does and changes c in the store. A client
// with the authorization_code grant keeps at least one redirect URI.
func Update(ctx context.Context, st Store, c *store.Client, in UpdateInput, now time.Time) (*store.Client, error) {
	var upd store.ClientUpdate
	if in.Name != nil {
		name, err := checkName(*in.Name)
		if err != nil {
			return nil, err
		}
		upd.Name = &name
	}
	if in.RedirectURIs != nil {
		redirects, err := checkRedirects("redirect_uri", *in.RedirectURIs, c.Grants, c.Legacy)
		if err != nil {
			return nil, err
		}
		if redirects == nil {
			redirects = []string{}
		}
		upd.RedirectURIs = &redirects
	}
	if in.IDTokenAlg != nil {
		alg, err := checkIDTokenAlg(*in.IDTokenAlg, in.IDTokenAlgs)
		if err != nil {
			return nil, err
		}
		upd.IDTokenAlg = &alg
	}
	upd.Disabled = in.Disabled
	upd.FirstParty = in.FirstParty
	upd.OfflineAccessRequired = in.OfflineAccessRequired
	return st.UpdateClient(ctx, c.ID, upd, now)
}

// SplitRedirectURIs splits the redirect URIs of one text field, one per line
// or separated by spaces (Doorkeeper's and Multinexo's "redirect"). A URI
// never contains white space, so nothing is lost.
func SplitRedirectURIs(s string) []string { return strings.Fields(s) }

// RotateSecret gives a confidential client a new secret; the old one stops
// working at once (every instance reads the hash from the store).
func RotateSecret(ctx context.Context, st Store, c *store.Client, now time.Time) (string, error) {
	if c.Type != store.ClientConfidential {
		return "", inputError("type", "un cliente público no tiene secreto de cliente", "a public client has no secret")
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
	bad := func(es, en string) error {
		return inputError("redirect_uri", fmt.Sprintf("%q %s", raw, es), fmt.Sprintf("%q %s", raw, en))
	}
	if len(raw) > 2000 {
		return inputError("redirect_uri", "URI demasiado largo (máximo 2000 caracteres)", "URI too long (at most 2000 characters)")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return bad("no es un URI absoluto", "is not an absolute URI")
	}
	// RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("no puede tener fragmento (#)", "must not contain a fragment (#)")
	}
	if u.User != nil {
		return bad("no puede incluir usuario ni contraseña", "must not contain user info")
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return bad("no tiene host", "has no host")
		}
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return bad("usa http, que solo se admite para 127.0.0.1, [::1] o localhost; usa https", "uses http, which is allowed only for 127.0.0.1, [::1] or localhost; use https")
		}
	case "javascript", "data", "file", "vbscript":
		return bad("usa un esquema no permitido", "uses a scheme that is not allowed")
	default:
		// RFC 8252 §7.1: private-use URI schemes in reverse domain name form.
		if !strings.Contains(scheme, ".") {
			return bad("usa un esquema propio sin punto; usa la forma de dominio invertido, por ejemplo com.example.app:/cb", "uses a private-use scheme without a period; use reverse domain name form, e.g. com.example.app:/cb")
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
