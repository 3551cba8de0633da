package provider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestErrorsSayWhatHappened (issue 14): a reused refresh token says that
// reuse was detected and the login ended; an expired access token says it
// expired, a garbage one does not; an unknown scope says it does not exist,
// distinct from a scope the client may not use. Descriptions stay ASCII
// (RFC 6749 §5.2).
func TestErrorsSayWhatHappened(t *testing.T) {
	e := newEnv(t)
	login := e.passwordLogin(e.pw, "openid")
	rt1, at := login.str("refresh_token"), login.str("access_token")
	if r := e.refresh(e.pw, rt1, ""); r.status != 200 {
		t.Fatalf("refresh: %s", r.raw)
	}
	r := e.refresh(e.pw, rt1, "")
	wantOAuthError(t, r, 400, "invalid_grant")
	if d := r.str("error_description"); !strings.Contains(d, "reutilizacion") || !strings.Contains(d, "inicia sesion de nuevo") {
		t.Errorf("reuse: error_description %q does not say reuse was detected and the login ended", d)
	}
	// An unknown token is still the plain answer.
	if d := e.refresh(e.pw, "mnx_rt_unknown0123456789012345678901234567890123", "").str("error_description"); strings.Contains(d, "reutilizacion") {
		t.Errorf("unknown refresh token described as reused: %q", d)
	}

	// Expired vs garbage, at userinfo: WWW-Authenticate and the JSON body.
	fresh := e.passwordLogin(e.pw, "openid").str("access_token")
	e.clk.Advance(16 * time.Minute)
	for _, c := range []struct {
		tok     string
		expired bool
	}{{fresh, true}, {at, true}, {"garbage.not.ajwt", false}} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+c.tok)
		r := e.do(req)
		challenge := r.header.Get("WWW-Authenticate")
		if r.status != 401 || !strings.Contains(challenge, `error="invalid_token"`) || r.str("error") != "invalid_token" {
			t.Fatalf("userinfo with %.10q: %d %q %s", c.tok, r.status, challenge, r.raw)
		}
		says := strings.Contains(challenge, "caducado") && strings.Contains(r.str("error_description"), "caducado")
		if says != c.expired {
			t.Errorf("token %.10q (expired %v): WWW-Authenticate %q, body %s", c.tok, c.expired, challenge, r.raw)
		}
	}

	// Unknown scope vs a scope this client may not use (e.cc has voucher only).
	cc := func(scope string) *resp {
		return e.form(PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, "Authorization", basic(e.cc.id, e.cc.secret))
	}
	unknown := cc("vouchers")
	wantOAuthError(t, unknown, 400, "invalid_scope")
	notAllowed := cc("email")
	wantOAuthError(t, notAllowed, 400, "invalid_scope")
	if d := unknown.str("error_description"); !strings.Contains(d, "vouchers no existe") {
		t.Errorf("unknown scope: %q", d)
	}
	if d := notAllowed.str("error_description"); !strings.Contains(d, "email no esta permitido para este cliente") {
		t.Errorf("scope not allowed: %q", d)
	}
}
