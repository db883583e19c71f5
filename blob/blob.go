// Package blob is the destination side of output-file persistence: a small
// interface to a blob container, a URL-based multiplexer that picks a backend
// by scheme, a retry wrapper, and an error classification that callers map to
// Batch failure codes.
//
// Backends live in sub-packages (blob/azure, blob/local) and know nothing of
// each other, as rclone's backends do. A Container value is bound to one
// container URL and one set of credentials and is immutable, so one task's
// credentials can never be used for another task's uploads (the Funnel rule).
package blob

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"
)

// Container is one destination blob container, opened with its credentials.
// Implementations are safe for concurrent use.
type Container interface {
	// Put stores exactly size bytes read from src (starting at offset 0) as the
	// blob name, replacing any existing blob of that name. The content is read
	// once, sequentially; the returned ContentMD5 is the MD5 of the bytes that
	// were sent. If src holds fewer than size bytes Put fails and no blob is
	// written. Blob names use "/" as the virtual-directory separator.
	Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions) (PutResult, error)
	// Get opens the blob name for reading, with its properties. It needs read
	// permission, which an upload-only credential may not have; uploads never
	// call it.
	Get(ctx context.Context, name string) (io.ReadCloser, Properties, error)
	// GetRange opens count bytes of the blob name starting at offset (count
	// < 0: up to the end), with the properties of the whole blob (Size is the
	// whole blob's size). A range starting at or past the end yields no bytes.
	// Needs read permission.
	GetRange(ctx context.Context, name string, offset, count int64) (io.ReadCloser, Properties, error)
	// Stat returns the properties of the blob name without its content. A
	// missing blob is an *Error of Kind BlobNotFound (or ContainerNotFound
	// when the container is missing and the backend can tell).
	Stat(ctx context.Context, name string) (Properties, error)
	// List yields the blobs whose names start with prefix ("" = all), in
	// ascending order of name, one page at a time as the backend pages. It
	// needs list permission. Iteration stops at the first error, which is
	// yielded with a zero Item.
	List(ctx context.Context, prefix string) iter.Seq2[Item, error]
	// Delete removes the blob name. A missing blob is BlobNotFound.
	Delete(ctx context.Context, name string) error
	// String returns the container URL with secrets redacted, for logs.
	String() string
}

// Item is one blob of a listing.
type Item struct {
	// Name is the full blob name in the container.
	Name         string
	Size         int64
	LastModified time.Time
	// ContentMD5 is the blob's Content-MD5 property, nil when unset or when
	// the backend does not list it.
	ContentMD5 []byte
}

// Creator is implemented by containers whose backend can create the
// container itself (blob/azure with an account key or a SAS that allows it,
// blob/local). Create succeeds when the container already exists. Callers
// that only upload never need it: Batch expects the container to exist.
type Creator interface {
	Create(ctx context.Context) error
}

// Appender is implemented by containers that support append blobs (Azure).
// It is what tracked saves (conventions.TrackedSave) use to grow a blob
// while a file is written, without re-sending bytes already stored.
type Appender interface {
	// CreateAppend creates an empty append blob name with opts' properties.
	// It fails with Conflict when the blob already exists, so two writers
	// never both create it.
	CreateAppend(ctx context.Context, name string, opts PutOptions) error
	// AppendAt appends data to the append blob name only if its current
	// length is at; otherwise it fails with Kind Conflict and Code
	// "AppendPositionConditionNotMet". This makes a retried append
	// idempotent: bytes already appended are never appended twice.
	AppendAt(ctx context.Context, name string, at int64, data []byte) error
}

// Opener opens a Container from its URL. Implementations are immutable and
// safe for concurrent use.
type Opener interface {
	// Open returns the container at containerURL. It does no I/O beyond
	// preparing credentials: a missing container or a bad credential is
	// reported by the first Put, classified by Kind.
	Open(ctx context.Context, containerURL string, opts OpenOptions) (Container, error)
}

