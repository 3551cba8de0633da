package provider

import (
	"context"
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// grantPassword is the resource owner password credentials grant (RFC 6749
// §4.3), seed 000's login: username (the email), password, scope. Only
// clients given the grant reach it (the pipeline checks). The response
// carries a refresh token and the user's names (seed 000).
func (p *Provider) grantPassword(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error) {
	username, password := req.params.Get("username"), req.params.Get("password")
	if username == "" || password == "" {
		return nil, oauth.InvalidRequest("faltan username o password")
	}
	var u *store.User
	var err error
	if oa, ok := p.cfg.Accounts.(otpAccounts); ok {
		// The second factor, for accounts that have one: otp (or totp, as
		// Keycloak's direct grant names it).
		otp := req.params.Get("otp")
		if otp == "" {
			otp = req.params.Get("totp")
		}
		u, err = oa.AuthenticateOTP(ctx, username, password, otp, req.ip)
	} else {
		u, err = p.cfg.Accounts.Authenticate(ctx, username, password, req.ip)
	}
	if err != nil {
		return nil, passwordError(err)
	}
	if u.Disabled { // Authenticate already refuses these; belt and braces
		return nil, oauth.InvalidGrant("credenciales inválidas")
	}

	now := req.now
	g := &store.Grant{
		ID:         token.NewID(),
		UserID:     u.ID,
		ClientID:   req.client.ID,
		GrantType:  store.GrantPassword,
		Scopes:     req.scopes,
		Resources:  req.resources,
		AuthTime:   now,
		AMR:        passwordAMR(u),
		CreatedAt:  now,
		LastUsedAt: now,
	}
	t, err := p.mint(ctx, req.client, g, u, "", now)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	refresh, rt := firstRefresh(req.client, store.GrantPassword, g.Scopes, now)
	if err := p.cfg.Store.IssueGrant(ctx, g, rt); err != nil {
		return nil, oauth.ServerError(err)
	}
	return response(t, refresh, g.Scopes, u), nil
}

// otpAccounts is the password grant's login with a second factor;
// *account.Service implements it. Without it an account with a second
// factor cannot use the password grant (Authenticate refuses it).
type otpAccounts interface {
	AuthenticateOTP(ctx context.Context, email, password, otp, ip string) (*store.User, error)
}

// passwordError maps the account service's errors.
//
// Wrong password, unknown user and disabled user are one invalid_grant (the
// account service spends the same argon2 work on each, so neither the answer
// nor its timing tells them apart).
//
// Too many failures: RFC 6749 has no code for it. We answer 429 Too Many
// Requests with Retry-After and the code invalid_grant. The status makes
// generic HTTP clients and proxies back off for the time given; the code
// stays within §5.2's list, so OAuth libraries (golang.org/x/oauth2 surfaces
// it as RetrieveError.ErrorCode) treat it as "these credentials do not work
// now" rather than as a server fault to retry at once. slow_down (RFC 8628)
// belongs to device-code polling and would confuse them.
//
// A full password-hash queue is the server's problem, not the user's: 503
// temporarily_unavailable with Retry-After.
//
// An account with a second factor and no otp parameter: invalid_grant
// saying what to send (no token is issued, and the description reveals
// only that the password was right, which the client already knew). A
// wrong or already used code: invalid_grant, counted as a failed login.
func passwordError(err error) *oauth.Error {
	var th *account.ThrottledError
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		return oauth.InvalidGrant("credenciales inválidas").WithCause(err)
	case errors.Is(err, account.ErrSecondFactorRequired):
		return oauth.InvalidGrant("se requiere el segundo factor: repita la solicitud con el código de la aplicación de autenticación (o un código de recuperación) en el parámetro otp").WithCause(err)
	case errors.Is(err, account.ErrEmailNotVerified):
		// serve --require-verified-email: the password was right (so this
		// tells the client nothing it did not know), the address is not
		// proven yet.
		return oauth.InvalidGrant("email address not verified: open the link we mailed to it; " +
			"to get a new link, sign in on the login page of this server, which sends one").WithCause(err)
	case errors.Is(err, account.ErrInvalidCode):
		return oauth.InvalidGrant("código del segundo factor incorrecto o ya usado").WithCause(err)
	case errors.As(err, &th):
		e := oauth.InvalidGrant("demasiados intentos fallidos; reintenta más tarde").WithCause(err)
		e.Status = http.StatusTooManyRequests
		e.RetryAfter = th.RetryAfter
		return e
	case errors.Is(err, account.ErrBusy):
		return oauth.TemporarilyUnavailable(retryBusy).WithCause(err)
	}
	return oauth.ServerError(err)
}

// passwordAMR is how a password-grant sign-in authenticated (RFC 8176):
// the password, and the one-time code with it when the account has one
// (AuthenticateOTP refused the request otherwise).
func passwordAMR(u *store.User) []string {
	if u.HasTOTP() {
		return []string{"pwd", "otp", "mfa"}
	}
	return []string{"pwd"}
}
