// Package sqlstore is the one implementation of store.Store shared by the
// SQLite and PostgreSQL backends, written on database/sql.
//
// The SQL is hand-written (no sqlc): the queries are few, and both engines
// accept the same text for all of them except where Dialect says otherwise
// (row locks, case folding, error classification, migrations). Every query
// uses numbered placeholders ($1, $2, …): PostgreSQL requires them and
// modernc.org/sqlite binds them by number, including out of order and
// repeated, so no rebinding is needed. User input never becomes SQL text:
// list fields and sort keys are looked up in fixed allow-lists (anything
// else is store.ErrBadField) and every value is a bound parameter.
//
// Storage conventions, identical on both engines:
//
//   - times are BIGINT unix microseconds; the zero time.Time is stored as 0
//     and read back as the zero time, any other value is read back in UTC;
//   - scopes and grant types are space-separated TEXT, redirect URIs JSON TEXT;
//   - secrets are stored only as hashes (store.HashToken), as BLOB / BYTEA;
//   - a grant without a user (client credentials) has user_id NULL, so the
//     foreign key to users holds.
//
// Every operation that must be atomic is one transaction here. A
// transaction that fails is rolled back, except where the contract requires
// a write to survive an error return (a reused refresh token or a replayed
// authorization code revokes its grant and then reports the error): those
// paths commit first and return the error after the commit succeeded.
//
// The backends (store/sqlite, store/postgres) open the pools, fill a Dialect
// and call New; they also own the migrations that Migrate runs.
package sqlstore
