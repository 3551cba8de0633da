package bench_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/bench"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
)

// start runs the real server (server.New on SQLite) on a loopback port and
// creates a confidential client for the bench.
func start(t *testing.T) (target, id, secret string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(t.Context(), server.Config{
		Global: config.Global{DB: "sqlite:" + filepath.Join(t.TempDir(), "b.db"), Secret: strings.Repeat("s3cr3t-", 6), LogLevel: "error"},
		Serve:  config.Serve{Issuer: issuer, AccessTTL: 900 * time.Second, AccessAlg: "ES256", IDAlg: "RS256"},
		Log:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	c, secret, err := clients.Create(t.Context(), srv.Store, clients.CreateInput{
		Name: "bench", Type: store.ClientConfidential,
		Grants: []string{store.GrantClientCredentials, store.GrantPassword, store.GrantRefreshToken},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.CreateResource(t.Context(), &store.Resource{URI: benchResource, Name: "bench"}); err != nil {
		t.Fatal(err)
	}
	return issuer, c.ID, secret
}

const benchResource = "https://api.example/bench"

// TestRun runs every API scenario briefly against a real server: each one
// makes requests without errors, the results are reported, and the run ends
// (the bound checked is a generous one on termination, not a speed).
func TestRun(t *testing.T) {
	target, id, secret := start(t)
	var progress bytes.Buffer
	scenarios := []string{bench.ScenarioClientCredentials, bench.ScenarioClientCredentialsResource, bench.ScenarioRefresh, bench.ScenarioIntrospect,
		bench.ScenarioUserinfo, bench.ScenarioUsersMe}
	t0 := time.Now()
	res, err := bench.Run(t.Context(), bench.Config{
		Target: target, Scenarios: scenarios, Duration: 300 * time.Millisecond, Concurrency: 4,
		ClientID: id, ClientSecret: secret, Progress: &progress, ProgressEvery: 100 * time.Millisecond,
		Resource: benchResource,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > time.Minute {
		t.Errorf("run took %s: not bounded by its duration", took)
	}
	if len(res) != len(scenarios) {
		t.Fatalf("%d results, want %d", len(res), len(scenarios))
	}
	for i, r := range res {
		if r.Scenario != scenarios[i] {
			t.Errorf("result %d is %q, want %q", i, r.Scenario, scenarios[i])
		}
		if r.Requests == 0 || r.Errors != 0 || r.RPS <= 0 || r.Max < r.P50 {
			t.Errorf("%s: %+v", r.Scenario, r)
		}
	}
	if !strings.Contains(progress.String(), "requests") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	var table, js bytes.Buffer
	if err := bench.WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(scenarios, "requests/s", "p99") {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
	if err := bench.WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	var back []bench.Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back) != len(res) {
		t.Fatalf("JSON output: %v\n%s", err, js.String())
	}
}

// TestMaxRequests: the hard cap ends a run long before its duration.
func TestMaxRequests(t *testing.T) {
	target, id, secret := start(t)
	res, err := bench.Run(t.Context(), bench.Config{
		Target: target, Scenarios: []string{bench.ScenarioClientCredentials}, Duration: time.Hour,
		Concurrency: 3, MaxRequests: 30, ClientID: id, ClientSecret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Requests != 30 || res[0].Errors != 0 {
		t.Fatalf("%+v", res[0])
	}
}

// TestPassword: the argon2-bound scenario (slow under the race detector, so
// bounded by a request cap rather than a short duration).
func TestPassword(t *testing.T) {
	target, id, secret := start(t)
	res, err := bench.Run(t.Context(), bench.Config{
		Target: target, Scenarios: []string{bench.ScenarioPassword}, Duration: time.Minute,
		Concurrency: 2, MaxRequests: 4, ClientID: id, ClientSecret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Requests != 4 || res[0].Errors != 0 {
		t.Fatalf("%+v", res[0])
	}
}

// startWithPages is start with a client that may also use the
// authorization-code grant (the server serves the login and consent pages).
func startWithPages(t *testing.T) (target, id, secret, redirect string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(t.Context(), server.Config{
		Global: config.Global{DB: "sqlite:" + filepath.Join(t.TempDir(), "b.db"), Secret: strings.Repeat("s3cr3t-", 6), LogLevel: "error"},
		Serve:  config.Serve{Issuer: issuer, AccessTTL: 900 * time.Second, AccessAlg: "ES256", IDAlg: "RS256"},
		Log:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	redirect = "http://127.0.0.1/bench-callback"
	c, secret, err := clients.Create(t.Context(), srv.Store, clients.CreateInput{
		Name: "bench", Type: store.ClientConfidential, RedirectURIs: []string{redirect},
		Grants: []string{store.GrantAuthorizationCode, store.GrantPassword, store.GrantRefreshToken, store.GrantClientCredentials},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return issuer, c.ID, secret, redirect
}

// TestAuthorizationCode runs the browser-less authorization-code flow
// against the real server: log in, consent once, then authorize → code →
// token per iteration.
func TestAuthorizationCode(t *testing.T) {
	issuer, id, secret, redirect := startWithPages(t)
	res, err := bench.Run(t.Context(), bench.Config{
		Target: issuer, Scenarios: []string{bench.ScenarioAuthorizationCode}, Duration: time.Minute, MaxRequests: 20,
		Concurrency: 2, ClientID: id, ClientSecret: secret, RedirectURI: redirect,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Requests != 20 || res[0].Errors != 0 {
		t.Fatalf("%+v", res[0])
	}
}

// TestSetupFailureStops: a worker whose setup fails reports it once and
// stops, instead of failing in a loop until the run ends.
func TestSetupFailureStops(t *testing.T) {
	target, id, _ := start(t)
	res, err := bench.Run(t.Context(), bench.Config{
		Target: target, Scenarios: []string{bench.ScenarioRefresh}, Duration: 200 * time.Millisecond,
		Concurrency: 3, ClientID: id, ClientSecret: "wrong secret", Username: "nobody@example.com", Password: "whatever password",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Requests != 3 || res[0].Errors != 3 {
		t.Fatalf("%+v", res[0])
	}
}

// TestBadConfig: unknown scenarios and missing clients are refused before
// any load.
func TestBadConfig(t *testing.T) {
	if _, err := bench.Run(t.Context(), bench.Config{Scenarios: []string{"nope"}, ClientID: "a", ClientSecret: "b"}); err == nil {
		t.Error("unknown scenario accepted")
	}
	if _, err := bench.Run(t.Context(), bench.Config{}); err == nil {
		t.Error("missing client accepted")
	}
}
