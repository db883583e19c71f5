package agent

import (
	"bytes"
	"context"
	"crypto/md5"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/s3"
	"github.com/openbatch/openbatch/internal/testenv"
	"github.com/openbatch/openbatch/outputfiles"
)

// TestS3ResourceAndOutputFiles runs a task against s3rver: its resource
// files come from a storageContainerUrl on the S3 endpoint (with a blob
// prefix), and its output files go to an s3:// destination, with the
// file's MD5 as the object's Content-MD5.
func TestS3ResourceAndOutputFiles(t *testing.T) {
	srv := testenv.StartS3rver(t)
	so := &s3.Options{Endpoint: srv.Endpoint, AccessKeyID: testenv.S3rverKey, SecretAccessKey: testenv.S3rverSecret}
	op, err := outputfiles.NewOpenerWithS3(azure.Options{Logger: testLogger(t)}, so)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bucket, err := op.Open(ctx, "s3://data", blob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr, _ := blob.AsCreator(bucket)
	if err := cr.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"in/a.txt": "alpha\n", "in/sub/b.txt": "beta\n", "other/c.txt": "no"} {
		if _, err := bucket.Put(ctx, name, strings.NewReader(content), int64(len(content)), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	node := testNode(t)
	r := testRunner(t, func(c *Config) {
		c.S3 = so
		c.AfterProcess = []Step{OutputFilesStep{Opener: op}}
	})
	spec := taskSpec(node, "/bin/sh -c 'cat in/a.txt in/sub/b.txt > result.txt'")
	spec.ResourceFiles = []api.ResourceFile{{StorageContainerURL: srv.Endpoint + "/data", BlobPrefix: "in/"}}
	spec.OutputFiles = []api.OutputFile{{FilePattern: "result.txt",
		Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: "s3://data/out", Path: "task1/result.txt"}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnSuccess}}}
	res := r.Run(ctx, spec)
	if res.FailureInfo != nil || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result %+v %+v", res, res.FailureInfo)
	}
	p, _ := node.Layout.TaskPaths("job1", "task1")
	if _, err := os.Stat(filepath.Join(p.WorkingDir, "other", "c.txt")); err == nil {
		t.Error("a blob outside the prefix was downloaded")
	}
	rc, props, err := bucket.Get(ctx, "out/task1/result.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	want := "alpha\nbeta\n"
	sum := md5.Sum([]byte(want))
	if string(got) != want || !bytes.Equal(props.ContentMD5, sum[:]) {
		t.Errorf("result object %q md5 %x, want %q %x", got, props.ContentMD5, want, sum)
	}
}
