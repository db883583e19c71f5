package conventions

import (
	"errors"
	"net/url"
	"strings"

	"github.com/openbatch/openbatch/blob"
)

// ErrNotFound is returned (wrapped) when an output, or the job's container,
// does not exist.
var ErrNotFound = errors.New("not found")

// secretMarkers are the text markers after which a value is secret: a SAS
// signature, an account key in a connection string, a whole SAS in one.
// Matching is case-insensitive.
var secretMarkers = [...]string{"sig=", "accountkey=", "sharedaccesssignature="}

// redact replaces the values following secret markers in s by "REDACTED".
func redact(s string) string {
	lower := strings.ToLower(s)
	var b strings.Builder
	i := 0
	for i < len(s) {
		next, marker := -1, ""
		for _, m := range secretMarkers {
			if j := strings.Index(lower[i:], m); j >= 0 && (next < 0 || i+j < next) {
				next, marker = i+j, m
			}
		}
		if next < 0 {
			b.WriteString(s[i:])
			break
		}
		end := next + len(marker)
		b.WriteString(s[i:end])
		stop := end
		for stop < len(s) && !strings.ContainsRune("&; \t\r\n\"'<>", rune(s[stop])) {
			stop++
		}
		if stop > end {
			b.WriteString("REDACTED")
		}
		i = stop
	}
	return b.String()
}

// sanitizedError hides SAS signatures and keys in the message of an error
// from the storage SDK or net/http (whose *url.Error carries the full URL),
// while keeping the error chain for errors.Is and errors.As.
type sanitizedError struct{ err error }

func (e *sanitizedError) Error() string { return redact(e.err.Error()) }
func (e *sanitizedError) Unwrap() error { return e.err }

// sanitize wraps err so that its message never shows a secret. It maps
// storage 404s to also match [ErrNotFound].
func sanitize(err error) error {
	if err == nil {
		return nil
	}
	var se *sanitizedError
	if errors.As(err, &se) {
		return err
	}
	if k := blob.KindOf(err); k == blob.BlobNotFound || k == blob.ContainerNotFound {
		return &notFoundError{sanitizedError{err}}
	}
	return &sanitizedError{err}
}

// notFoundError is a sanitized storage error that also matches ErrNotFound.
type notFoundError struct{ sanitizedError }

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// RedactURL returns u without its query string (where a SAS lives), for
// messages and logs. Unparseable input yields "<invalid URL>".
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<invalid URL>"
	}
	p.RawQuery, p.Fragment, p.User = "", "", nil
	return p.String()
}
