package server_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/server"
)

// TestPasskeysIssuerMismatch: with --passkeys on, an issuer browsers do not
// accept as a passkey's relying party stops the server from starting, with
// the reason; auto serves without passkeys, off does not check.
func TestPasskeysIssuerMismatch(t *testing.T) {
	build := func(issuer, mode string) error {
		cfg := server.Config{
			Global: config.Global{Secret: strings.Repeat("s3cr3t-", 6), LogLevel: "info", DB: newDB(t, "sqlite")},
			Serve:  config.Serve{Issuer: issuer, AccessTTL: 900 * time.Second, AccessAlg: "ES256", IDAlg: "RS256", Passkeys: mode},
			Log:    slog.New(slog.DiscardHandler),
		}
		srv, err := server.New(context.Background(), cfg)
		if err == nil {
			srv.Close()
		}
		return err
	}
	for _, tc := range []struct{ issuer, why string }{
		{"http://127.0.0.1:8080", "IP address"},
		{"http://auth.example.com", "plain http"},
	} {
		if err := build(tc.issuer, "on"); err == nil || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "--passkeys off") {
			t.Errorf("%s with passkeys on: %v; want a refusal saying %q and how to turn them off", tc.issuer, err, tc.why)
		}
		for _, mode := range []string{"auto", "off", ""} {
			if err := build(tc.issuer, mode); err != nil {
				t.Errorf("%s with passkeys %q: %v", tc.issuer, mode, err)
			}
		}
	}
	if err := build("https://auth.example.com", "on"); err != nil {
		t.Errorf("https issuer with passkeys on: %v", err)
	}
}
