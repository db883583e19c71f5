package blob

import (
	"context"
	"io"
)

// UploadState is the progress of one resumable block upload, as a Journal
// keeps it: enough to re-send only what a crashed upload had not staged.
// Backends fill it; callers only store it.
type UploadState struct {
	// Size is the size of the content being uploaded; a state of another
	// size is not resumed from.
	Size int64 `json:"size"`
	// BlockSize is the size of every block but the last.
	BlockSize int64 `json:"blockSize"`
	// Prefix makes the upload's block IDs (the backend's format).
	Prefix string `json:"prefix"`
	// Staged are the blocks known to be staged, by index, with the MD5 of
	// their content: a block is reused only if the source still has the
	// same bytes there.
	Staged map[int][]byte `json:"staged,omitempty"`
}

// Journal keeps the UploadState of one upload across crashes. Save must be
// durable when it returns; Load returns nil (and no error) when there is
// nothing to resume, including when the source is known to have changed
// since the state was saved.
type Journal interface {
	Load() (*UploadState, error)
	Save(*UploadState) error
}

// Resumer is implemented by containers whose large uploads can resume
// (blob/azure, with uncommitted blocks, which the service keeps for a
// week). PutResumable is Put that records its progress in j as blocks are
// staged and, given j's state of an interrupted upload of the same content,
// re-sends only the blocks not staged (or whose bytes differ) and commits.
// The whole-content MD5 is recomputed from the source, so Content-MD5 is
// that of the stored bytes as with Put.
type Resumer interface {
	PutResumable(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions, j Journal) (PutResult, error)
}

// PutResumable uploads as c's PutResumable when c (or a container it
// wraps) can resume, else as c.Put: backends that cannot resume (blob/local,
// whose Put is a rename of a local copy, and blob/s3) start over, which is
// correct, only slower.
func PutResumable(ctx context.Context, c Container, name string, src io.ReaderAt, size int64, opts PutOptions, j Journal) (PutResult, error) {
	if r, ok := c.(Resumer); ok && j != nil {
		return r.PutResumable(ctx, name, src, size, opts, j)
	}
	return c.Put(ctx, name, src, size, opts)
}

// CanResume reports whether uploads to c resume (c, or a container it
// wraps, is a Resumer that is not only a wrapper), for logs.
func CanResume(c Container) bool {
	for c != nil {
		if _, ok := c.(*retrying); !ok {
			if _, ok := c.(Resumer); ok {
				return true
			}
		}
		u, ok := c.(unwrapper)
		if !ok {
			return false
		}
		c = u.Unwrap()
	}
	return false
}
