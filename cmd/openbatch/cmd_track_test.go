package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/conventions"
	"github.com/openbatch/openbatch/internal/testenv"
)

// trackTestEnv prepares a job container on Azurite, a task environment as
// Batch sets it, and a clean credential environment; it returns the
// container and the connection string.
func trackTestEnv(t *testing.T) (*testenv.Azurite, *conventions.JobContainer, string) {
	t.Helper()
	a := testenv.SharedAzurite(t)
	jobID := fmt.Sprintf("Track_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid())
	c, err := conventions.PrepareOutputStorage(context.Background(), conventions.StorageConfig{AccountName: a.Account, AccountKey: a.Key, BlobEndpoint: a.Endpoint}, jobID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{envOutputContainerURL, envConnectionString, envStorageAccount, envStorageKey, envBlobEndpoint} {
		t.Setenv(k, "")
	}
	t.Setenv("AZ_BATCH_JOB_ID", jobID)
	t.Setenv("AZ_BATCH_TASK_ID", "task-1")
	t.Chdir(t.TempDir())
	return a, c, a.ConnectionString()
}

func blobText(t *testing.T, a *testenv.Azurite, c *conventions.JobContainer, name string) (string, bool) {
	t.Helper()
	if !slices.Contains(a.Blobs(t, c.Name()), name) {
		return "", false
	}
	b, _ := a.Download(t, c.Name(), name)
	return string(b), true
}

func TestTrackStreamsWhileCommandRunsAndKeepsExitCode(t *testing.T) {
	a, c, conn := trackTestEnv(t)
	cmd := newTrackCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--connection-string", conn, "--interval", "200ms", "out.log", "--",
		"/bin/sh", "-c", `for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i" >> out.log; sleep 0.2; done; echo done; exit 3`})
	errc := make(chan error, 1)
	go func() { errc <- cmd.ExecuteContext(context.Background()) }()

	seen := map[int]bool{}
	var err error
poll:
	for {
		select {
		case err = <-errc:
			break poll
		case <-time.After(150 * time.Millisecond):
			if s, ok := blobText(t, a, c, "task-1/$TaskLog/out.log"); ok && s != "" {
				seen[len(s)] = true
			}
		}
	}
	var ee *trackExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("track returned %v, want exit code 3; stderr:\n%s", err, errOut.String())
	}
	if len(seen) < 2 {
		t.Errorf("blob seen with %d distinct lengths while the command ran, want ≥ 2", len(seen))
	}
	want, _ := os.ReadFile("out.log")
	if got, _ := blobText(t, a, c, "task-1/$TaskLog/out.log"); got != string(want) || !strings.Contains(got, "line 10\n") {
		t.Errorf("blob = %q, file = %q", got, want)
	}
	if out.String() != "done\n" {
		t.Errorf("command stdout = %q", out.String())
	}
	if strings.Contains(errOut.String(), "AccountKey") {
		t.Errorf("stderr shows the key: %s", errOut.String())
	}
}

func TestTrackForwardsSignals(t *testing.T) {
	a, c, conn := trackTestEnv(t)
	cmd := newTrackCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--connection-string", conn, "--interval", "1h", "--kind", "TaskOutput", "sig.log", "--",
		"/bin/sh", "-c", `trap 'echo got TERM >> sig.log; exit 7' TERM; echo ready >> sig.log; while true; do sleep 0.1; done`})
	errc := make(chan error, 1)
	go func() { errc <- cmd.Execute() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile("sig.log"); strings.Contains(string(b), "ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("command did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var ee *trackExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("track returned %v, want exit code 7", err)
	}
	if got, _ := blobText(t, a, c, "task-1/$TaskOutput/sig.log"); got != "ready\ngot TERM\n" {
		t.Errorf("blob = %q", got)
	}
}

