package azure

import (
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// stageFunc sends block i (its bytes in b) to storage. It must not keep b
// after it returns: the buffer goes back to the pool.
type stageFunc func(ctx context.Context, i int, b []byte) error

// pipeBlocks reads size bytes of src once, sequentially, block by block, and
// hands every block to two consumers that run at the same time:
//
//   - one hashing goroutine, which feeds the blocks in order to the MD5 of
//     the whole content (MD5 is one sequential stream and cannot be split);
//   - stage, called for up to concurrency blocks at once.
//
// A block's buffer returns to pool when both are done with it, so memory is
// bounded by the pool, and a large file costs about max(read, MD5, network)
// instead of their sum: the reader runs ahead of the hasher and of the
// uploads as far as the pool's buffers allow. It returns the MD5 of the
// content. On the first error (a short or failed
// read, a failed stage, ctx ending) it cancels every stage in flight, stops
// reading, waits for every goroutine it started and returns that error; all
// buffers are back in the pool when it returns.
func pipeBlocks(ctx context.Context, src io.ReaderAt, size, blockSize int64, concurrency int, pool *bufferPool, stage stageFunc) ([]byte, error) {
	n := int((size + blockSize - 1) / blockSize)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))

	// The hasher owns h. It drains the queue to the end even after a
	// failure (without hashing), so that every buffer is released.
	type block struct {
		buf  []byte
		refs atomic.Int32 // consumers still using buf: hasher and stage
	}
	release := func(b *block) {
		if b.refs.Add(-1) == 0 {
			pool.put(b.buf)
		}
	}
	queue := make(chan *block, cap(pool.tokens))
	h := md5.New()
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range queue {
			// ctx, not gctx: errgroup cancels gctx when Wait returns,
			// which may be before the hasher has caught up.
			if ctx.Err() == nil {
				h.Write(b.buf)
			}
			release(b)
		}
	}()

	var readErr error
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		off := int64(i) * blockSize
		buf, err := pool.get(gctx, min(blockSize, size-off))
		if err != nil {
			break // gctx ended: g.Wait or ctx says why
		}
		if _, err := readFull(src, off, buf); err != nil {
			pool.put(buf)
			readErr = err
			cancel(err)
			break
		}
		b := &block{buf: buf}
		b.refs.Store(2)
		queue <- b
		g.Go(func() error {
			defer release(b)
			err := stage(gctx, i, b.buf)
			if err != nil {
				cancel(err) // stops the hasher too
			}
			return err
		})
	}
	close(queue)
	stageErr := g.Wait()
	<-hashed
	switch {
	case readErr != nil:
		return nil, readErr
	case stageErr != nil:
		return nil, stageErr
	case ctx.Err() != nil:
		return nil, fmt.Errorf("upload interrupted: %w", context.Cause(ctx))
	}
	return h.Sum(nil), nil
}
