package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// ErrUnavailable marks a failure of the database itself rather than of the
// request: it is down, restarting, unreachable, out of disk, or the store is
// closing. Backends may wrap it; Unavailable recognises it and the drivers'
// own errors of that kind.
var ErrUnavailable = errors.New("store: temporarily unavailable")

// UnavailableRetry is the Retry-After sent with a 503 caused by an
// unavailable store: about how long a PostgreSQL restart or a fail-over
// takes. Clients and load balancers back off that long instead of
// hammering a database that is coming back.
const UnavailableRetry = 5 * time.Second

// Unavailable reports whether err means the database cannot serve now (a
// dependency that is down: the answer is 503 with Retry-After, not 500).
// It is the one place such failures are classified; the HTTP layers
// (OAuth, JSON:API, pages) all ask it.
//
//   - ErrUnavailable, and database/sql's lost-connection errors;
//   - network failures reaching the database: connection refused or reset,
//     a broken pipe, any *net.OpError (dial, read or write), a connection
//     that ends mid-answer (io.ErrUnexpectedEOF: the server went away);
//   - PostgreSQL SQLSTATEs of class 08 (connection exception), 53
//     (insufficient resources: disk full, out of memory, too many
//     connections), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
//     cannot_connect_now (starting up or shutting down), 55P03
//     lock_not_available (our lock_timeout expired);
//   - SQLite result codes (primary code, low byte) SQLITE_BUSY (5),
//     SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_FULL (13, "database or
//     disk is full") and SQLITE_CANTOPEN (14);
//   - the OS saying the disk is full (ENOSPC) or failing I/O (EIO).
//
// The drivers' error types are matched by their methods (SQLState() string
// is pgconn.PgError's, Code() int modernc.org/sqlite's Error's) so this
// package does not import the drivers; the backends' tests check it against
// their real errors.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		s := pg.SQLState()
		return strings.HasPrefix(s, "08") || strings.HasPrefix(s, "53") ||
			s == "57P01" || s == "57P02" || s == "57P03" || s == "55P03"
	}
	var lite interface {
		error
		Code() int
	}
	if errors.As(err, &lite) && strings.Contains(fmt.Sprintf("%T", lite), "sqlite") {
		switch lite.Code() & 0xff {
		case 5, 6, 10, 13, 14:
			return true
		}
	}
	return false
}