// OpenerFunc adapts a function to the Opener interface.
type OpenerFunc func(ctx context.Context, containerURL string, opts OpenOptions) (Container, error)

// Open calls f.
func (f OpenerFunc) Open(ctx context.Context, containerURL string, opts OpenOptions) (Container, error) {
	return f(ctx, containerURL, opts)
}

// OpenOptions carry what, beyond the URL, selects a container's credentials.
type OpenOptions struct {
	// IdentityResourceID is the Batch identityReference.resourceId (an ARM
	// resource ID of a user-assigned managed identity). Empty means: use the
	// credentials in the URL (a SAS), if any. Backends that have no notion of
	// identity reject a non-empty value.
	IdentityResourceID string
}

// PutOptions are the blob's HTTP properties and metadata, as the Put Blob
// operation defines them. Zero values mean "not set".
type PutOptions struct {
	ContentType        string
	ContentEncoding    string
	ContentLanguage    string
	ContentDisposition string
	CacheControl       string
	// Metadata becomes x-ms-meta-{name}: {value}. Names are C# identifiers.
	Metadata map[string]string
	// AccessTier is Hot, Cool, Cold or Archive ("" = the account default).
	AccessTier string
	// ContentMD5, when set, is the MD5 of the whole content as the caller
	// knows it; the backend sends it for verification instead of the MD5 it
	// computes. When nil, the backend computes the MD5 while reading.
	ContentMD5 []byte
}

// PutResult describes a finished upload.
type PutResult struct {
	// Size is the number of bytes stored.
	Size int64
	// ContentMD5 is the MD5 of the stored content, set as the blob's
	// Content-MD5 property.
	ContentMD5 []byte
	// Blocks is the number of blocks staged (0 for a single-request upload).
	Blocks int
	// Retries counts the requests that were retried (by the backend's own
	// request-level policy and by WithRetry), for logging.
	Retries int
	// Reused is the number of blocks a resumed upload (Resumer) found
	// already staged and did not send again.
	Reused int
}

// Properties are a stored blob's properties, as Get returns them.
type Properties struct {
	PutOptions
	Size         int64
	LastModified time.Time
	// BlobType is "BlockBlob" or "AppendBlob" (Azure's names); backends
	// without append blobs report "BlockBlob".
	BlobType string
	// CommittedBlocks is the number of blocks of an append blob (0 when
	// unknown or not an append blob).
	CommittedBlocks int
}

// Blob types, as Properties.BlobType reports them.
const (
	BlockBlob  = "BlockBlob"
	AppendBlob = "AppendBlob"
)

// Mux is an Opener that delegates to a backend chosen by the URL's scheme
// (e.g. "https" and "http" to blob/azure, "file" to blob/local). A Mux is
// immutable after NewMux.
type Mux struct {
	schemes map[string]Opener
}

// NewMux returns a Mux over the given scheme → Opener table. Scheme names are
// case-insensitive.
func NewMux(schemes map[string]Opener) *Mux {
	m := &Mux{schemes: make(map[string]Opener, len(schemes))}
	for s, o := range schemes {
		m.schemes[strings.ToLower(s)] = o
	}
	return m
}

// Open opens containerURL with the backend registered for its scheme.
func (m *Mux) Open(ctx context.Context, containerURL string, opts OpenOptions) (Container, error) {
	u, err := url.Parse(containerURL)
	if err != nil {
		return nil, &Error{Kind: Misc, Op: "open", Container: Redact(containerURL),
			Err: fmt.Errorf("invalid container URL: %s", RedactText(err.Error()))}
	}
	o, ok := m.schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return nil, &Error{Kind: Misc, Op: "open", Container: Redact(containerURL),
			Err: fmt.Errorf("no storage backend for URL scheme %q", u.Scheme)}
	}
	return o.Open(ctx, containerURL, opts)
}

// Supports reports whether the Mux has a backend for scheme.
func (m *Mux) Supports(scheme string) bool {
	_, ok := m.schemes[strings.ToLower(scheme)]
	return ok
}
