package blob

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Kind classifies a storage failure by what the user has to change. The
// outputfiles package maps each Kind to a Batch failure code.
type Kind int

const (
	// Misc is any failure not classified below (FileUploadMiscError).
	Misc Kind = iota
	// ContainerNotFound: the destination container does not exist
	// (FileUploadContainerNotFound).
	ContainerNotFound
	// AccessDenied: the credential is bad, expired or lacks permission
	// (HTTP 401/403; FileUploadAccessDenied).
	AccessDenied
	// Conflict: the service refused the write because of the blob's state,
	// e.g. a lease or an archived blob (HTTP 409; FileUploadConflict).
	Conflict
	// TimedOut: the operation did not finish in time, after retries
	// (FileUploadTimedOut).
	TimedOut
	// BlobNotFound: a read (Get, GetRange, Stat, Delete) named a blob that
	// does not exist. Uploads never report it.
	BlobNotFound
)

// String returns the Kind's name.
func (k Kind) String() string {
	switch k {
	case ContainerNotFound:
		return "ContainerNotFound"
	case AccessDenied:
		return "AccessDenied"
	case Conflict:
		return "Conflict"
	case TimedOut:
		return "TimedOut"
	case BlobNotFound:
		return "BlobNotFound"
	}
	return "Misc"
}

// Sentinel errors, one per Kind, for errors.Is. An *Error matches the
// sentinel of its Kind.
var (
	ErrContainerNotFound = errors.New("blob: container not found")
	ErrAccessDenied      = errors.New("blob: access denied")
	ErrConflict          = errors.New("blob: conflict")
	ErrTimedOut          = errors.New("blob: timed out")
	ErrBlobNotFound      = errors.New("blob: blob not found")
	ErrMisc              = errors.New("blob: storage error")
)

func (k Kind) sentinel() error {
	switch k {
	case ContainerNotFound:
		return ErrContainerNotFound
	case AccessDenied:
		return ErrAccessDenied
	case Conflict:
		return ErrConflict
	case TimedOut:
		return ErrTimedOut
	case BlobNotFound:
		return ErrBlobNotFound
	}
	return ErrMisc
}

// Error is a classified storage error. Its text never contains a SAS
// signature or an account key.
type Error struct {
	// Kind classifies the failure.
	Kind Kind
	// Op is the operation: "open", "put", "get", "stat", "list", "delete",
	// "create", "append".
	Op string
	// Container is the container URL, redacted.
	Container string
	// Blob is the blob name ("" for container-level errors).
	Blob string
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Code is the storage service's error code (x-ms-error-code), e.g.
	// "ContainerNotFound", "AuthenticationFailed"; "" when unknown.
	Code string
	// Transient reports whether retrying the whole operation may succeed.
	Transient bool
	// Retries counts the retries made before giving up.
	Retries int
	// Err is the underlying error.
	Err error
}

// Error describes the failure with its operation, container and blob.
func (e *Error) Error() string {
	msg := "blob " + e.Op
	if e.Container != "" {
		msg += " " + e.Container
	}
	if e.Blob != "" {
		msg += " blob " + fmt.Sprintf("%q", e.Blob)
	}
	msg += ": " + e.Kind.String()
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.StatusCode)
		if e.Code != "" {
			msg += " " + e.Code
		}
		msg += ")"
	} else if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return RedactText(msg)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrAccessDenied) etc. true for an *Error of that Kind.
func (e *Error) Is(target error) bool { return target == e.Kind.sentinel() }

// KindOf classifies any error: the Kind of the first *Error in err's chain;
// TimedOut for deadline errors and network timeouts; Misc otherwise.
func KindOf(err error) Kind {
	var be *Error
	if errors.As(err, &be) {
		return be.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return TimedOut
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return TimedOut
	}
	return Misc
}

// IsTransient reports whether err is worth retrying as a whole: an *Error
// marked Transient, or a timeout that is not the caller's own cancellation.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var be *Error
	if errors.As(err, &be) {
		return be.Transient
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
