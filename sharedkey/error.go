package sharedkey

import (
	"fmt"
	"net/http"
)

// Batch error codes returned by Verify.
const (
	// CodeInvalidAuthenticationInfo (HTTP 400) means the request cannot be
	// authenticated at all: the Authorization header or the date is missing
	// or malformed.
	CodeInvalidAuthenticationInfo = "InvalidAuthenticationInfo"
	// CodeAuthenticationFailed (HTTP 403) means the request was well formed
	// but is not authentic: wrong account, wrong signature or a stale date.
	CodeAuthenticationFailed = "AuthenticationFailed"
)

// Error is an authentication failure, shaped so that an HTTP layer can turn it
// into a Batch error response without interpreting it.
type Error struct {
	// Status is the HTTP status to answer with (400 or 403).
	Status int
	// Code is the Batch error code (CodeInvalidAuthenticationInfo or
	// CodeAuthenticationFailed).
	Code string
	// Message says what is wrong and what to change. It never contains the
	// key, the expected signature or the computed string to sign.
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("sharedkey: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

func invalidInfo(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidAuthenticationInfo, Message: fmt.Sprintf(format, args...)}
}

func authFailed(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeAuthenticationFailed, Message: fmt.Sprintf(format, args...)}
}

// clip shortens an untrusted value before it is quoted in a message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
