package passkey_test

import (
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/passkey"
)

// TestRelyingParty: the relying party is the issuer's host and origin;
// issuers browsers refuse as a relying party are refused with the reason.
func TestRelyingParty(t *testing.T) {
	for _, tc := range []struct {
		issuer, rpID, origin, why string
	}{
		{"https://auth.example.com", "auth.example.com", "https://auth.example.com", ""},
		{"https://Auth.Example.com:8443/tenant/a", "auth.example.com", "https://auth.example.com:8443", ""},
		{"http://localhost:8080", "localhost", "http://localhost:8080", ""},
		{"http://id.localhost:9000", "id.localhost", "http://id.localhost:9000", ""},
		{"http://127.0.0.1:8080", "", "", "IP address"},
		{"https://[::1]:8443", "", "", "IP address"},
		{"https://10.0.0.5", "", "", "IP address"},
		{"http://auth.example.com", "", "", "plain http"},
		{"auth.example.com", "", "", "not an http(s) URL"},
	} {
		rpID, origin, err := passkey.RelyingParty(tc.issuer)
		switch {
		case tc.why == "" && (err != nil || rpID != tc.rpID || origin != tc.origin):
			t.Errorf("%s: %q %q %v; want %q %q", tc.issuer, rpID, origin, err, tc.rpID, tc.origin)
		case tc.why != "" && (err == nil || !strings.Contains(err.Error(), tc.why)):
			t.Errorf("%s: error %v; want one saying %q", tc.issuer, err, tc.why)
		}
	}
}

// TestDescribe: known authenticator models are named; zero and unknown
// AAGUIDs are not.
func TestDescribe(t *testing.T) {
	gpm := []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
	if got := passkey.Describe(gpm, "es"); got != "Google Password Manager" {
		t.Errorf("Google Password Manager: %q", got)
	}
	if got := passkey.Describe(make([]byte, 16), "es"); got != "" {
		t.Errorf("zero AAGUID: %q", got)
	}
	if got := passkey.Describe([]byte{1, 2, 3}, "en"); got != "" {
		t.Errorf("short AAGUID: %q", got)
	}
	if passkey.DefaultName("en") != "Passkey" || passkey.DefaultName("es") != "Llave de acceso" {
		t.Error("default names")
	}
}

// TestNilServiceIsOff: a nil service (passkeys off) answers ErrUnavailable.
func TestNilServiceIsOff(t *testing.T) {
	var s *passkey.Service
	if s.Available() || s.RPID() != "" {
		t.Error("a nil service is available")
	}
	if _, err := s.BeginLogin(t.Context(), []byte("b"), false); err != passkey.ErrUnavailable {
		t.Errorf("BeginLogin: %v", err)
	}
	if list, err := s.List(t.Context(), "u"); list != nil || err != nil {
		t.Errorf("List: %v %v", list, err)
	}
}
