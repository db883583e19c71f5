package conventions

import (
	"errors"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	redactpkg "github.com/openbatch/openbatch/redact"
)

// ErrNotFound is returned (wrapped) when an output, or the job's container,
// does not exist.
var ErrNotFound = errors.New("not found")

// redact replaces secrets in s (SAS signatures, account keys, tokens) by
// "REDACTED", with the shared redactor.
func redact(s string) string { return redactpkg.Text(s) }

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
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound) {
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
