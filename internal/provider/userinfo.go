package provider

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
)

// handleUserinfo is the OIDC UserInfo endpoint (OIDC Core §5.3): the claims
// the access token's scopes allow (§5.4) — sub always; profile: given_name,
// family_name, name, updated_at; email: email, email_verified — plus
// seed 000's first_name, last_name (with profile) and uid; plus the claims
// the grant's claims request (Core §5.5) asked for in the userinfo member.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	acc, err := p.VerifyBearer(r)
	if err != nil {
		p.bearerFail(w, r, err)
		return
	}
	// OIDC Core §5.3: the access token is one "obtained from an OpenID
	// Connect Authentication Request"; without openid it is not.
	if !acc.HasScope(oauth.ScopeOpenID) {
		p.bearerFail(w, r, oauth.ErrInsufficientScope(oauth.ScopeOpenID))
		return
	}
	if acc.UserID == "" {
		p.bearerFail(w, r, &oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "el token no representa a un usuario"})
		return
	}
	u, err := p.cfg.Store.GetUser(r.Context(), acc.UserID)
	if err != nil || u.Disabled {
		if err == nil || isNotFound(err) {
			p.bearerFail(w, r, &oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "la cuenta ya no existe o esta deshabilitada"})
			return
		}
		p.bearerFail(w, r, err)
		return
	}
	claims := map[string]any{"sub": u.ID, "uid": u.ID}
	if acc.HasScope(oauth.ScopeProfile) {
		claims["given_name"] = u.FirstName
		claims["family_name"] = u.LastName
		claims["name"] = fullName(u)
		claims["first_name"] = u.FirstName
		claims["last_name"] = u.LastName
		if !u.UpdatedAt.IsZero() {
			claims["updated_at"] = u.UpdatedAt.Unix()
		}
	}
	if acc.HasScope(oauth.ScopeEmail) {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	// OIDC Core §5.5: the claims the authorization request's claims
	// parameter asked for in the UserInfo response, kept on the grant.
	// The liveness cache read the grant when the token was verified; its
	// claims request never changes, so it saves a store read here.
	requested, cached := "", false
	if p.liveCache != nil {
		requested, cached = p.liveCache.grantClaims(acc.GrantID)
	}
	if !cached {
		g, err := p.cfg.Store.GetGrant(r.Context(), acc.GrantID)
		if err != nil {
			if isNotFound(err) {
				p.bearerFail(w, r, invalidToken("el token de acceso fue revocado", err))
				return
			}
			p.bearerFail(w, r, err)
			return
		}
		requested = g.Claims
	}
	addRequested(claims, u, requested, oauth.ClaimsUserinfo)
	writeJSON(w, http.StatusOK, claims)
}

// bearerFail answers a resource request whose token failed (RFC 6750 §3):
// the WWW-Authenticate challenge and a JSON body with the same code. A
// failure that is not a token problem is a 500 showing nothing.
func (p *Provider) bearerFail(w http.ResponseWriter, r *http.Request, err error) {
	var be *oauth.BearerError
	if !errors.As(err, &be) {
		if e := oauth.ServerError(err); e.Status == http.StatusServiceUnavailable {
			p.fail(w, r, e, false) // the database is down: 503, Retry-After
			return
		}
		httpx.LogError(p.log, r, http.StatusInternalServerError, err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": oauth.CodeServerError})
		return
	}
	httpx.LogError(p.log, r, be.Status, err)
	oauth.WriteBearerChallenge(w, oauth.BasicRealm, be)
	status := be.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	body := map[string]string{}
	if be.Code != "" {
		body["error"] = be.Code
		if be.Description != "" {
			body["error_description"] = oauth.DescriptionSafe(be.Description)
		}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
