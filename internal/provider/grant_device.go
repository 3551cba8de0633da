package provider

import (
	"context"
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Error codes of RFC 8628 §3.5, answered with status 400 like RFC 6749
// §5.2's.
const (
	codeAuthorizationPending = "authorization_pending"
	codeSlowDown             = "slow_down"
	codeExpiredToken         = "expired_token"
)

func deviceError(code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// grantDeviceCode is the device access token request (RFC 8628 §3.4–3.5).
// The store records the poll and, when the person has approved, marks the
// code used and records the grant in one transaction, so of concurrent
// polls exactly one gets the tokens. The checks that need the user come
// after, and a failure revokes the grant just written before answering.
func (p *Provider) grantDeviceCode(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error) {
	dc := req.params.Get("device_code")
	if dc == "" {
		return nil, oauth.InvalidRequest("falta device_code")
	}
	invalid := func() *oauth.Error {
		return oauth.InvalidGrant("device_code invalido o ya usado")
	}
	if !token.HasOpaqueForm(dc, token.PrefixDevice) {
		return nil, invalid()
	}

	now := req.now
	g := &store.Grant{
		ID:         token.NewID(),
		ClientID:   req.client.ID, // the store refuses (and leaves alone) another client's code
		GrantType:  store.GrantDeviceCode,
		CreatedAt:  now,
		LastUsedAt: now,
	}
	refresh, rt := firstRefresh(req.client, store.GrantDeviceCode, nil, now) // the store copies the code's scopes
	d, err := p.cfg.Store.PollDeviceCode(ctx, store.HashToken(dc), now, g, rt)
	switch {
	case err == nil:
	case isNotFound(err), errors.Is(err, store.ErrAlreadyUsed):
		return nil, invalid().WithCause(err)
	case errors.Is(err, store.ErrExpired):
		// RFC 8628 §3.5 expired_token: "The "device_code" has expired, and
		// the device authorization session has concluded."
		return nil, deviceError(codeExpiredToken, "device_code caducado; inicia una nueva autorizacion").WithCause(err)
	default:
		return nil, oauth.ServerError(err)
	}

	switch d.Status {
	case store.DevicePending:
		// RFC 8628 §3.5 slow_down: "A variant of "authorization_pending",
		// the authorization request is still pending and polling should
		// continue, but the interval MUST be increased by 5 seconds for this
		// and all subsequent requests." The store has raised it.
		if d.PolledTooSoon(now) {
			return nil, deviceError(codeSlowDown, "consultas demasiado seguidas; espera 5 segundos mas entre consultas")
		}
		return nil, deviceError(codeAuthorizationPending, "la autorizacion sigue pendiente")
	case store.DeviceDenied:
		// RFC 8628 §3.5 access_denied: "The authorization request was
		// denied."
		return nil, deviceError(oauth.CodeAccessDenied, "el usuario denego el acceso")
	case store.DeviceApproved:
	default:
		return nil, oauth.ServerError(errors.New("provider: device code in unknown state " + d.Status))
	}

	revoke := func(e *oauth.Error) (*tokenResponse, *oauth.Error) {
		if err := p.cfg.Store.RevokeGrant(ctx, g.ID, now); err != nil {
			return nil, oauth.ServerError(errors.Join(err, e))
		}
		return nil, e
	}
	aud, oerr := oauth.NarrowResources(req.resources, g.Resources)
	if oerr != nil {
		return revoke(oerr)
	}
	u, oerr := p.userUsable(ctx, g.UserID)
	if oerr != nil {
		return revoke(oerr)
	}
	minted := *g
	minted.Resources = aud
	t, err := p.mint(ctx, req.client, &minted, u, "", now)
	if err != nil {
		return revoke(oauth.ServerError(err))
	}
	return response(t, sent(refresh, rt), g.Scopes, u), nil
}
