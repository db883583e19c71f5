package outputfiles_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/outputfiles"
)

// gateContainer is a blob.Container whose Put counts the uploads in flight,
// by size class, and waits for gate to open.
type gateContainer struct {
	blob.Container // nil: only Put is called
	small          int64
	gate           chan struct{}

	mu                      sync.Mutex
	inflight, maxAll        int
	inflightLarge, maxLarge int
}

func (g *gateContainer) Put(ctx context.Context, name string, src io.ReaderAt, size int64, _ blob.PutOptions) (blob.PutResult, error) {
	isLarge := size > g.small
	g.mu.Lock()
	g.inflight++
	g.maxAll = max(g.maxAll, g.inflight)
	if isLarge {
		g.inflightLarge++
		g.maxLarge = max(g.maxLarge, g.inflightLarge)
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inflight--
		if isLarge {
			g.inflightLarge--
		}
		g.mu.Unlock()
	}()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return blob.PutResult{}, ctx.Err()
	}
	return blob.PutResult{Size: size, ContentMD5: make([]byte, 16)}, nil
}

func (g *gateContainer) List(context.Context, string) iter.Seq2[blob.Item, error] { return nil }
func (g *gateContainer) String() string                                           { return "gate://c" }

// TestParallelismSmallAndLarge checks that small files go up
// SmallParallelism at once and large ones at most Parallelism at once.
func TestParallelismSmallAndLarge(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		wantAll   int
		wantLarge int
	}{
		{"small files", 1, 5, 0},
		{"large files", 20, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for i := range 12 {
				files[fmt.Sprintf("wd/f%02d", i)] = string(make([]byte, tc.size))
			}
			dir := task(t, files)
			g := &gateContainer{small: 10, gate: make(chan struct{})}
			e := outputfiles.New(blob.OpenerFunc(func(context.Context, string, blob.OpenOptions) (blob.Container, error) {
				return g, nil
			}), outputfiles.Options{Parallelism: 2, SmallParallelism: 5, SmallFileSize: 10, Logger: slog.New(slog.DiscardHandler)})
			done := make(chan *outputfiles.Result, 1)
			go func() {
				res, err := e.Upload(context.Background(), outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
					OutputFiles: []api.OutputFile{out("f*", "https://a.blob.core.windows.net/c?sig=x", "")}})
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			// Wait (polling) until the engine has as many uploads in flight
			// as it may, then let them all finish.
			deadline := time.Now().Add(30 * time.Second)
			for {
				g.mu.Lock()
				n := g.inflight
				g.mu.Unlock()
				if n >= tc.wantAll || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			close(g.gate)
			res := <-done
			if res == nil || res.Uploaded != 12 {
				t.Fatalf("result %+v", res)
			}
			if g.maxAll != tc.wantAll || g.maxLarge != tc.wantLarge {
				t.Errorf("at most %d uploads (%d large) in flight, want %d (%d large)", g.maxAll, g.maxLarge, tc.wantAll, tc.wantLarge)
			}
		})
	}
}
