package provider

import (
	"net/url"
	"strings"
	"testing"
)

// TestOneClientAuthentication: the token, device, revocation and
// introspection endpoints authenticate clients through one step
// (authenticate), so a credential problem gets the same answer at each.
func TestOneClientAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{PathToken, PathDevice, PathRevoke, PathIntrospect} {
		t.Run(strings.TrimPrefix(path, "/auth/v1/"), func(t *testing.T) {
			body := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}}
			r := e.form(path, body, "Authorization", basic(e.cc.id, "not the secret"))
			wantOAuthError(t, r, 401, "invalid_client")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("no Basic challenge: %v", r.header)
			}
			both := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}, "client_secret": {e.cc.secret}}
			wantOAuthError(t, e.form(path, both, "Authorization", basic(e.cc.id, e.cc.secret)), 400, "invalid_request")
			unknown := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}, "client_id": {"nobody"}, "client_secret": {"s"}}
			// Without Basic, RFC 6749 §5.2 lets invalid_client be a 400.
			wantOAuthError(t, e.form(path, unknown), 400, "invalid_client")
		})
	}
}
