package oauth

import (
	"strings"
	"testing"
)

// TestClientScopeUnknownVsNotAllowed: both are invalid_scope (RFC 6749
// §5.2), but a scope that does not exist says so, apart from one the
// client may not use.
func TestClientScopeUnknownVsNotAllowed(t *testing.T) {
	registered := []string{"openid", "voucher", "reports:read"}
	for _, c := range []struct {
		req        []string
		firstParty bool
		want       string // "" : granted
	}{
		{[]string{"openid", "voucher"}, false, ""},
		{[]string{"reports:read"}, false, ""}, // registered for the client: exists
		{[]string{"openid", "vouchers"}, false, "el alcance vouchers no existe"},
		{[]string{"emial"}, true, "el alcance emial no existe"},
		{[]string{"email"}, false, "el alcance email no esta permitido para este cliente"},
		{[]string{"offline_access"}, false, "el alcance offline_access no esta permitido"},
		{[]string{"account"}, false, "solo se concede a aplicaciones de primera parte"},
		{[]string{"account"}, true, ""},
	} {
		_, err := ClientScope(c.req, registered, c.firstParty)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.req, err)
		case c.want != "" && (err == nil || err.Code != CodeInvalidScope || !strings.Contains(err.Description, c.want)):
			t.Errorf("%v: %v; want invalid_scope %q", c.req, err, c.want)
		}
	}
}
