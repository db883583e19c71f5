package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

// sqlStateError has the SQLState method of pgx's *pgconn.PgError.
type sqlStateError string

func (e sqlStateError) Error() string    { return "SQLSTATE " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

// codeError has the Code method of modernc.org/sqlite's *Error.
type codeError int

func (e codeError) Error() string { return fmt.Sprintf("sqlite code %d", int(e)) }
func (e codeError) Code() int     { return int(e) }

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", ErrNotFound, false},
		{"cancelled by the client", fmt.Errorf("get job: %w", context.Canceled), false},
		{"connection refused", fmt.Errorf("get job: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"connection reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"connection closed mid-answer", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"admin shutdown", fmt.Errorf("x: %w", sqlStateError("57P01")), true},
		{"cannot connect now", sqlStateError("57P03"), true},
		{"connection failure", sqlStateError("08006"), true},
		{"too many connections", sqlStateError("53300"), true},
		{"unique violation", sqlStateError("23505"), false},
		{"serialization failure", sqlStateError("40001"), false},
		{"SQLITE_BUSY", codeError(5), true},
		{"SQLITE_BUSY_SNAPSHOT (extended)", codeError(5 | 2<<8), true},
		{"SQLITE_CONSTRAINT", codeError(19), false},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unavailable(tc.err); got != tc.want {
				t.Fatalf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
