package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/openbatch/openbatch/blob"
)

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestPipeBlocksMD5 checks that the pipelined hash is crypto/md5 of the whole
// content and that every block is staged once with the right bytes, for
// sizes around the block boundaries.
func TestPipeBlocksMD5(t *testing.T) {
	const bs = 1000
	for _, size := range []int{0, 1, bs - 1, bs, bs + 1, 37*bs + 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(size)
			pool := newBufferPool(4, bs)
			var mu sync.Mutex
			got := map[int][]byte{}
			sum, err := pipeBlocks(context.Background(), bytes.NewReader(data), int64(size), bs, 3, pool,
				func(_ context.Context, i int, b []byte) error {
					mu.Lock()
					defer mu.Unlock()
					if _, dup := got[i]; dup {
						return fmt.Errorf("block %d staged twice", i)
					}
					got[i] = bytes.Clone(b)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			want := md5.Sum(data)
			if !bytes.Equal(sum, want[:]) {
				t.Errorf("md5 %x, want %x", sum, want)
			}
			var joined []byte
			for i := range len(got) {
				joined = append(joined, got[i]...)
			}
			if wantBlocks := (size + bs - 1) / bs; len(got) != wantBlocks || !bytes.Equal(joined, data) {
				t.Errorf("%d blocks staged (want %d); content equal: %v", len(got), wantBlocks, bytes.Equal(joined, data))
			}
			if len(pool.tokens) != cap(pool.tokens) {
				t.Errorf("%d of %d buffers back in the pool", len(pool.tokens), cap(pool.tokens))
			}
		})
	}
}

// TestPipeBlocksStops checks that a failed stage, a short source and a
// cancelled context each end the upload with their error, that every stage
// goroutine has returned when pipeBlocks does, and that no buffer is lost.
func TestPipeBlocksStops(t *testing.T) {
	const bs = 100
	data := randomBytes(50 * bs)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		src  io.ReaderAt
		// stage is called with the context, block index and a cancel of
		// the whole upload's context.
		stage   func(ctx context.Context, i int, cancel context.CancelFunc) error
		wantErr func(error) bool
	}{
		{"stage fails", bytes.NewReader(data), func(ctx context.Context, i int, _ context.CancelFunc) error {
			switch {
			case i < 7:
				return nil
			case i == 7:
				return boom
			}
			<-ctx.Done() // later blocks wait until the failure cancels them
			return ctx.Err()
		}, func(err error) bool { return errors.Is(err, boom) }},
		{"source shrank", bytes.NewReader(data[:20*bs+3]), func(ctx context.Context, i int, _ context.CancelFunc) error {
			return nil
		}, func(err error) bool { return errors.Is(err, errShrank) }},
		{"cancelled", bytes.NewReader(data), func(ctx context.Context, i int, cancel context.CancelFunc) error {
			switch {
			case i < 5:
				return nil
			case i == 5:
				cancel()
			}
			<-ctx.Done()
			return ctx.Err()
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pool := newBufferPool(6, bs)
			var running atomic.Int32
			_, err := pipeBlocks(ctx, tc.src, int64(len(data)), bs, 4, pool, func(ctx context.Context, i int, b []byte) error {
				running.Add(1)
				defer running.Add(-1)
				return tc.stage(ctx, i, cancel)
			})
			if !tc.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			if n := running.Load(); n != 0 {
				t.Errorf("%d stage calls still running after pipeBlocks returned", n)
			}
			if len(pool.tokens) != cap(pool.tokens) {
				t.Errorf("%d of %d buffers back in the pool", len(pool.tokens), cap(pool.tokens))
			}
			// The hasher and stage goroutines are gone (poll: the runtime
			// may take a moment to reap them on a loaded machine).
			deadline := time.Now().Add(10 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				t.Errorf("%d goroutines left behind", n-before)
			}
		})
	}
}

