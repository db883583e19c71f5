package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/openbatch/openbatch/blob"
)

// smallAlloc is the size up to which a single-request upload allocates its
// own buffer instead of taking one from the shared pool, so that many tiny
// files do not queue behind large ones.
const smallAlloc = 256 << 10

// bufferPool hands out at most n block buffers, allocated on first use.
// An upload that takes buffers brackets its use with begin and end; when the
// last one ends, the pool drops its buffers. Kept for ever, 64 MiB of idle
// buffers would stay live heap, and with GOGC=100 the Go heap of an agent
// then grows to twice that before each collection: the heap of an agent
// uploading 10,000 small files after a large one swung between 70 and
// 145 MB (GODEBUG=gctrace=1), and between 9 and 19 MB with the buffers
// dropped. Reallocating them when the next large upload starts costs one
// allocation per buffer.
type bufferPool struct {
	size   int64
	tokens chan []byte

	mu    sync.Mutex
	users int
}

// begin registers an upload that will take buffers.
func (p *bufferPool) begin() {
	p.mu.Lock()
	p.users++
	p.mu.Unlock()
}

// end ends an upload that called begin, after it has put back every buffer
// it took; the last one to end drops the pool's buffers.
func (p *bufferPool) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users--; p.users > 0 {
		return
	}
	for range cap(p.tokens) {
		select {
		case <-p.tokens:
			p.tokens <- nil
		default: // never blocks, even if a buffer were missing
			return
		}
	}
}

func newBufferPool(n int, size int64) *bufferPool {
	p := &bufferPool{size: size, tokens: make(chan []byte, max(n, 1))}
	for range cap(p.tokens) {
		p.tokens <- nil
	}
	return p
}

// get waits for a buffer of at least n bytes. A file so large that its
// blocks exceed the pool's size (over MaxBlocks·BlockSize) gets a bigger
// buffer in place of the pooled one, still one per token.
func (p *bufferPool) get(ctx context.Context, n int64) ([]byte, error) {
	select {
	case b := <-p.tokens:
		if int64(cap(b)) < n {
			b = make([]byte, max(n, p.size))
		}
		return b[:n], nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (p *bufferPool) put(b []byte) {
	if int64(cap(b)) > p.size {
		b = nil // do not keep outsized buffers
	}
	p.tokens <- b
}

// Put uploads size bytes of src as block blob name, replacing any existing
// blob. Up to SinglePutMax bytes go in one Put Blob request; larger content
// is read once, sequentially, into pooled buffers; each block is hashed in
// order by one goroutine while up to BlockConcurrency Put Block requests
// stage blocks in parallel (see pipeBlocks), and the blocks are committed
// with Put Block List. The MD5 of the content is computed from the same bytes
// that are sent and set as the blob's Content-MD5 (x-ms-blob-content-md5); a
// single Put Blob also sends it as Content-MD5 so the service verifies the
// body.
func (c *azContainer) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts blob.PutOptions) (blob.PutResult, error) {
	return c.PutResumable(ctx, name, src, size, opts, nil)
}

// PutResumable implements blob.Resumer: Put whose block uploads record
// their progress in j (nil: none). With j, each block's MD5 is sent with its
// Put Block (the service verifies it) and saved in j once the block is
// staged; that costs one more MD5 pass over the content, in the parallel
// block goroutines.
// Resuming from j's state, blocks still staged (Get Block List, when the
// credential may read it; else j's word) whose bytes have the recorded MD5
// are not sent again. If the commit then finds a reused block gone (400
// InvalidBlockList: the uncommitted blocks were discarded, e.g. by another
// commit of the blob or after a week), the upload starts over once without
// reuse. A content of up to SinglePutMax bytes is one Put Blob request,
// which needs no journal.
func (c *azContainer) PutResumable(ctx context.Context, name string, src io.ReaderAt, size int64, opts blob.PutOptions, j blob.Journal) (blob.PutResult, error) {
	st := &retryStats{}
	ctx = context.WithValue(ctx, statsKey{}, st)
	bb := c.cc.NewBlockBlobClient(name)
	var (
		res blob.PutResult
		err error
	)
	if size <= c.b.opts.SinglePutMax {
		res, err = c.putSingle(ctx, bb, src, size, opts)
	} else {
		res, err = c.putBlocks(ctx, bb, src, size, opts, j, true)
		if err != nil && res.Reused > 0 && bloberror.HasCode(err, bloberror.InvalidBlockList) {
			c.b.opts.Logger.Info("resumed upload found staged blocks gone; starting over", "container", c.url, "blob", name)
			res, err = c.putBlocks(ctx, bb, src, size, opts, j, false)
		}
	}
	res.Retries = int(st.retries.Load())
	if err != nil {
		return res, c.classify("put", name, err, res.Retries)
	}
	return res, nil
}

func (c *azContainer) putSingle(ctx context.Context, bb *blockblob.Client, src io.ReaderAt, size int64, opts blob.PutOptions) (blob.PutResult, error) {
	var buf []byte
	if size <= smallAlloc {
		buf = make([]byte, size)
	} else {
		c.b.pool.begin()
		defer c.b.pool.end()
		b, err := c.b.pool.get(ctx, size)
		if err != nil {
			return blob.PutResult{}, err
		}
		defer c.b.pool.put(b)
		buf = b
	}
	if _, err := readFull(src, 0, buf); err != nil {
		return blob.PutResult{}, err
	}
	sum := md5.Sum(buf)
	digest, err := checkMD5(opts.ContentMD5, sum[:])
	if err != nil {
		return blob.PutResult{}, err
	}
	_, err = bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(buf)), &blockblob.UploadOptions{
		HTTPHeaders:             headers(opts, digest),
		Metadata:                metadata(opts),
		Tier:                    tier(opts),
		TransactionalValidation: azblobblob.TransferValidationTypeMD5(digest),
	})
	if err != nil {
		return blob.PutResult{}, err
	}
	return blob.PutResult{Size: size, ContentMD5: digest}, nil
}

