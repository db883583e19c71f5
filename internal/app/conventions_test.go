package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/conventions"
	"github.com/openbatch/openbatch/internal/testenv"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// openbatchBinary builds cmd/openbatch once per test run.
func openbatchBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "openbatch-bin-*")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "openbatch")
		binary.err = testenv.BuildOpenbatch(binary.path)
	})
	if binary.err != nil {
		t.Fatalf("build openbatch: %v", binary.err)
	}
	return binary.path
}

func conventionsStorage(t *testing.T, az *testenv.Azurite, jobID string) string {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	cfg := conventions.StorageConfig{AccountName: az.Account, AccountKey: az.Key, BlobEndpoint: az.Endpoint}
	if _, err := conventions.PrepareOutputStorage(ctx, cfg, jobID); err != nil {
		t.Fatal(err)
	}
	sasURL, err := conventions.ContainerSASURL(cfg, jobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sasURL
}

// Output files built by the conventions builders land at
// job-{id}/{taskId}/$TaskOutput/… and …/$TaskLog/…, and `openbatch outputs
// list --kind TaskOutput` lists exactly the TaskOutput files.
func TestConventionsBuildersAndOutputsList(t *testing.T) {
	az := testenv.SharedAzurite(t)
	bin := openbatchBinary(t)
	jobID := fmt.Sprintf("Conv_Job-%d", time.Now().UnixNano())
	sasURL := conventionsStorage(t, az, jobID)
	outs, err := conventions.TaskOutputFiles(sasURL, "t1", conventions.TaskOutput, "out/*.csv")
	if err != nil {
		t.Fatal(err)
	}
	logs, err := conventions.TaskLogFiles(sasURL, "t1")
	if err != nil {
		t.Fatal(err)
	}
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 1, &api.Job{ID: jobID})
	ctx := ctxT(t, 60*time.Second)
	if err := c.AddTask(ctx, jobID, &api.Task{ID: "t1", CommandLine: `/bin/sh -c 'mkdir out; echo 1 > out/a.csv; echo 2 > out/b.csv; echo x > out/c.txt; echo logged'`,
		OutputFiles: append(outs, logs...)}); err != nil {
		t.Fatal(err)
	}
	if tk, err := c.WaitTask(ctx, jobID, "t1"); err != nil || tk.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("task: %v %+v", err, tk.ExecutionInfo)
	}
	container := conventions.ContainerName(jobID)
	blobs := az.Blobs(t, container)
	want := []string{"t1/$TaskLog/stderr.txt", "t1/$TaskLog/stdout.txt", "t1/$TaskOutput/out/a.csv", "t1/$TaskOutput/out/b.csv"}
	if strings.Join(blobs, ",") != strings.Join(want, ",") {
		t.Fatalf("blobs in %s = %v, want %v", container, blobs, want)
	}
	cmd := exec.CommandContext(ctx, bin, "outputs", "list", "--job", jobID, "--task", "t1", "--kind", "TaskOutput",
		"--connection-string", az.ConnectionString())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("outputs list: %v\n%s", err, out)
	}
	if strings.Count(string(out), ".csv") != 2 || !strings.Contains(string(out), "a.csv") || !strings.Contains(string(out), "b.csv") ||
		strings.Contains(string(out), "stdout.txt") || strings.Contains(string(out), "c.txt") {
		t.Fatalf("outputs list printed:\n%s", out)
	}
}

// `openbatch track ../stdout.txt -- …` inside a task streams the growing
// stdout to {taskId}/$TaskLog/stdout.txt while the task runs; after a retry
// the blob still equals the task's stdout.txt byte for byte.
func TestTrackStreamsStdoutAcrossRetry(t *testing.T) {
	az := testenv.SharedAzurite(t)
	bin := openbatchBinary(t)
	jobID := fmt.Sprintf("trackjob-%d", time.Now().UnixNano()) // a fresh container per run
	conventionsStorage(t, az, jobID)
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 1, &api.Job{ID: jobID})
	ctx := ctxT(t, 3*time.Minute)
	// The case is a 30-second task (each of its two runs 30 s);
	// -short runs 3-second runs.
	lines, interval := 120, "1s"
	if testing.Short() {
		lines, interval = 12, "300ms"
	}
	script := fmt.Sprintf(`for i in $(seq 1 %d); do echo "run line $i"; sleep 0.25; done; `, lines) +
		`if [ ! -f "$AZ_BATCH_NODE_SHARED_DIR/retried" ]; then touch "$AZ_BATCH_NODE_SHARED_DIR/retried"; exit 1; fi`
	task := &api.Task{ID: "tracked", CommandLine: bin + ` track --interval ` + interval + ` ../stdout.txt -- /bin/sh -c '` + script + `'`,
		EnvironmentSettings: []api.EnvironmentSetting{{Name: "AZURE_STORAGE_CONNECTION_STRING", Value: az.ConnectionString()}},
		Constraints:         &api.TaskConstraints{MaxTaskRetryCount: api.I32(1)}}
	if err := c.AddTask(ctx, jobID, task); err != nil {
		t.Fatal(err)
	}
	container := conventions.ContainerName(jobID)
	blob := az.Client(t).ServiceClient().NewContainerClient(container).NewBlobClient("tracked/$TaskLog/stdout.txt")
	seen := map[int64]bool{}
	for {
		tk, err := c.GetTask(ctx, jobID, "tracked")
		if err != nil {
			t.Fatal(err)
		}
		if tk.State == api.TaskCompleted {
			if tk.ExecutionInfo.RetryCount != 1 || tk.ExecutionInfo.Result != api.ResultSuccess {
				t.Fatalf("executionInfo = %+v", tk.ExecutionInfo)
			}
			break
		}
		if props, err := blob.GetProperties(ctx, nil); err == nil && props.ContentLength != nil && *props.ContentLength > 0 {
			seen[*props.ContentLength] = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(seen) < 2 {
		t.Fatalf("the growing stdout was visible in storage at %d sizes before the task ended; want at least 2", len(seen))
	}
	stdout, err := c.GetTaskFile(ctx, jobID, "tracked", "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := az.Download(t, container, "tracked/$TaskLog/stdout.txt")
	if string(got) != string(stdout) {
		t.Fatalf("blob (%d bytes) differs from stdout.txt (%d bytes)\nblob:\n%s\nfile:\n%s", len(got), len(stdout), got, stdout)
	}
	if n := strings.Count(string(stdout), "run line 1\n"); n != 2 {
		t.Fatalf("stdout.txt has %d runs; want 2 (one retry)", n)
	}
	sizes := make([]int, 0, len(seen))
	for s := range seen {
		sizes = append(sizes, int(s))
	}
	sort.Ints(sizes)
	t.Logf("blob sizes seen while running: %v; final %d bytes", sizes, len(got))
}
