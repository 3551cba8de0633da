package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// tokenRequest is a token request that passed the pipeline's checks.
type tokenRequest struct {
	params    oauth.Params
	grantType string
	client    *store.Client
	// requested is the scope parameter as sent (nil when absent); scopes is
	// what the scope policy allows: requested, or the client's default set.
	requested []string
	scopes    []string
	// resources are the RFC 8707 resource indicators sent, each registered
	// (nil: none sent).
	resources []string
	ip        string
	now       time.Time
}

// grantHandler runs one grant type. It returns the response to send, or the
// error; on error nothing may have been issued.
type grantHandler func(ctx context.Context, req *tokenRequest) (*tokenResponse, *oauth.Error)

// tokenResponse is RFC 6749 §5.1 plus seed 000's user fields and OIDC's
// id_token.
type tokenResponse struct {
	AccessToken  string  `json:"access_token"`
	TokenType    string  `json:"token_type"`
	ExpiresIn    int64   `json:"expires_in"`
	RefreshToken string  `json:"refresh_token,omitempty"`
	Scope        string  `json:"scope,omitempty"`
	IDToken      string  `json:"id_token,omitempty"`
	FirstName    *string `json:"first_name,omitempty"`
	LastName     *string `json:"last_name,omitempty"`
	UID          *string `json:"uid,omitempty"`
}

// handleToken is the token endpoint (RFC 6749 §3.2). The pipeline is the
// same for every grant, and no grant can skip a step:
//
//	parse → authenticate the client → grant allowed for the client →
//	scope policy → the grant's handler.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	var (
		gt        string
		handler   grantHandler
		requested []string
		resources []string
	)
	cr, ok := p.authenticate(w, &r, func(params oauth.Params) *oauth.Error {
		gt = params.Get("grant_type")
		if gt == "" {
			return oauth.InvalidRequest("falta grant_type")
		}
		var known bool
		if handler, known = p.grants[gt]; !known {
			return oauth.UnsupportedGrantType("grant_type no admitido")
		}
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
	if _, oerr := p.registeredResources(r.Context(), resources); oerr != nil {
		p.fail(w, r, oerr, cr.basic)
		return
	}
	if !grantAllowed(cr.client, gt) {
		p.fail(w, r, oauth.UnauthorizedClient("este cliente no puede usar grant_type "+gt), cr.basic)
		return
	}
	scopes, oerr := oauth.ClientScope(requested, cr.client.Scopes, cr.client.IsFirstParty())
	if oerr != nil {
		p.fail(w, r, oerr, cr.basic)
		return
	}
	resp, oerr := handler(r.Context(), &tokenRequest{
		params:    cr.params,
		grantType: gt,
		client:    cr.client,
		requested: requested,
		scopes:    scopes,
		resources: resources,
		ip:        cr.ip,
		now:       p.now(),
	})
	if oerr != nil {
		p.fail(w, r, oerr, cr.basic)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// issuesRefresh lists the grants that may issue refresh tokens (whether one
// does is firstRefresh's rule). A client given one of them may use those
// refresh tokens even if refresh_token is not in its list: seed 000's
// clients are given the password grant, get a refresh token with every
// response (as django-oauth-toolkit does), and must be able to use it.
var issuesRefresh = []string{store.GrantPassword, store.GrantAuthorizationCode, store.GrantDeviceCode}

// grantAllowed reports whether client may use grant type gt (RFC 6749 §5.2
// unauthorized_client: "The authenticated client is not authorized to use
// this authorization grant type."). client_credentials is for confidential
// clients only (RFC 6749 §4.4: "The client credentials grant type MUST only
// be used by confidential clients.").
func grantAllowed(c *store.Client, gt string) bool {
	switch {
	case gt == store.GrantClientCredentials && c.Type != store.ClientConfidential:
		return false
	case slices.Contains(c.Grants, gt):
		return true
	case gt == store.GrantRefreshToken:
		return slices.ContainsFunc(c.Grants, func(g string) bool { return slices.Contains(issuesRefresh, g) })
	}
	return false
}

// writeJSON writes v as a protocol response that must never be cached (RFC
// 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control"
// response header field with a value of "no-store" in any response containing
// tokens, credentials, or other sensitive information, as well as the
// "Pragma" response header field with a value of "no-cache".").
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		oauth.WriteTokenError(w, oauth.ServerError(err), false)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeBody writes v as JSON with status 200, leaving cache headers to the
// caller (public metadata may be cached).
func writeBody(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		oauth.WriteTokenError(w, oauth.ServerError(err), false)
		return
	}
	_, _ = w.Write(append(b, '\n'))
}
