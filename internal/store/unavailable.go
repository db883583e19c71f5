package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Unavailable reports whether err says the database cannot be reached or
// cannot serve right now (refused or broken connections, a server shutting
// down or starting up, too many connections, SQLite's busy timeout), as
// opposed to a fault in the request or in openbatch: the operation may
// succeed if retried later, and nothing in the request needs to change.
// Clients are told so (ServerBusy) rather than of an internal error.
//
// It inspects standard error types and the methods drivers' errors carry
// (SQLSTATE through SQLState, SQLite's result code through Code), so that
// this package imports no driver.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		switch s := state.SQLState(); {
		case strings.HasPrefix(s, "08"): // connection exception
			return true
		case s == "57P01", s == "57P02", s == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case s == "53300": // too many connections
			return true
		}
		return false
	}
	var code interface{ Code() int }
	if errors.As(err, &code) {
		switch code.Code() & 0xff { // the primary result code
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	var ne *net.OpError
	return errors.As(err, &ne)
}
