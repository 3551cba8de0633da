package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// retryBusy is the Retry-After of a 503 when the password-hash queue is full.
const retryBusy = 2 * time.Second

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// ErrNotLive is returned by a Liveness when the grant may not be used: it was
// revoked or has expired, or its user was disabled or deleted.
var ErrNotLive = errors.New("provider: grant not live")

// Liveness decides whether the grant an access token names may still be
// used. It is the one store round trip of the bearer hot path, so it is the
// place for a cache — which must be invalidated on every change (PostgreSQL
// LISTEN/NOTIFY, a version check): a revoked grant must never keep working
// for a TTL.
type Liveness interface {
	// Live returns nil when grant grantID is live at now and its user (if
	// any) exists and is enabled, an error wrapping ErrNotLive when not, and
	// any other error when it cannot tell.
	Live(ctx context.Context, grantID string, now time.Time) error
}

// storeLiveness reads the grant and its user from the store on every call.
type storeLiveness struct{ st Store }

func (l storeLiveness) Live(ctx context.Context, grantID string, now time.Time) error {
	_, _, err := l.check(ctx, grantID, now)
	return err
}

// check is Live, also returning the grant and its user when they were found.
func (l storeLiveness) check(ctx context.Context, grantID string, now time.Time) (*store.Grant, *store.User, error) {
	g, err := l.st.GetGrant(ctx, grantID)
	if isNotFound(err) {
		return nil, nil, fmt.Errorf("%w: grant %s not found", ErrNotLive, grantID)
	}
	if err != nil {
		return nil, nil, err
	}
	if !g.Live(now) {
		return g, nil, fmt.Errorf("%w: grant %s revoked or expired", ErrNotLive, grantID)
	}
	if g.UserID == "" {
		return g, nil, nil
	}
	// Disabling or deleting a user revokes its grants in the store too; the
	// check here also covers a user disabled by a plain update.
	u, err := l.st.GetUser(ctx, g.UserID)
	if isNotFound(err) {
		return g, nil, fmt.Errorf("%w: user of grant %s not found", ErrNotLive, grantID)
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return g, u, fmt.Errorf("%w: user of grant %s disabled", ErrNotLive, grantID)
	}
	return g, u, nil
}

func isNotLive(err error) bool { return errors.Is(err, ErrNotLive) }

// VerifyBearer implements oauth.BearerVerifier (RFC 6750): the access token
// from "Authorization: Bearer" or the access_token parameter, a valid
// signature by our access-token key, our issuer and audience, not expired,
// and its grant still live. Token problems are *oauth.BearerError; a store
// failure is returned as a plain error (the caller answers 500, not 401:
// a database hiccup must not look like a logout).
func (p *Provider) VerifyBearer(r *http.Request) (*oauth.Access, error) {
	raw, berr := bearerToken(r)
	if berr != nil {
		return nil, berr
	}
	ctx := r.Context()
	claims, err := p.cfg.Keys.VerifyAccess(ctx, raw, p.issuer, p.audience)
	if err != nil {
		// The signature, issuer and audience are checked before the
		// expiry, so "caducado" is only said of a token that is ours.
		if errors.Is(err, token.ErrExpired) {
			return nil, invalidToken("el token de acceso ha caducado; obtenga uno nuevo con el refresh token o iniciando sesion", err)
		}
		if errors.Is(err, token.ErrInvalidToken) {
			return nil, invalidToken("el token de acceso no es valido", err)
		}
		return nil, err
	}
	if claims.GrantID == "" {
		return nil, invalidToken("el token de acceso no nombra su concesion", nil)
	}
	if err := p.live.Live(ctx, claims.GrantID, p.now()); err != nil {
		if errors.Is(err, ErrNotLive) {
			return nil, invalidToken("el token de acceso fue revocado", err)
		}
		return nil, err
	}
	return accessOf(claims), nil
}

func accessOf(c *token.AccessClaims) *oauth.Access {
	a := &oauth.Access{
		ClientID:  c.ClientID,
		GrantID:   c.GrantID,
		JTI:       c.JTI,
		ExpiresAt: c.ExpiresAt,
	}
	if c.GrantType != store.GrantClientCredentials {
		a.UserID = c.Subject
	}
	a.Scopes, _ = oauth.ParseScope(c.Scope)
	return a
}

// bearerError wraps a BearerError with its cause for the log; errors.As still
// finds the BearerError.
type bearerError struct {
	*oauth.BearerError
	cause error
}

func (e *bearerError) Unwrap() []error { return []error{e.BearerError, e.cause} }

func invalidToken(desc string, cause error) error {
	be := &oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: desc}
	if cause == nil {
		return be
	}
	return &bearerError{be, cause}
}

// bearerToken extracts the access token. RFC 6750 §2: "Clients MUST NOT use
// more than one method to transmit the token in each request." — two
// methods (or the parameter twice) is invalid_request. RFC 6750 §3.1: "If the
// request lacks any authentication information [...], the resource server
// SHOULD NOT include an error code or other error information."
func bearerToken(r *http.Request) (string, *oauth.BearerError) {
	var found []string
	for _, h := range r.Header.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		if strings.EqualFold(scheme, "Bearer") {
			found = append(found, strings.TrimSpace(rest))
		}
	}
	// RFC 6750 §2.3 (URI query parameter), allowed by the seeds.
	if r.URL.RawQuery != "" {
		found = append(found, r.URL.Query()["access_token"]...)
	}
	// RFC 6750 §2.2 (form-encoded body): only for a form body on a method
	// with body semantics.
	if r.Method != http.MethodGet && r.Method != http.MethodHead && httpx.MediaType(r) == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err != nil {
			return "", &oauth.BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "cuerpo mal formado"}
		}
		found = append(found, r.PostForm["access_token"]...)
	}
	switch {
	case len(found) == 0:
		return "", &oauth.BearerError{Status: http.StatusUnauthorized}
	case len(found) > 1:
		return "", &oauth.BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "el token de acceso se envio por mas de un metodo"}
	case found[0] == "":
		return "", &oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "token de acceso vacio"}
	}
	return found[0], nil
}