// blockSizeFor is the block size of a content of size bytes: the
// configured one, grown for files that would need over MaxBlocks blocks.
func (c *azContainer) blockSizeFor(size int64) int64 {
	blockSize := c.b.opts.BlockSize
	if (size+blockSize-1)/blockSize > MaxBlocks {
		const mib = 1 << 20
		blockSize = ((size+MaxBlocks-1)/MaxBlocks + mib - 1) / mib * mib
	}
	return blockSize
}

// uploadState returns the state to upload with: j's, when resume is set
// and it describes an upload of this size whose blocks may still be
// staged, else a fresh one (saved in j).
func (c *azContainer) uploadState(ctx context.Context, bb *blockblob.Client, size int64, j blob.Journal, resume bool) (*blob.UploadState, error) {
	if j != nil && resume {
		prev, err := j.Load()
		if err != nil {
			c.b.opts.Logger.Warn("upload journal unreadable; uploading from the start", "err", err)
		}
		if prev != nil && prev.Size == size && prev.BlockSize > 0 && (size+prev.BlockSize-1)/prev.BlockSize <= MaxBlocks &&
			validPrefix(prev.Prefix) {
			if prev.Staged == nil {
				prev.Staged = map[int][]byte{}
			}
			n := int((size + prev.BlockSize - 1) / prev.BlockSize)
			for i := range prev.Staged {
				if i < 0 || i >= n || len(prev.Staged[i]) != md5.Size {
					delete(prev.Staged, i)
				}
			}
			c.checkStaged(ctx, bb, prev)
			return prev, nil
		}
	}
	prefix, err := blockPrefix()
	if err != nil {
		return nil, err
	}
	st := &blob.UploadState{Size: size, BlockSize: c.blockSizeFor(size), Prefix: prefix, Staged: map[int][]byte{}}
	if j != nil {
		if err := j.Save(st); err != nil {
			c.b.opts.Logger.Warn("save upload journal; the upload cannot resume after a crash", "err", err)
		}
	}
	return st, nil
}

