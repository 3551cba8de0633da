package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/multinexo/auth/internal/store"
)

// pgErr has the method pgconn.PgError has; the real drivers' errors are
// checked by the server's outage tests (connection refused, a connection
// lost mid-query, SQLITE_FULL).
type pgErr string

func (e pgErr) Error() string    { return "pg " + string(e) }
func (e pgErr) SQLState() string { return string(e) }

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{store.ErrNotFound, false},
		{store.ErrReused, false},
		{context.Canceled, false},
		{errors.New("boom"), false},
		{fmt.Errorf("x: %w", store.ErrUnavailable), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("write: %w", syscall.ENOSPC), true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{pgErr("57P01"), true}, // admin_shutdown: the server is restarting
		{pgErr("57P03"), true}, // cannot_connect_now: starting up
		{pgErr("08006"), true}, // connection_failure
		{pgErr("53100"), true}, // disk_full
		{pgErr("55P03"), true}, // lock_not_available (lock_timeout)
		{pgErr("23505"), false},
		{pgErr("40001"), false},
		{pgErr("42P01"), false},
	} {
		if got := store.Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
