package outputfiles_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
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
