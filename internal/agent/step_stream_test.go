package agent

import (
	"bytes"
	"context"
	"crypto/md5"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/testenv"
	"github.com/openbatch/openbatch/outputfiles"
)

// TestStreamOutputs runs a task that writes a file over ~3 s with
// OPENBATCH_STREAM_OUTPUTS naming it, against Azurite: the destination blob
// is seen growing while the task runs, and after the task the blob equals
// the file, with its Content-MD5, as a block blob (a normal upload).
func TestStreamOutputs(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	sas := a.ContainerSAS(t, cn, "racwl", time.Now().Add(time.Hour))
	op, err := outputfiles.NewOpener(azure.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	st := &Streamer{Opener: op, Interval: 150 * time.Millisecond}
	node := testNode(t)
	r := testRunner(t, func(c *Config) {
		c.BeforeProcess = []Step{st.StartStep()}
		c.AfterProcess = []Step{st.StopStep(), OutputFilesStep{Opener: op}}
	})
	spec := taskSpec(node, `/bin/sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i of the progress file" >> progress.txt; echo out $i; sleep 0.25; done'`)
	dest := func(pattern, path string) api.OutputFile {
		return api.OutputFile{FilePattern: pattern,
			Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: sas, Path: path}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}
	}
	spec.OutputFiles = []api.OutputFile{dest("progress.txt", "live/progress.txt"), dest("../stdout.txt", "live/stdout.txt")}
	spec.Environment = []api.EnvironmentSetting{{Name: StreamEnv, Value: "../stdout.txt; *.txt"}}

	bc, err := op.Open(context.Background(), sas, blob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- r.Run(context.Background(), spec) }() // the test waits for it below
	sizes := map[int64]bool{}
	var res Result
poll:
	for {
		select {
		case res = <-done:
			break poll
		case <-time.After(50 * time.Millisecond):
		}
		if p, err := bc.Stat(context.Background(), "live/progress.txt"); err == nil && p.BlobType == blob.AppendBlob && p.Size > 0 {
			sizes[p.Size] = true
		}
	}
	if res.FailureInfo != nil || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	if len(sizes) < 2 {
		t.Errorf("streamed blob seen at %d distinct sizes while the task ran, want a growing blob", len(sizes))
	}
	p, _ := node.Layout.TaskPaths("job1", "task1")
	for file, name := range map[string]string{filepath.Join(p.WorkingDir, "progress.txt"): "live/progress.txt", filepath.Join(p.Dir, "stdout.txt"): "live/stdout.txt"} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rc, props, err := bc.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		sum := md5.Sum(want)
		if !bytes.Equal(got, want) || !bytes.Equal(props.ContentMD5, sum[:]) {
			t.Errorf("%s: %d bytes (file %d), md5 %x want %x", name, len(got), len(want), props.ContentMD5, sum)
		}
		if sp, err := bc.Stat(context.Background(), name); err != nil || sp.BlobType != blob.BlockBlob {
			t.Errorf("%s: final blob type %q (%v), want a normal upload", name, sp.BlobType, err)
		}
	}
}

func TestSplitStreamPatterns(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"../stdout.txt", []string{"../stdout.txt"}},
		{" ../stdout.txt ; ;wd/p/*.csv;", []string{"../stdout.txt", "wd/p/*.csv"}},
	}
	for _, tt := range tests {
		if got := splitStreamPatterns(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitStreamPatterns(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSplitStreamPatterns(f *testing.F) {
	f.Add("../stdout.txt;../stderr.txt;wd/progress/*.csv")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range splitStreamPatterns(s) {
			if p == "" || strings.Contains(p, ";") || strings.TrimSpace(p) != p {
				t.Fatalf("pattern %q from %q", p, s)
			}
			// Every pattern is usable by the matcher without panicking.
			_ = streamed("/tmp/x", []string{p}, "/tmp/wd", nil)
		}
	})
}