// checkStaged drops from st the blocks the service no longer holds
// uncommitted. Listing needs read permission: with a write-only SAS it
// fails and st is trusted as it is (a block that is gone then makes the
// commit fail with InvalidBlockList, and PutResumable starts over).
func (c *azContainer) checkStaged(ctx context.Context, bb *blockblob.Client, st *blob.UploadState) {
	if len(st.Staged) == 0 {
		return
	}
	list, err := bb.GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil)
	if err != nil {
		return
	}
	have := map[string]int64{}
	for _, b := range list.UncommittedBlocks {
		if b.Name != nil && b.Size != nil {
			have[*b.Name] = *b.Size
		}
	}
	n := int((st.Size + st.BlockSize - 1) / st.BlockSize)
	for i := range st.Staged {
		want := min(st.BlockSize, st.Size-int64(i)*st.BlockSize)
		if sz, ok := have[blockID(st.Prefix, i)]; !ok || sz != want || i >= n {
			delete(st.Staged, i)
		}
	}
}

func blockID(prefix string, i int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", prefix, i))
}

func (c *azContainer) putBlocks(ctx context.Context, bb *blockblob.Client, src io.ReaderAt, size int64, opts blob.PutOptions, j blob.Journal, resume bool) (blob.PutResult, error) {
	st, err := c.uploadState(ctx, bb, size, j, resume)
	if err != nil {
		return blob.PutResult{}, err
	}
	blockSize := st.BlockSize
	n := int((size + blockSize - 1) / blockSize)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = blockID(st.Prefix, i)
	}
	var (
		mu     sync.Mutex // guards st.Staged and reused, and orders j.Save
		reused int
	)
	c.b.pool.begin()
	defer c.b.pool.end()
	sum, err := pipeBlocks(ctx, src, size, blockSize, c.b.opts.BlockConcurrency, c.b.pool,
		func(ctx context.Context, i int, b []byte) error {
			mu.Lock()
			staged := st.Staged[i]
			mu.Unlock()
			if j == nil && staged == nil {
				_, err := bb.StageBlock(ctx, ids[i], streaming.NopCloser(bytes.NewReader(b)), nil)
				return err
			}
			// Journalled: the block's MD5 is what a resumed upload checks
			// the source against (a block staged before a crash is reused
			// when it still matches); sent too, the service verifies it.
			bsum := md5.Sum(b)
			if staged != nil && bytes.Equal(bsum[:], staged) {
				mu.Lock()
				reused++
				mu.Unlock()
				return nil
			}
			_, err := bb.StageBlock(ctx, ids[i], streaming.NopCloser(bytes.NewReader(b)),
				&blockblob.StageBlockOptions{TransactionalValidation: azblobblob.TransferValidationTypeMD5(bsum[:])})
			if err != nil || j == nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			st.Staged[i] = bsum[:]
			if err := j.Save(st); err != nil {
				c.b.opts.Logger.Warn("save upload journal; a resumed upload re-sends this block", "err", err)
			}
			return nil
		})
	if err != nil {
		return blob.PutResult{Reused: reused}, err
	}
	digest, err := checkMD5(opts.ContentMD5, sum)
	if err != nil {
		return blob.PutResult{Reused: reused}, err
	}
	_, err = bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		HTTPHeaders: headers(opts, digest),
		Metadata:    metadata(opts),
		Tier:        tier(opts),
	})
	if err != nil {
		return blob.PutResult{Reused: reused}, err
	}
	return blob.PutResult{Size: size, ContentMD5: digest, Blocks: n, Reused: reused}, nil
}

// errShrank reports a source that became shorter than its announced size,
// e.g. a log file truncated by the task while it is uploaded.
var errShrank = errors.New("source shrank during upload")

// readFull reads len(buf) bytes at off, failing clearly if the source has
// become shorter than it was when the upload started.
func readFull(src io.ReaderAt, off int64, buf []byte) (int, error) {
	n, err := src.ReadAt(buf, off)
	if n == len(buf) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %d bytes at offset %d, want %d", errShrank, n, off, len(buf))
	}
	return n, fmt.Errorf("read source: %w", err)
}

// checkMD5 returns the digest to send: the caller's if given (which must
// match what was read), else the computed one.
func checkMD5(given, computed []byte) ([]byte, error) {
	if given == nil {
		return computed, nil
	}
	if !bytes.Equal(given, computed) {
		return nil, fmt.Errorf("content MD5 %x does not match the caller's ContentMD5 %x", computed, given)
	}
	return given, nil
}

// validPrefix reports whether p is a block ID prefix blockPrefix made.
func validPrefix(p string) bool {
	if len(p) != 24 {
		return false
	}
	_, err := hex.DecodeString(p)
	return err == nil
}

