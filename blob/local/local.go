// Package local is the file:// backend of package blob: a "container" is an
// existing directory, file:///abs/dir, and a blob is a file under it whose
// relative path is the blob name ("/" separates directories).
//
// Decisions:
//   - The directory must exist, as an Azure container must: otherwise Put
//     fails with blob.ContainerNotFound.
//   - Writes are atomic: content goes to a temporary file in the target
//     directory, which is then renamed over the blob, replacing it.
//   - Blob properties (content type and the other headers, metadata, access
//     tier, Content-MD5) are kept in a JSON sidecar per blob under the hidden
//     directory .openbatch-blob/ at the container root, so the user's tree
//     stays exactly the uploaded files and Get can return the properties.
//     The sidecar is written before the content is renamed into place.
//   - Blob names cannot escape the directory: names with "." or ".." or
//     empty segments, a leading "/", or the sidecar directory are refused,
//     and all file operations go through os.Root, so symlinks inside the
//     container cannot lead outside it either.
//   - A blob name that needs a directory where a file exists (or the reverse,
//     "a" after "a/b") fails with blob.Conflict: a file system cannot hold
//     both, where Azure's flat namespace can.
package local

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/openbatch/openbatch/blob"
)

// PropsDir is the hidden directory, at the container root, that holds one
// JSON properties file per blob.
const PropsDir = ".openbatch-blob"

// Backend opens file:// containers. The zero value is ready to use.
type Backend struct{}

// New returns a Backend.
func New() *Backend { return &Backend{} }

// Open returns the container for a file:///abs/dir URL. Identity references
// are refused: a local directory has no notion of them.
func (*Backend) Open(_ context.Context, containerURL string, opts blob.OpenOptions) (blob.Container, error) {
	red := blob.Redact(containerURL)
	u, err := url.Parse(containerURL)
	if err != nil || u.Scheme != "file" {
		return nil, &blob.Error{Kind: blob.Misc, Op: "open", Container: red, Err: errors.New("not a file:// URL")}
	}
	if u.Host != "" && u.Host != "localhost" {
		return nil, &blob.Error{Kind: blob.Misc, Op: "open", Container: red, Err: fmt.Errorf("file URL host must be empty or localhost, not %q", u.Host)}
	}
	if !path.IsAbs(u.Path) {
		return nil, &blob.Error{Kind: blob.Misc, Op: "open", Container: red, Err: errors.New("file URL must hold an absolute path (file:///abs/dir)")}
	}
	if opts.IdentityResourceID != "" {
		return nil, &blob.Error{Kind: blob.AccessDenied, Op: "open", Container: red, Err: errors.New("identity references are not supported for file:// destinations")}
	}
	return &dirContainer{dir: path.Clean(u.Path), url: red}, nil
}

type dirContainer struct {
	dir string
	url string
}

func (c *dirContainer) String() string { return c.url }

// props is the sidecar's JSON form.
type props struct {
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	AccessTier         string            `json:"accessTier,omitempty"`
	ContentMD5         []byte            `json:"contentMD5,omitempty"`
	// Append marks a blob made by CreateAppend.
	Append bool `json:"append,omitempty"`
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("invalid blob name %q for a file:// container", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid blob name %q for a file:// container: empty, . or .. segment", name)
		}
	}
	if name == PropsDir || strings.HasPrefix(name, PropsDir+"/") {
		return fmt.Errorf("blob name %q is reserved for properties", name)
	}
	return nil
}

