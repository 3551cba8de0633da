package provider

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// tokenAudience is the aud of an access token of g: the resource
// indicators granted (RFC 8707 §2: the token is "intended to be used at"
// them), or, for a grant without any, this server's own API.
func (p *Provider) tokenAudience(g *store.Grant) []string {
	if len(g.Resources) > 0 {
		return g.Resources
	}
	return p.audience
}

// identity is an identity claim of an access token for a registered
// resource (RFC 9068 §2.2.1): the resource server (an MCP server showing
// who calls) gets the person's name with profile and email with email. A
// token for this server's own API carries none (its API reads the user).
func identity(u *store.User, g *store.Grant, scope string, value func(*store.User) string) string {
	if u == nil || len(g.Resources) == 0 || !slices.Contains(g.Scopes, scope) {
		return ""
	}
	return value(u)
}

// registeredResources checks that every resource indicator sent names a
// registered resource (RFC 8707 §2: invalid_target for one "unknown") and
// returns the scopes they define.
func (p *Provider) registeredResources(ctx context.Context, uris []string) ([]string, *oauth.Error) {
	var scopes []string
	for _, u := range uris {
		r, err := p.cfg.Store.GetResource(ctx, u)
		if err != nil {
			if isNotFound(err) {
				return nil, oauth.InvalidTarget("resource no registrado en este servidor: " + oauth.DescriptionSafe(u))
			}
			return nil, oauth.ServerError(err)
		}
		for _, s := range r.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return scopes, nil
}

// issued are the tokens minted for one response, before anything is stored.
type issued struct {
	access    string
	expiresIn time.Duration
	idToken   string
}

// accessTTL is the access-token lifetime for client c.
func (p *Provider) accessTTL(c *store.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return p.cfg.AccessTTL
}

// mint signs the access token (and the ID token when openid was granted to a
// user) for grant g. It writes nothing: callers mint first and record the
// grant after, so a failure of either step issues nothing.
func (p *Provider) mint(ctx context.Context, c *store.Client, g *store.Grant, u *store.User, nonce string, now time.Time) (*issued, error) {
	ttl := p.accessTTL(c)
	exp := now.Add(ttl)
	access, err := p.cfg.Keys.MintAccess(ctx, token.AccessClaims{
		Issuer:    p.issuer,
		Subject:   g.UserID, // KeyManager uses the client id when "" (client_credentials)
		ClientID:  c.ID,
		Scope:     oauth.FormatScope(g.Scopes),
		GrantID:   g.ID,
		GrantType: g.GrantType,
		JTI:       token.NewID(),
		Audience:  p.tokenAudience(g),
		IssuedAt:  now,
		ExpiresAt: exp,
		AuthTime:  g.AuthTime,
		Name:      identity(u, g, oauth.ScopeProfile, fullName),
		Email:     identity(u, g, oauth.ScopeEmail, func(u *store.User) string { return u.Email }),
	})
	if err != nil {
		return nil, err
	}
	out := &issued{access: access, expiresIn: ttl}
	if u != nil && slices.Contains(g.Scopes, oauth.ScopeOpenID) {
		out.idToken, err = p.cfg.Keys.MintID(ctx, token.IDClaims{
			Issuer:      p.issuer,
			Subject:     u.ID,
			Audience:    c.ID,
			Alg:         c.IDTokenAlg, // "" the server default
			Nonce:       nonce,
			IssuedAt:    now,
			ExpiresAt:   exp,
			AuthTime:    g.AuthTime,
			AMR:         g.AMR,
			AccessToken: access,
			Extra:       idClaims(u, g.Scopes, g.Claims),
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// IssueImplicit mints the access token of an implicit grant (response_type
// token, only for clients an operator marked legacy: RFC 9700 §2.1.2) and
// records g, which the caller fills with UserID, ClientID, Scopes, Claims
// and AuthTime; the grant ends with the token (no refresh token). Every
// token the server issues is minted by this package: the authorization
// endpoint (package web) asks here. It returns the token and its lifetime.
func (p *Provider) IssueImplicit(ctx context.Context, c *store.Client, g *store.Grant, now time.Time) (string, time.Duration, error) {
	ttl := p.accessTTL(c)
	g.ID, g.GrantType = token.NewID(), store.GrantImplicit
	g.CreatedAt, g.LastUsedAt, g.ExpiresAt = now, now, now.Add(ttl)
	t, err := p.mint(ctx, c, g, nil, "", now) // no user: no ID token (response_type token alone)
	if err != nil {
		return "", 0, err
	}
	if err := p.cfg.Store.IssueGrant(ctx, g, nil); err != nil {
		return "", 0, err
	}
	return t.access, t.expiresIn, nil
}

// idClaims are the user claims of an ID token, by scope (OIDC Core §5.4),
// plus those the grant's claims request asked for in the ID token (§5.5).
func idClaims(u *store.User, scopes []string, claims string) map[string]any {
	m := map[string]any{}
	addRequested(m, u, claims, oauth.ClaimsIDToken)
	if slices.Contains(scopes, oauth.ScopeProfile) {
		m["given_name"] = u.FirstName
		m["family_name"] = u.LastName
		m["name"] = fullName(u)
	}
	if slices.Contains(scopes, oauth.ScopeEmail) {
		m["email"] = u.Email
		m["email_verified"] = u.EmailVerified
	}
	return m
}

// addRequested adds to m the claims of the stored claims request's member
// (oauth.ClaimsIDToken or oauth.ClaimsUserinfo) that u has. The request was
// restricted at the authorization endpoint to claims the client may have
// by scope, and consented to like those scopes.
func addRequested(m map[string]any, u *store.User, claims, member string) {
	for _, name := range oauth.DecodeClaims(claims).Names(member) {
		if name == "sub" {
			continue // always there (a registered ID token claim, set apart)
		}
		if v, ok := userClaim(u, name); ok {
			m[name] = v
		}
	}
}

// userClaim is the value of the standard (or seed 000) claim name for u;
// false when u has none.
func userClaim(u *store.User, name string) (any, bool) {
	switch name {
	case "sub", "uid":
		return u.ID, true
	case "name":
		return fullName(u), true
	case "given_name", "first_name":
		return u.FirstName, true
	case "family_name", "last_name":
		return u.LastName, true
	case "email":
		return u.Email, true
	case "email_verified":
		return u.EmailVerified, true
	case "updated_at":
		if u.UpdatedAt.IsZero() {
			return nil, false
		}
		return u.UpdatedAt.Unix(), true
	}
	return nil, false
}

func fullName(u *store.User) string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// response builds the token response for what was minted. refresh is "" for
// grants without refresh tokens; u is nil for client_credentials.
func response(t *issued, refresh string, scopes []string, u *store.User) *tokenResponse {
	r := &tokenResponse{
		AccessToken:  t.access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(t.expiresIn / time.Second),
		RefreshToken: refresh,
		Scope:        oauth.FormatScope(scopes),
		IDToken:      t.idToken,
	}
	if u != nil {
		// Seed 000: "first_name: Nombre de usuario, last_name: Apellido del
		// usuario, uid: ID del usuario".
		first, last, uid := u.FirstName, u.LastName, u.ID
		r.FirstName, r.LastName, r.UID = &first, &last, &uid
	}
	return r
}

// newRefresh returns a new refresh token and its stored form.
// firstRefresh is the one rule for whether a new grant of type grantType
// gets a refresh token, and makes it:
//
//   - password: always (seed 000: every response carries one, and the
//     client may refresh without being given refresh_token);
//   - authorization_code: always (seed 003: "valid until the user revokes
//     access"), unless the client is registered with
//     OfflineAccessRequired: then only when offline_access was granted
//     (OpenID Connect Core §11);
//   - device_code: when the client was given refresh_token, with the same
//     offline_access condition;
//   - client_credentials: never (RFC 6749 §4.4.3: "A refresh token SHOULD
//     NOT be included.").
//
// scopes are the grant's, or nil when only the store knows them (a code's,
// a device code's): the offline_access condition then travels with the
// token (IfScope) and the store decides inside the redemption; a token it
// did not store comes back with a nil Hash (see sent).
func firstRefresh(c *store.Client, grantType string, scopes []string, now time.Time) (string, *store.RefreshToken) {
	switch grantType {
	case store.GrantPassword:
	case store.GrantAuthorizationCode, store.GrantDeviceCode:
		if grantType == store.GrantDeviceCode && !slices.Contains(c.Grants, store.GrantRefreshToken) {
			return "", nil
		}
		if c.OfflineAccessRequired {
			if scopes != nil && !slices.Contains(scopes, oauth.ScopeOfflineAccess) {
				return "", nil
			}
			raw, rt := newRefresh(scopes, now)
			rt.IfScope = oauth.ScopeOfflineAccess
			return raw, rt
		}
	default:
		return "", nil
	}
	return newRefresh(scopes, now)
}

// sent is the refresh token to send once the store has had its say:
// raw, unless the store did not keep rt (firstRefresh's IfScope).
func sent(raw string, rt *store.RefreshToken) string {
	if rt == nil || rt.Hash == nil {
		return ""
	}
	return raw
}

func newRefresh(scopes []string, now time.Time) (string, *store.RefreshToken) {
	raw := token.NewOpaque(token.PrefixRefresh)
	return raw, &store.RefreshToken{Hash: store.HashToken(raw), Scopes: slices.Clone(scopes), CreatedAt: now}
}

// userUsable loads a grant's user and checks the account may still get
// tokens. nil user and nil error for grants without a user.
func (p *Provider) userUsable(ctx context.Context, userID string) (*store.User, *oauth.Error) {
	if userID == "" {
		return nil, nil
	}
	u, err := p.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		if isNotFound(err) {
			return nil, oauth.InvalidGrant("la cuenta ya no existe o esta deshabilitada")
		}
		return nil, oauth.ServerError(err)
	}
	if u.Disabled {
		return nil, oauth.InvalidGrant("la cuenta ya no existe o esta deshabilitada")
	}
	return u, nil
}
