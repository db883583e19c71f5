package azure_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	obblob "github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/testenv"
)

// memJournal is a blob.Journal in memory that counts its saves.
type memJournal struct {
	mu    sync.Mutex
	st    *obblob.UploadState
	saves int
}

func (j *memJournal) Load() (*obblob.UploadState, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st == nil {
		return nil, nil
	}
	c := *j.st
	c.Staged = map[int][]byte{}
	for i, s := range j.st.Staged {
		c.Staged[i] = s
	}
	return &c, nil
}

func (j *memJournal) Save(st *obblob.UploadState) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := *st
	c.Staged = map[int][]byte{}
	for i, s := range st.Staged {
		c.Staged[i] = s
	}
	j.st = &c
	j.saves++
	return nil
}

func (j *memJournal) staged() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st == nil {
		return 0
	}
	return len(j.st.Staged)
}

// failingAt reads data but fails every read at or past offset at: an upload
// cut short, as by a crash, after the blocks before at were staged.
type failingAt struct {
	data []byte
	at   int64
	// wait, if set, runs before the failing read (lets staging finish).
	wait func()
}

var errCut = errors.New("cut")

func (f failingAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		if f.wait != nil {
			f.wait()
		}
		return 0, errCut
	}
	return copy(p, f.data[off:]), nil
}

func TestPutResumable(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	const block = 1 << 20
	data := bytes.Repeat([]byte("resumable upload 0123456789abcdef"), 6*block/33+1) // a little over 6 blocks
	ctx := context.Background()
	open := func(t *testing.T, perms string) obblob.Container {
		t.Helper()
		b := newBackend(t, azure.Options{BlockSize: block, BlockConcurrency: 2})
		c, err := b.Open(ctx, a.ContainerSAS(t, cn, perms, time.Now().Add(time.Hour)), obblob.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	check := func(t *testing.T, name string, content []byte, res obblob.PutResult) {
		t.Helper()
		got, props := a.Download(t, cn, name)
		sum := md5.Sum(content)
		if !bytes.Equal(got, content) || !bytes.Equal(props.ContentMD5, sum[:]) || !bytes.Equal(res.ContentMD5, sum[:]) {
			t.Fatalf("blob %s: %d bytes, MD5 %x (result %x); want %d bytes, MD5 %x", name, len(got), props.ContentMD5, res.ContentMD5, len(content), sum)
		}
	}
	// cut uploads data until the read at offset at fails; the blocks
	// before it are staged and journalled.
	cut := func(t *testing.T, c obblob.Container, name string, j *memJournal, at int64) {
		t.Helper()
		_, err := obblob.PutResumable(ctx, c, name, failingAt{data: data, at: at, wait: func() {
			for deadline := time.Now().Add(30 * time.Second); j.staged() < 2 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}}, int64(len(data)), obblob.PutOptions{}, j)
		if !errors.Is(err, errCut) {
			t.Fatalf("cut upload: %v, want the read error", err)
		}
		if j.staged() < 2 {
			t.Fatalf("%d blocks journalled before the cut, want 2 or more", j.staged())
		}
	}

	tests := []struct {
		name  string
		perms string // SAS permissions: without r, Get Block List is refused and the journal is trusted
		// before runs between the cut and the resume.
		before     func(t *testing.T, c obblob.Container, name string, j *memJournal) []byte
		wantReused func(n int) bool
	}{
		{"resume reuses staged blocks", "rw", nil, func(n int) bool { return n >= 2 }},
		{"resume with a write-only SAS trusts the journal", "w", nil, func(n int) bool { return n >= 2 }},
		{"changed bytes are sent again", "rw", func(t *testing.T, _ obblob.Container, _ string, _ *memJournal) []byte {
			changed := bytes.Clone(data)
			copy(changed, "CHANGED") // block 0, which is staged
			return changed
		}, func(n int) bool { return n >= 1 }},
		{"blocks the service no longer holds are listed as gone", "rw", forgetBlocks, func(n int) bool { return n == 0 }},
		{"blocks gone behind a write-only SAS: commit refused, started over", "w", forgetBlocks, func(n int) bool { return n == 0 }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t, tc.perms)
			name := "resume-" + string(rune('a'+i)) + ".bin"
			j := &memJournal{}
			cut(t, c, name, j, 4*block)
			content := data
			if tc.before != nil {
				if changed := tc.before(t, c, name, j); changed != nil {
					content = changed
				}
			}
			res, err := obblob.PutResumable(ctx, c, name, bytes.NewReader(content), int64(len(content)), obblob.PutOptions{}, j)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantReused(res.Reused) {
				t.Fatalf("reused %d blocks of %d", res.Reused, res.Blocks)
			}
			check(t, name, content, res)
		})
	}
}

// forgetBlocks makes the journal name blocks the service never staged (as
// after the service discarded them): same MD5s, another block ID prefix.
func forgetBlocks(t *testing.T, _ obblob.Container, _ string, j *memJournal) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.Prefix = "0123456789abcdef01234567"
	return nil
}

// A container that cannot resume uploads from the start.
func TestPutResumableFallsBackToPut(t *testing.T) {
	j := &memJournal{}
	c := &plainContainer{}
	res, err := obblob.PutResumable(context.Background(), obblob.WithRetry(c, obblob.RetryPolicy{}), "n", bytes.NewReader([]byte("abc")), 3, obblob.PutOptions{}, j)
	if err != nil || res.Size != 3 || c.puts != 1 || j.saves != 0 {
		t.Fatalf("res %+v err %v puts %d saves %d", res, err, c.puts, j.saves)
	}
}

// plainContainer is a Container without resumable uploads.
type plainContainer struct {
	obblob.Container
	puts int
}

func (p *plainContainer) Put(_ context.Context, _ string, src io.ReaderAt, size int64, _ obblob.PutOptions) (obblob.PutResult, error) {
	p.puts++
	return obblob.PutResult{Size: size}, nil
}
