//go:build !unix

package sqlite

import "context"

// lockFile is a no-op where flock is unavailable: run one migrating process
// per database file there.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
