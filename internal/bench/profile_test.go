package bench_test

import (
	"os"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/bench"
)

// TestProfile runs one scenario against an in-process server for profiling
// the server and the load generator together:
//
//	MULTINEXO_BENCH_PROFILE=refresh go test -run TestProfile -cpuprofile cpu.out ./internal/bench
//	go tool pprof -top -cum cpu.out
//
// Skipped unless MULTINEXO_BENCH_PROFILE names a scenario.
func TestProfile(t *testing.T) {
	sc := os.Getenv("MULTINEXO_BENCH_PROFILE")
	if sc == "" {
		t.Skip("set MULTINEXO_BENCH_PROFILE to a scenario name")
	}
	target, id, secret, redirect := startWithPages(t)
	d := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("MULTINEXO_BENCH_DURATION")); err == nil {
		d = v
	}
	res, err := bench.Run(t.Context(), bench.Config{
		Target: target, Scenarios: []string{sc}, Duration: d, Warmup: time.Second,
		ClientID: id, ClientSecret: secret, RedirectURI: redirect, Scope: os.Getenv("MULTINEXO_BENCH_SCOPE"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bench.WriteTable(os.Stdout, res); err != nil {
		t.Fatal(err)
	}
}
