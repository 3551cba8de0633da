package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// The device authorization grant (RFC 8628): a device without a browser or
// keyboard (a TV, a command line) asks here for a device code and a user
// code, shows the person the user code and the verification page, and polls
// the token endpoint (grant_device.go) while the person approves on the page
// (internal/web, /activate).

// PathActivate is the verification page (RFC 8628 §3.2 verification_uri),
// relative to the issuer; internal/web serves it.
const PathActivate = "/activate"

const (
	// DeviceCodeTTL is the lifetime of a device authorization (expires_in).
	DeviceCodeTTL = 600 * time.Second
	// DeviceInterval is the minimum time between two polls (interval).
	DeviceInterval = 5 * time.Second
)

// deviceResponse is RFC 8628 §3.2's device authorization response.
type deviceResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// registerDevice serves the device grant (RFC 8628).
func (p *Provider) registerDevice() {
	p.register(store.GrantDeviceCode, p.grantDeviceCode)
}

// mountDevice registers the device authorization endpoint. Like the token
// endpoint it uses no cookies, so any origin may call it.
func (p *Provider) mountDevice(rs *httpx.Routes) {
	if _, ok := p.grants[store.GrantDeviceCode]; !ok {
		return
	}
	rs.Protocol("POST "+PathDevice, p.protocol(p.handleDevice))
}

// handleDevice is the device authorization endpoint (RFC 8628 §3.1–3.2).
// The client is authenticated as at the token endpoint (RFC 8628 §3.1: "the
// client must authenticate with the authorization server as described in
// Section 3.2.1 of [RFC6749]" when it is confidential), must have been
// given the device grant, and the scope policy is the token endpoint's.
// Errors are RFC 6749 §5.2's (RFC 8628 §3.2).
func (p *Provider) handleDevice(w http.ResponseWriter, r *http.Request) {
	var requested, resources []string
	cr, ok := p.authenticate(w, &r, func(params oauth.Params) *oauth.Error {
		var oerr *oauth.Error
		if requested, oerr = oauth.ParseScope(params.Get("scope")); oerr != nil {
			return oerr
		}
		resources, oerr = oauth.ParseResources(params.Resources())
		return oerr
	})
	if !ok {
		return
	}
	// As at the authorization endpoint, the device may ask for the scopes
	// its resources define: the person sees the resources on /activate.
	resScopes, oerr := p.registeredResources(r.Context(), resources)
	if oerr != nil {
		p.fail(w, r, oerr, cr.basic)
		return
	}
	if !grantAllowed(cr.client, store.GrantDeviceCode) {
		p.fail(w, r, oauth.UnauthorizedClient("este cliente no puede usar el flujo de dispositivo"), cr.basic)
		return
	}
	scopes, oerr := oauth.ClientScope(requested, append(slices.Clone(cr.client.Scopes), resScopes...), cr.client.IsFirstParty())
	if oerr != nil {
		p.fail(w, r, oerr, cr.basic)
		return
	}
	resp, err := p.newDeviceCode(r.Context(), cr.client, scopes, resources, p.now())
	if err != nil {
		p.fail(w, r, oauth.ServerError(err), cr.basic)
		return
	}
	// RFC 8628 §3.2 responds as RFC 6749 §5.1 does: no-store.
	writeJSON(w, http.StatusOK, resp)
}

// newDeviceCode stores a new device authorization and returns the response
// that hands out its codes. A user code already in use (a 1 in 2^34 draw per
// live code) is drawn again.
func (p *Provider) newDeviceCode(ctx context.Context, client *store.Client, scopes, resources []string, now time.Time) (*deviceResponse, error) {
	var err error
	for range 4 {
		dc := token.NewOpaque(token.PrefixDevice)
		uc := oauth.NewUserCode()
		err = p.cfg.Store.CreateDeviceCode(ctx, &store.DeviceCode{
			DeviceHash:   store.HashToken(dc),
			UserCodeHash: store.HashToken(uc),
			ClientID:     client.ID,
			Scopes:       scopes,
			Resources:    resources,
			Status:       store.DevicePending,
			CreatedAt:    now,
			ExpiresAt:    now.Add(DeviceCodeTTL),
			Interval:     DeviceInterval,
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		shown := oauth.FormatUserCode(uc)
		return &deviceResponse{
			DeviceCode:      dc,
			UserCode:        shown,
			VerificationURI: p.url(PathActivate),
			// RFC 8628 §3.3.1: the complete URI saves typing, but the page
			// still shows the code and asks the person to confirm it (§5.4).
			VerificationURIComplete: p.url(PathActivate) + "?" + url.Values{"user_code": {shown}}.Encode(),
			ExpiresIn:               int64(DeviceCodeTTL / time.Second),
			Interval:                int64(DeviceInterval / time.Second),
		}, nil
	}
	return nil, err
}
