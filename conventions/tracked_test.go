package conventions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/testenv"
)

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func blobContent(t *testing.T, a *testenv.Azurite, c *JobContainer, name string) string {
	t.Helper()
	b, _ := a.Download(t, c.Name(), name)
	return string(b)
}

func TestTrackedSaveStreamsGrowingFile(t *testing.T) {
	ctx := context.Background()
	a, c := newJobContainer(t)
	task, _ := c.Task("t")
	src := filepath.Join(t.TempDir(), "app.log")

	tr, err := task.SaveTracked(ctx, TaskLog, src, "app.log", 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Write for about 3 s while watching the blob.
	seen := map[int]bool{}
	for i := range 30 {
		appendTo(t, src, fmt.Sprintf("line %03d %s\n", i, strings.Repeat("x", i)))
		time.Sleep(100 * time.Millisecond)
		if slices.Contains(a.Blobs(t, c.Name()), "t/$TaskLog/app.log") {
			if n := len(blobContent(t, a, c, "t/$TaskLog/app.log")); n > 0 {
				seen[n] = true
			}
		}
	}
	if len(seen) < 2 {
		t.Errorf("blob seen with %d distinct non-empty lengths while the file grew, want ≥ 2", len(seen))
	}
	appendTo(t, src, "last line, written just before Stop\n")
	if err := tr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src)
	if got := blobContent(t, a, c, "t/$TaskLog/app.log"); got != string(want) {
		t.Fatalf("blob differs from file:\n got %d bytes\nwant %d bytes", len(got), len(want))
	}
	if err := tr.Flush(ctx); !errors.Is(err, ErrTrackerStopped) {
		t.Errorf("Flush after Stop = %v", err)
	}
	if err := tr.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func TestTrackedSaveResumesWithoutDuplicating(t *testing.T) {
	ctx := context.Background()
	a, c := newJobContainer(t)
	task, _ := c.Task("t")
	src := filepath.Join(t.TempDir(), "stdout.txt")
	const name = "t/$TaskLog/stdout.txt"
	long := time.Hour // only explicit flushes

	appendTo(t, src, "first attempt\n")
	tr, err := task.SaveTracked(ctx, TaskLog, src, "stdout.txt", long, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The tracker restarts (a retried task, a restarted agent) on the same
	// file, unchanged: nothing is appended.
	tr, err = task.SaveTracked(ctx, TaskLog, src, "stdout.txt", long, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := blobContent(t, a, c, name); got != "first attempt\n" {
		t.Fatalf("after an idle restart: %q", got)
	}
	// The file grew meanwhile: only the new part is appended.
	appendTo(t, src, "more output\n")
	tr, err = task.SaveTracked(ctx, TaskLog, src, "stdout.txt", long, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendTo(t, src, "and more\n")
	if err := tr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := blobContent(t, a, c, name), "first attempt\nmore output\nand more\n"; got != want {
		t.Fatalf("blob = %q, want %q", got, want)
	}
	if st := tr.Status(); st.Generation != 0 || st.SourceOffset != int64(len("first attempt\nmore output\nand more\n")) {
		t.Errorf("status %+v", st)
	}
	if blobs := a.Blobs(t, c.Name()); len(blobs) != 1 {
		t.Errorf("blobs %q", blobs)
	}
}

func TestTrackedSaveTruncation(t *testing.T) {
	ctx := context.Background()
	a, c := newJobContainer(t)
	task, _ := c.Task("t")
	dir := t.TempDir()
	src := filepath.Join(dir, "run.log")

	t.Run("new generation", func(t *testing.T) {
		writeFile(t, src, "a long first generation\n")
		tr, err := task.SaveTracked(ctx, TaskLog, src, "run.log", time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(src, 0); err != nil {
			t.Fatal(err)
		}
		appendTo(t, src, "short\n")
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Rotation: the file is replaced by a new one (new inode).
		if err := os.Rename(src, src+".old"); err != nil {
			t.Fatal(err)
		}
		writeFile(t, src, "rotated and already longer than before\n")
		if err := tr.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"t/$TaskLog/run.log":      "a long first generation\n",
			"t/$TaskLog/run.log.gen1": "short\n",
			"t/$TaskLog/run.log.gen2": "rotated and already longer than before\n",
		}
		for name, content := range want {
			if got := blobContent(t, a, c, name); got != content {
				t.Errorf("%s = %q, want %q", name, got, content)
			}
		}
		// A new tracker resumes the latest generation.
		appendTo(t, src, "tail\n")
		tr, err = task.SaveTracked(ctx, TaskLog, src, "run.log", time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if got := blobContent(t, a, c, "t/$TaskLog/run.log.gen2"); got != want["t/$TaskLog/run.log.gen2"]+"tail\n" {
			t.Errorf("resumed gen2 = %q", got)
		}
	})

	t.Run("retried task writes a different file", func(t *testing.T) {
		src := filepath.Join(dir, "retry.log")
		writeFile(t, src, "attempt 1\n")
		tr, err := task.SaveTracked(ctx, TaskLog, src, "retry.log", time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		writeFile(t, src, "attempt 2 wrote more than attempt 1\n")
		tr, err = task.SaveTracked(ctx, TaskLog, src, "retry.log", time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if got := blobContent(t, a, c, "t/$TaskLog/retry.log"); got != "attempt 1\n" {
			t.Errorf("gen0 = %q", got)
		}
		if got := blobContent(t, a, c, "t/$TaskLog/retry.log.gen1"); got != "attempt 2 wrote more than attempt 1\n" {
			t.Errorf("gen1 = %q", got)
		}
	})

	t.Run("stop policy", func(t *testing.T) {
		src := filepath.Join(dir, "strict.log")
		writeFile(t, src, "0123456789\n")
		tr, err := task.SaveTracked(ctx, TaskLog, src, "strict.log", time.Hour, &TrackOptions{OnTruncate: StopOnTruncate})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		writeFile(t, src, "012\n")
		if err := tr.Flush(ctx); !errors.Is(err, ErrSourceTruncated) {
			t.Fatalf("Flush after truncation = %v, want ErrSourceTruncated", err)
		}
		if err := tr.Stop(ctx); !errors.Is(err, ErrSourceTruncated) {
			t.Fatalf("Stop after truncation = %v, want ErrSourceTruncated", err)
		}
		if got := blobContent(t, a, c, "t/$TaskLog/strict.log"); got != "0123456789\n" {
			t.Errorf("blob = %q", got)
		}
	})
}

func TestTrackedSaveRollsOverAtBlockBudget(t *testing.T) {
	ctx := context.Background()
	a, c := newJobContainer(t)
	task, _ := c.Task("t")
	src := filepath.Join(t.TempDir(), "big.log")
	content := strings.Repeat("0123456789", 10) // 100 bytes
	writeFile(t, src, content)
	tr, err := task.SaveTracked(ctx, TaskLog, src, "big.log", time.Hour, &TrackOptions{MaxBlockSize: 16, MaxBlocks: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// 100 bytes in blocks of ≤16, 3 blocks (48 bytes) per blob: 3 blobs.
	var got strings.Builder
	for _, name := range []string{"t/$TaskLog/big.log", "t/$TaskLog/big.log.gen1", "t/$TaskLog/big.log.gen2"} {
		got.WriteString(blobContent(t, a, c, name))
	}
	if got.String() != content {
		t.Fatalf("generations joined = %q", got.String())
	}
	if st := tr.Status(); st.Generation != 2 || st.Blocks != 1 || st.SourceOffset != 100 {
		t.Errorf("status %+v", st)
	}
	// Resuming a rolled-over generation uses its recorded source offset.
	appendTo(t, src, "++")
	tr, err = task.SaveTracked(ctx, TaskLog, src, "big.log", time.Hour, &TrackOptions{MaxBlockSize: 16, MaxBlocks: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := blobContent(t, a, c, "t/$TaskLog/big.log.gen2"); got != content[96:]+"++" {
		t.Errorf("gen2 after resume = %q", got)
	}
}

func TestTrackedSaveReportsTimerFlushErrors(t *testing.T) {
	ctx := context.Background()
	a, c := newJobContainer(t)
	task, _ := c.Task("t")
	src := filepath.Join(t.TempDir(), "x.log")
	var mu sync.Mutex
	var errs []error
	tr, err := task.SaveTracked(ctx, TaskLog, src, "x.log", 50*time.Millisecond, &TrackOptions{OnError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client(t).DeleteContainer(ctx, c.Name(), nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "data")
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(errs)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	if len(errs) == 0 {
		t.Error("no timer flush error reported")
	}
	mu.Unlock()
	if err := tr.Stop(ctx); err == nil {
		t.Error("final flush into a deleted container succeeded")
	}
}

func TestTrackedSaveRefusesBlockBlob(t *testing.T) {
	ctx := context.Background()
	_, c := newJobContainer(t)
	task, _ := c.Task("t")
	if err := task.SaveText(ctx, TaskLog, "block", "b.log"); err != nil {
		t.Fatal(err)
	}
	_, err := task.SaveTracked(ctx, TaskLog, filepath.Join(t.TempDir(), "b.log"), "b.log", time.Hour, nil)
	if err == nil || !strings.Contains(err.Error(), "not an append blob") {
		t.Fatalf("SaveTracked over a block blob: %v", err)
	}
}
