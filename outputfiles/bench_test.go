package outputfiles_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/bench/sink"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/outputfiles"
)

// BenchmarkPlan100kFiles plans "**/*.txt" over a temp tree of 100,000 files
// (100 directories × 1,000 files, half of them matching).
func BenchmarkPlan100kFiles(b *testing.B) {
	dir := b.TempDir()
	for d := range 100 {
		sub := filepath.Join(dir, "wd", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 1000 {
			ext := ".txt"
			if f%2 == 1 {
				ext = ".bin"
			}
			fh, err := os.Create(filepath.Join(sub, fmt.Sprintf("f%04d%s", f, ext)))
			if err != nil {
				b.Fatal(err)
			}
			fh.Close()
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	pl := outputfiles.Planner{TaskDir: dir, FS: func(string) (fs.FS, error) { return root.FS(), nil }}
	files := []api.OutputFile{out("**/*.txt", "https://a.blob.core.windows.net/c?sig=x", "p")}
	b.ResetTimer()
	for b.Loop() {
		plan := pl.Plan(files, outputfiles.ExitedWith(0))
		if len(plan.Uploads) != 50_000 {
			b.Fatalf("planned %d", len(plan.Uploads))
		}
	}
}

// BenchmarkUploadLocal uploads 100 files of 64 KiB to a file:// container.
func BenchmarkUploadLocal(b *testing.B) {
	files := map[string]string{}
	for i := range 100 {
		files[fmt.Sprintf("wd/o/%d.dat", i)] = strings.Repeat("x", 64<<10)
	}
	dir := task(b, files)
	dest := b.TempDir()
	e := newEngine(b)
	req := outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{out("o/*.dat", "file://"+dest, "")}}
	b.SetBytes(100 * 64 << 10)
	for b.Loop() {
		res, err := e.Upload(context.Background(), req)
		if err != nil || res.FailureInfo != nil {
			b.Fatal(err, res.FailureInfo)
		}
	}
}

// benchSink starts the benchmark harness's discarding blob sink in this
// process and returns a container URL on it.
func benchSink(b *testing.B) string {
	b.Helper()
	base, stop, err := sink.Serve(sink.New(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return base + "/devstoreaccount1/bench?sv=2021-06-08&sp=w&sig=bm90LWNoZWNrZWQ%3D"
}

// benchUploadSink uploads files × size random bytes through the engine with
// its defaults (as an agent does) to the in-process sink.
func benchUploadSink(b *testing.B, files int, size int64) {
	benchUploadSinkOpts(b, files, size, outputfiles.Options{})
}

// benchUploadSinkOpts is benchUploadSink with engine options.
func benchUploadSinkOpts(b *testing.B, files int, size int64, opts outputfiles.Options) {
	content := make([]byte, size)
	rand.Read(content)
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "wd", "o"), 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, "wd", "o", fmt.Sprintf("f%05d.bin", i)), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	op, err := outputfiles.NewOpener(azure.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	e := outputfiles.New(op, opts)
	req := outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{out("o/*", benchSink(b), "p")}}
	b.SetBytes(int64(files) * size)
	for b.Loop() {
		res, err := e.Upload(context.Background(), req)
		if err != nil || res.FailureInfo != nil || res.Uploaded != files {
			b.Fatal(err, res.FailureInfo)
		}
		os.Remove(filepath.Join(dir, outputfiles.OutLogName)) // keep the log from growing across iterations
	}
}

// BenchmarkUploadSink1000Small uploads 1,000 files of 4 KiB to the sink:
// the per-file cost (plan, open, MD5, one Put Blob, logs).
func BenchmarkUploadSink1000Small(b *testing.B) { benchUploadSink(b, 1000, 4<<10) }

// BenchmarkUploadSink256MiB uploads one 256 MiB file to the sink: the block
// pipeline (read, MD5, parallel Put Block, Put Block List).
func BenchmarkUploadSink256MiB(b *testing.B) { benchUploadSink(b, 1, 256<<20) }

// BenchmarkUploadSinkSmallParallelism uploads 2,000 files of 4 KiB with 8,
// 16 and 32 small files at once.
func BenchmarkUploadSinkSmallParallelism(b *testing.B) {
	for _, n := range []int{8, 16, 32} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchUploadSinkOpts(b, 2000, 4<<10, outputfiles.Options{Parallelism: 8, SmallParallelism: n})
		})
	}
}