// blockStore is a minimal Put Block / Put Block List endpoint that keeps the
// staged blocks, assembles the blob at commit and refuses a commit whose
// x-ms-blob-content-md5 is not the MD5 of the assembled content. failFirst
// answers the first try of the listed block numbers with 503.
type blockStore struct {
	mu        sync.Mutex
	blocks    map[string][]byte
	tries     map[string]int
	blob      []byte
	md5       string
	failFirst map[int]bool
}

func (s *blockStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	switch q.Get("comp") {
	case "block":
		id := q.Get("blockid")
		s.tries[id]++
		raw, _ := base64.StdEncoding.DecodeString(id)
		var n int
		if _, after, ok := strings.Cut(string(raw), "-"); ok {
			fmt.Sscan(after, &n)
		}
		if s.failFirst[n] && s.tries[id] == 1 {
			w.Header().Set("x-ms-error-code", "ServerBusy")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.blocks[id] = body
		w.WriteHeader(http.StatusCreated)
	case "blocklist":
		var bl struct {
			Latest []string `xml:"Latest"`
		}
		if err := xml.Unmarshal(body, &bl); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var content []byte
		for _, id := range bl.Latest {
			b, ok := s.blocks[id]
			if !ok {
				w.Header().Set("x-ms-error-code", "InvalidBlockList")
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			content = append(content, b...)
		}
		sum := md5.Sum(content)
		if got := r.Header.Get("x-ms-blob-content-md5"); got != base64.StdEncoding.EncodeToString(sum[:]) {
			w.Header().Set("x-ms-error-code", "Md5Mismatch")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.blob, s.md5 = content, r.Header.Get("x-ms-blob-content-md5")
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// TestPutBlocksRetriesFailedBlock uploads through the SDK to a block store
// that fails the first try of two blocks with 503: the blocks are retried,
// the retries counted, and the committed blob is the content with its MD5.
func TestPutBlocksRetriesFailedBlock(t *testing.T) {
	st := &blockStore{blocks: map[string][]byte{}, tries: map[string]int{}, failFirst: map[int]bool{2: true, 9: true}}
	srv := httptest.NewServer(st)
	defer srv.Close()
	b, err := New(Options{BlockSize: 64 << 10, BlockConcurrency: 3, MaxBufferMemory: 256 << 10,
		Retry: policy.RetryOptions{RetryDelay: time.Millisecond}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Open(context.Background(), srv.URL+"/acct/c?sv=2021-06-08&sig=x", blob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(12*64<<10 + 17)
	res, err := c.Put(context.Background(), "big.bin", bytes.NewReader(data), int64(len(data)), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := md5.Sum(data)
	if res.Retries != 2 || res.Blocks != 13 || !bytes.Equal(res.ContentMD5, want[:]) {
		t.Errorf("result %+v, want 2 retries, 13 blocks, md5 %x", res, want)
	}
	if !bytes.Equal(st.blob, data) || st.md5 != base64.StdEncoding.EncodeToString(want[:]) {
		t.Errorf("stored %d bytes (equal: %v), md5 %s", len(st.blob), bytes.Equal(st.blob, data), st.md5)
	}
}

// TestBufferPoolDropsWhenIdle checks that buffers are kept between uploads
// that overlap and dropped when the last upload ends.
func TestBufferPoolDropsWhenIdle(t *testing.T) {
	p := newBufferPool(2, 10)
	held := func() int {
		n := 0
		for range cap(p.tokens) {
			b := <-p.tokens
			if b != nil {
				n++
			}
			p.tokens <- b
		}
		return n
	}
	ctx := context.Background()
	p.begin() // upload A
	p.begin() // upload B
	for range 2 {
		b, err := p.get(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		p.put(b)
	}
	p.end() // A ends; B still runs
	if n := held(); n == 0 {
		t.Errorf("buffers dropped while an upload still runs")
	}
	p.end() // B ends: idle
	if n := held(); n != 0 || len(p.tokens) != cap(p.tokens) {
		t.Errorf("idle pool holds %d buffers, %d of %d tokens", n, len(p.tokens), cap(p.tokens))
	}
}
