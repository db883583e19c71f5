package conventions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/testenv"
)

// newJobContainer returns an empty container on the shared Azurite.
func newJobContainer(t *testing.T) (*testenv.Azurite, *JobContainer) {
	t.Helper()
	a := testenv.SharedAzurite(t)
	name := a.NewContainer(t)
	c, err := OpenJobContainer(context.Background(), a.ContainerSAS(t, name, "racwdl", time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

// azuriteConfig is the shared-key StorageConfig of a.
func azuriteConfig(a *testenv.Azurite) StorageConfig {
	return StorageConfig{AccountName: a.Account, AccountKey: a.Key, BlobEndpoint: a.Endpoint}
}

var jobSeq atomic.Int64

// uniqueJobID returns a job ID no other test uses, with characters that make
// ContainerName hash it.
func uniqueJobID(t *testing.T) string {
	return fmt.Sprintf("Job_%s_%d_%d", strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid(), jobSeq.Add(1))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSaveListGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, c := newJobContainer(t)
	task, err := c.Task("task-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, filepath.Join(dir, "wd", "out", "a.txt"), "alpha")
	writeFile(t, filepath.Join(dir, "stdout.txt"), "hello from stdout")

	t.Chdir(filepath.Join(dir, "wd"))
	if err := task.Save(ctx, TaskOutput, "out/a.txt"); err != nil {
		t.Fatal(err)
	}
	if err := task.Save(ctx, TaskLog, "../stdout.txt"); err != nil {
		t.Fatal(err)
	}
	if err := task.SaveAs(ctx, TaskOutput, "out/a.txt", `renamed\b.txt`); err != nil {
		t.Fatal(err)
	}
	if err := task.SaveText(ctx, TaskPreview, "preview text", "p.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Job().SaveText(ctx, JobOutput, "merged", "final/merged.txt"); err != nil {
		t.Fatal(err)
	}
	if err := task.Save(ctx, TaskOutput, "../../escape.txt"); err == nil || !errors.Is(err, os.ErrNotExist) {
		// the blob name is fine ("escape.txt"), the source is missing
		t.Fatalf("save of a missing file: %v", err)
	}
	if err := task.SaveAs(ctx, TaskOutput, "out/a.txt", "a/../../b"); !errors.Is(err, ErrInvalidPath) {
		t.Fatalf("escaping destination accepted: %v", err)
	}

	got := a.Blobs(t, c.Name())
	want := []string{"$JobOutput/final/merged.txt", "task-1/$TaskLog/stdout.txt", "task-1/$TaskOutput/out/a.txt",
		"task-1/$TaskOutput/renamed/b.txt", "task-1/$TaskPreview/p.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("blobs = %q, want %q", got, want)
	}

	refs, err := task.List(ctx, TaskOutput)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range refs {
		paths = append(paths, r.FilePath)
		if r.TaskID != "task-1" || r.Kind != TaskOutput {
			t.Errorf("ref %+v", r.BlobLocation)
		}
	}
	if !slices.Equal(paths, []string{"out/a.txt", "renamed/b.txt"}) {
		t.Errorf("FilePaths = %q", paths)
	}

	ref, err := task.Get(ctx, TaskLog, "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Size != int64(len("hello from stdout")) || strings.Contains(ref.URL(), "sig=") {
		t.Errorf("ref = %+v, URL %s", ref, ref.URL())
	}
	var buf bytes.Buffer
	if _, err := task.Download(ctx, TaskLog, "stdout.txt", &buf); err != nil || buf.String() != "hello from stdout" {
		t.Fatalf("download = %q, %v", buf.String(), err)
	}
	dst := filepath.Join(t.TempDir(), "x", "a.txt")
	if _, err := refs[0].DownloadToFile(ctx, dst, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "alpha" {
		t.Errorf("downloaded %q", b)
	}
	if _, err := task.Get(ctx, TaskLog, "missing.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing output: %v, want ErrNotFound", err)
	}

	jobRefs, err := c.Job().List(ctx, JobOutput)
	if err != nil || len(jobRefs) != 1 || jobRefs[0].FilePath != "final/merged.txt" || jobRefs[0].TaskID != "" {
		t.Errorf("job list = %+v, %v", jobRefs, err)
	}

	all, err := c.List(ctx, ListFilter{Kind: TaskOutput})
	if err != nil || len(all) != 2 {
		t.Errorf("container list by kind = %+v, %v", all, err)
	}
	all, err = c.List(ctx, ListFilter{TaskID: "task-1"})
	if err != nil || len(all) != 4 {
		t.Errorf("container list by task = %d, %v", len(all), err)
	}
	all, err = c.List(ctx, ListFilter{JobOnly: true})
	if err != nil || len(all) != 1 {
		t.Errorf("container list of job outputs = %d, %v", len(all), err)
	}
}

func TestListByKindExcludesLongerCustomKind(t *testing.T) {
	ctx := context.Background()
	_, c := newJobContainer(t)
	task, _ := c.Task("t")
	x, err := NewKind("TaskOutputX")
	if err != nil {
		t.Fatal(err)
	}
	if err := task.SaveText(ctx, TaskOutput, "1", "a.txt"); err != nil {
		t.Fatal(err)
	}
	if err := task.SaveText(ctx, x, "2", "b.txt"); err != nil {
		t.Fatal(err)
	}
	refs, err := task.List(ctx, TaskOutput)
	if err != nil || len(refs) != 1 || refs[0].FilePath != "a.txt" {
		t.Fatalf("List(TaskOutput) = %+v, %v", refs, err)
	}
	refs, err = task.List(ctx, x)
	if err != nil || len(refs) != 1 || refs[0].FilePath != "b.txt" || refs[0].Kind != x {
		t.Fatalf("List(TaskOutputX) = %+v, %v", refs, err)
	}
	// Another task whose ID extends this one's is not listed either.
	other, _ := c.Task("t2")
	if err := other.SaveText(ctx, TaskOutput, "3", "c.txt"); err != nil {
		t.Fatal(err)
	}
	if refs, _ := task.List(ctx, TaskOutput); len(refs) != 1 {
		t.Fatalf("List picked up another task's outputs: %+v", refs)
	}
}

func TestPrepareOutputStorageIsIdempotent(t *testing.T) {
	ctx := context.Background()
	a := testenv.SharedAzurite(t)
	svc := azuriteConfig(a)
	jobID := uniqueJobID(t)
	c, err := PrepareOutputStorage(ctx, svc, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != ContainerName(jobID) {
		t.Fatalf("container %q, want %q", c.Name(), ContainerName(jobID))
	}
	task, _ := c.Task("t")
	if err := task.SaveText(ctx, TaskOutput, "kept", "k.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareOutputStorage(ctx, svc, jobID); err != nil {
		t.Fatalf("second prepare: %v", err)
	}
	if refs, err := task.List(ctx, TaskOutput); err != nil || len(refs) != 1 {
		t.Fatalf("outputs after second prepare: %v, %v", refs, err)
	}
	missing, _ := NewTaskOutputStorage(svc, uniqueJobID(t), "t")
	if err := missing.SaveText(ctx, TaskOutput, "x", "x.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("save into a missing container: %v, want ErrNotFound", err)
	}
}

func TestContainerSASURL(t *testing.T) {
	ctx := context.Background()
	a := testenv.SharedAzurite(t)
	svc := azuriteConfig(a)
	jobID := uniqueJobID(t)
	if _, err := PrepareOutputStorage(ctx, svc, jobID); err != nil {
		t.Fatal(err)
	}

	// Default: 7 days, permissions racwl, no delete.
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	u, err := ContainerSASURL(svc, jobID, &SASOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, u)
	if se := q.Query().Get("se"); se != "2030-01-09T03:04:05Z" {
		t.Errorf("se = %q, want 7 days later", se)
	}
	if sp := q.Query().Get("sp"); sp != "racwl" {
		t.Errorf("sp = %q, want racwl", sp)
	}
	if !strings.HasSuffix(q.Path, "/"+ContainerName(jobID)) {
		t.Errorf("path %q does not end in the container name", q.Path)
	}

	// A real SAS works for upload, list and read.
	u, err = ContainerSASURL(svc, jobID, &SASOptions{Expiry: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewTaskOutputStorageFromURL(u, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := task.SaveText(ctx, TaskOutput, "via sas", "s.txt"); err != nil {
		t.Fatal(err)
	}
	refs, err := task.List(ctx, TaskOutput)
	if err != nil || len(refs) != 1 {
		t.Fatalf("list via SAS: %v, %v", refs, err)
	}
	if err := refs[0].Delete(ctx); err == nil {
		t.Error("delete allowed by the conventions SAS")
	}

	// ...and stops working once expired.
	time.Sleep(4 * time.Second)
	err = task.SaveText(ctx, TaskOutput, "too late", "late.txt")
	if err == nil {
		t.Fatal("upload with an expired SAS succeeded")
	}
	if sig := mustParse(t, u).Query().Get("sig"); strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), url.QueryEscape(sig)) {
		t.Errorf("error message shows the SAS signature: %v", err)
	}

	if _, err := ContainerSASURL(svc, jobID, &SASOptions{Expiry: -time.Second}); err == nil {
		t.Error("negative expiry accepted")
	}
	if _, err := ContainerSASURL(StorageConfig{ContainerURL: "https://a.blob.core.windows.net/c?sig=x"}, jobID, nil); err == nil {
		t.Error("SAS without a key accepted")
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
