// Package testenv gives tests the real services they need: a fresh
// PostgreSQL schema per test (MULTINEXO_TEST_POSTGRES), dropped at the end,
// or a loud skip when the variable is absent.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresEnv names the variable holding the test database URL.
const PostgresEnv = "MULTINEXO_TEST_POSTGRES"

// PostgresURL returns the test database URL or skips the test, loudly.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		tb.Skip("MULTINEXO_TEST_POSTGRES not set: PostgreSQL tests SKIPPED " +
			"(e.g. MULTINEXO_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return u
}

// PostgresSchema creates an empty schema s_<random>, drops it (CASCADE)
// when the test ends, and returns a URL whose connections use it as
// search_path.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "s_" + hex.EncodeToString(b)
	// schema is our own [a-z0-9_] string, not input: safe as an identifier.
	if _, err := admin.ExecContext(tb.Context(), `CREATE SCHEMA `+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