func TestTrackUsage(t *testing.T) {
	for _, args := range [][]string{{"f.log"}, {"--", "true"}, {"f.log", "--"}} {
		cmd := newTrackCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil {
			t.Errorf("track %q succeeded", args)
		}
	}
	if d, err := trackDestination("../stdout.txt"); err != nil || d != "stdout.txt" {
		t.Errorf("trackDestination = %q, %v", d, err)
	}
	if d, err := trackDestination("/mnt/batch/tasks/x/stderr.txt"); err != nil || d != "stderr.txt" {
		t.Errorf("trackDestination = %q, %v", d, err)
	}
}

func TestOutputsListAndDownload(t *testing.T) {
	a, c, conn := trackTestEnv(t)
	ctx := context.Background()
	task, _ := c.Task("task-1")
	for _, p := range []string{"out/a.txt", "out/sub/b.csv", "c.txt"} {
		if err := task.SaveText(ctx, conventions.TaskOutput, "content of "+p, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := task.SaveText(ctx, conventions.TaskLog, "log", "stdout.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Job().SaveText(ctx, conventions.JobOutput, "job", "final.txt"); err != nil {
		t.Fatal(err)
	}
	jobID := os.Getenv("AZ_BATCH_JOB_ID")
	run := func(args ...string) string {
		t.Helper()
		cmd := newOutputsCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("outputs %q: %v\n%s", args, err, out.String())
		}
		return out.String()
	}

	out := run("list", "--connection-string", conn, "--job", jobID, "--task", "task-1", "--kind", "TaskOutput")
	if !strings.Contains(out, "out/sub/b.csv") || strings.Contains(out, "stdout.txt") || strings.Count(out, "\n") != 4 {
		t.Errorf("list:\n%s", out)
	}
	out = run("list", "--connection-string", conn, "--job", jobID, "--pattern", "**/*.csv")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "b.csv") {
		t.Errorf("list --pattern:\n%s", out)
	}

	dest := t.TempDir()
	run("download", "--connection-string", conn, "--job", jobID, "--task", "task-1", "--kind", "TaskOutput", "--dest", dest)
	if b, err := os.ReadFile(filepath.Join(dest, "out", "sub", "b.csv")); err != nil || string(b) != "content of out/sub/b.csv" {
		t.Errorf("downloaded b.csv = %q, %v", b, err)
	}

	// With a SAS URL from `conventions sas-url`, and the whole container.
	t.Setenv(envStorageAccount, a.Account)
	t.Setenv(envStorageKey, a.Key)
	t.Setenv(envBlobEndpoint, a.Endpoint)
	cc := newConventionsCmd()
	var sasOut bytes.Buffer
	cc.SetOut(&sasOut)
	cc.SetArgs([]string{"sas-url", jobID})
	if err := cc.Execute(); err != nil {
		t.Fatal(err)
	}
	sasURL := strings.TrimSpace(sasOut.String())
	dest = t.TempDir()
	run("download", "--container-url", sasURL, "--dest", dest)
	for _, p := range []string{"task-1/$TaskOutput/c.txt", "task-1/$TaskLog/stdout.txt", "$JobOutput/final.txt"} {
		if _, err := os.Stat(filepath.Join(dest, filepath.FromSlash(p))); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
}

func TestConventionsContainerName(t *testing.T) {
	cmd := newConventionsCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"container-name", "my_job-bob"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "job-my-job-bob-e04620bc2add214df74e158ba60d24273a0e0927\n" {
		t.Errorf("container-name = %q", got)
	}
	cmd = newConventionsCmd()
	out.Reset()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"output-files", "--container-url", "https://a.blob.core.windows.net/job-x?sig=s", "--task", "t1", "--logs", "out/*.csv"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `"path": "t1/$TaskOutput/out"`) || !strings.Contains(s, `"path": "t1/$TaskLog"`) || !strings.Contains(s, `"uploadCondition": "taskcompletion"`) {
		t.Errorf("output-files:\n%s", s)
	}
}