func blockPrefix() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("block id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func headers(o blob.PutOptions, digest []byte) *azblobblob.HTTPHeaders {
	h := &azblobblob.HTTPHeaders{BlobContentMD5: digest}
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&h.BlobContentType, o.ContentType)
	set(&h.BlobContentEncoding, o.ContentEncoding)
	set(&h.BlobContentLanguage, o.ContentLanguage)
	set(&h.BlobContentDisposition, o.ContentDisposition)
	set(&h.BlobCacheControl, o.CacheControl)
	return h
}

func metadata(o blob.PutOptions) map[string]*string {
	if len(o.Metadata) == 0 {
		return nil
	}
	m := make(map[string]*string, len(o.Metadata))
	for k, v := range o.Metadata {
		m[k] = &v
	}
	return m
}

func tier(o blob.PutOptions) *azblobblob.AccessTier {
	if o.AccessTier == "" {
		return nil
	}
	t := azblobblob.AccessTier(o.AccessTier)
	return &t
}

// classify turns an SDK or transport error into a *blob.Error without any
// secret in its text.
func (c *azContainer) classify(op, name string, err error, retries int) error {
	e := &blob.Error{Op: op, Container: c.url, Blob: name, Retries: retries, Err: scrub(err)}
	var re *azcore.ResponseError
	var afe *azidentity.AuthenticationFailedError
	var ne net.Error
	switch {
	case errors.As(err, &re):
		e.StatusCode, e.Code = re.StatusCode, re.ErrorCode
		switch {
		case re.StatusCode == 404 && re.ErrorCode == "BlobNotFound":
			e.Kind = blob.BlobNotFound
		case re.StatusCode == 404 && op == "stat" || op == "get" && re.StatusCode == 404 && re.ErrorCode == "":
			// A HEAD response has no error code in some emulators: on a
			// read, a 404 without "ContainerNotFound" means the blob.
			e.Kind = blob.BlobNotFound
		case re.StatusCode == 404:
			// On a write, only the container (or account) can be missing.
			e.Kind = blob.ContainerNotFound
		case re.StatusCode == 401 || re.StatusCode == 403:
			e.Kind = blob.AccessDenied
		case re.StatusCode == 409:
			e.Kind = blob.Conflict
		case re.StatusCode == 408 || re.StatusCode == 504 || re.ErrorCode == "OperationTimedOut":
			e.Kind, e.Transient = blob.TimedOut, true
		case re.StatusCode == 429 || re.StatusCode >= 500:
			e.Kind, e.Transient = blob.Misc, true
		default:
			e.Kind = blob.Misc
		}
		e.Err = fmt.Errorf("%s", responseMessage(re))
	case errors.As(err, &afe):
		e.Kind = blob.AccessDenied
		e.Err = fmt.Errorf("cannot get a token for the identity: %s", blob.RedactText(firstLine(afe.Error())))
	case errors.Is(err, context.Canceled), errors.Is(err, errShrank):
		e.Kind = blob.Misc
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Kind, e.Transient = blob.TimedOut, true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF):
		e.Kind, e.Transient = blob.Misc, true
	default:
		e.Kind = blob.Misc
	}
	return e
}

// scrub replaces the URL inside a *url.Error (which the HTTP client builds
// from the full request URL, SAS included) with its redacted form.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: blob.Redact(ue.URL), Err: ue.Err}
	}
	return err
}

var (
	reXMLMessage = regexp.MustCompile(`(?s)<Message>(.*?)</Message>`)
	reXMLDetail  = regexp.MustCompile(`(?s)<AuthenticationErrorDetail>(.*?)</AuthenticationErrorDetail>`)
)

// responseMessage condenses a ResponseError (a multi-line dump with the
// response body) to the storage service's own message on one line.
func responseMessage(re *azcore.ResponseError) string {
	text := re.Error()
	msg := fmt.Sprintf("HTTP %d", re.StatusCode)
	if m := reXMLMessage.FindStringSubmatch(text); m != nil {
		msg = oneLine(m[1])
	} else if re.RawResponse != nil {
		msg = re.RawResponse.Status
	}
	if d := reXMLDetail.FindStringSubmatch(text); d != nil {
		msg += " (" + oneLine(d[1]) + ")"
	}
	return blob.RedactText(msg)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