// Put writes the blob atomically (temporary file, then rename).
func (c *dirContainer) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts blob.PutOptions) (blob.PutResult, error) {
	if err := checkName(name); err != nil {
		return blob.PutResult{}, c.fail("put", name, blob.Misc, err)
	}
	if err := ctx.Err(); err != nil {
		return blob.PutResult{}, c.fail("put", name, blob.KindOf(err), err)
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return blob.PutResult{}, c.fail("put", name, rootKind(err), err)
	}
	defer root.Close()

	dir := path.Dir(name)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return blob.PutResult{}, c.fail("put", name, fileKind(err), err)
	}
	tmp, err := tempName(dir, path.Base(name))
	if err != nil {
		return blob.PutResult{}, c.fail("put", name, blob.Misc, err)
	}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return blob.PutResult{}, c.fail("put", name, fileKind(err), err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = root.Remove(tmp)
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: io.NewSectionReader(src, 0, size)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("source shrank during upload: read %d bytes, want %d", n, size)
	}
	if err != nil {
		return blob.PutResult{}, c.fail("put", name, blob.KindOf(err), err)
	}
	digest := h.Sum(nil)
	if opts.ContentMD5 != nil && string(opts.ContentMD5) != string(digest) {
		return blob.PutResult{}, c.fail("put", name, blob.Misc, fmt.Errorf("content MD5 %x does not match the caller's ContentMD5 %x", digest, opts.ContentMD5))
	}
	if err := writeProps(root, name, props{
		ContentType: opts.ContentType, ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage,
		ContentDisposition: opts.ContentDisposition, CacheControl: opts.CacheControl, Metadata: opts.Metadata,
		AccessTier: opts.AccessTier, ContentMD5: digest,
	}); err != nil {
		return blob.PutResult{}, c.fail("put", name, fileKind(err), err)
	}
	if err := root.Rename(tmp, name); err != nil {
		return blob.PutResult{}, c.fail("put", name, fileKind(err), err)
	}
	committed = true
	return blob.PutResult{Size: n, ContentMD5: digest}, nil
}

func writeProps(root *os.Root, name string, p props) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	pname := PropsDir + "/" + name + ".json"
	if err := root.MkdirAll(path.Dir(pname), 0o755); err != nil {
		return err
	}
	tmp, err := tempName(path.Dir(pname), path.Base(pname))
	if err != nil {
		return err
	}
	if err := root.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := root.Rename(tmp, pname); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// Get opens the blob and reads its properties sidecar (absent: no properties).
func (c *dirContainer) Get(_ context.Context, name string) (io.ReadCloser, blob.Properties, error) {
	if err := checkName(name); err != nil {
		return nil, blob.Properties{}, c.fail("get", name, blob.Misc, err)
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return nil, blob.Properties{}, c.fail("get", name, rootKind(err), err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, blob.Properties{}, c.fail("get", name, readKind(err), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Properties{}, c.fail("get", name, blob.Misc, err)
	}
	var p props
	if b, err := root.ReadFile(PropsDir + "/" + name + ".json"); err == nil {
		_ = json.Unmarshal(b, &p)
	}
	return f, blob.Properties{PutOptions: blob.PutOptions{
		ContentType: p.ContentType, ContentEncoding: p.ContentEncoding, ContentLanguage: p.ContentLanguage,
		ContentDisposition: p.ContentDisposition, CacheControl: p.CacheControl, Metadata: p.Metadata,
		AccessTier: p.AccessTier, ContentMD5: p.ContentMD5,
	}, Size: fi.Size(), LastModified: fi.ModTime(), BlobType: blobType(p.Append)}, nil
}

func (c *dirContainer) fail(op, name string, k blob.Kind, err error) error {
	return &blob.Error{Kind: k, Op: op, Container: c.url, Blob: name, Err: err}
}

func rootKind(err error) blob.Kind {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return blob.ContainerNotFound
	case errors.Is(err, fs.ErrPermission):
		return blob.AccessDenied
	}
	return blob.Misc
}

func fileKind(err error) blob.Kind {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return blob.AccessDenied
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR),
		errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTEMPTY):
		return blob.Conflict
	}
	return blob.KindOf(err)
}

func tempName(dir, base string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	if len(base) > 200 { // keep within NAME_MAX (255 bytes)
		base = base[:200]
	}
	return path.Join(dir, "."+base+".tmp-"+hex.EncodeToString(b[:])), nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func blobType(appendBlob bool) string {
	if appendBlob {
		return blob.AppendBlob
	}
	return blob.BlockBlob
}
