package agent_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/testenv"
)

// Settings of TestCrashDuringUploadRunsOnce, for longer runs by hand:
// OPENBATCH_CRASH_TRIALS=50 OPENBATCH_CRASH_SIZE_MIB=1024 go test ./test/agent -run Crash -timeout 2h
const (
	crashTrialsEnv = "OPENBATCH_CRASH_TRIALS"
	crashSizeEnv   = "OPENBATCH_CRASH_SIZE_MIB"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestCrashDuringUploadRunsOnce kills (SIGKILL) the agent at a random point
// after a task's process has exited, while its large output is uploaded,
// and starts it again on the same root. In every trial the command has run
// exactly once (it appends a line to a counter file outside its task
// directory), the blob is complete with the file's Content-MD5, and the
// task completed with the exit code its process had, on its original lease
// (not requeued).
func TestCrashDuringUploadRunsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("slow end-to-end test")
	}
	trials := envInt(t, crashTrialsEnv, 10)
	sizeMiB := envInt(t, crashSizeEnv, 64)
	az := testenv.SharedAzurite(t)
	cn := az.NewContainer(t)

	// A heartbeat timeout long enough for a killed agent to come back on a
	// loaded machine: the node keeps its leases meanwhile.
	logs := &testenv.SyncBuffer{}
	dumpOnFailure(t, "server log", logs)
	srv, err := app.Start(context.Background(), app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		HeartbeatTimeout: 30 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	setupPool(t, c, "pool", "job")

	dir := t.TempDir()
	root := filepath.Join(dir, "node")
	counters := filepath.Join(dir, "counters")
	if err := os.Mkdir(counters, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(counters, 0o777); err != nil { // tasks run as other users when the agent is root
		t.Fatal(err)
	}
	allowTraverse(t, filepath.Join(counters, "x"))
	agent := startAgent(t, srv, "pool", "node-c", root)
	waitNodesIdle(t, c, "pool", "node-c")

	runs := filepath.Join(root, "volatile", "runs")
	cc := az.Client(t).ServiceClient().NewContainerClient(cn)
	midUpload, resumedBlocks := 0, 0
	for trial := range trials {
		id := fmt.Sprintf("t%d", trial)
		exit := trial % 3
		perms := []string{"w", "rcw"}[trial%2] // without r, the agent cannot list staged blocks and trusts its journal
		counter := filepath.Join(counters, id)
		cmd := fmt.Sprintf(`/bin/sh -c 'echo ran >> %s; head -c %d /dev/urandom > out.bin; exit %d'`, counter, sizeMiB<<20, exit)
		task := &api.Task{ID: id, CommandLine: cmd, OutputFiles: []api.OutputFile{{FilePattern: "out.bin",
			Destination: api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{
				ContainerURL: az.ContainerSAS(t, cn, perms, time.Now().Add(time.Hour)), Path: id + "/out.bin"}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}}}
		ctx := ctxT(t, 3*time.Minute)
		if err := c.AddTask(ctx, "job", task); err != nil {
			t.Fatal(err)
		}

		// The process has exited once its run is recorded; the upload
		// follows. Kill at a random point of it.
		for deadline := time.Now().Add(2 * time.Minute); ; {
			if m, _ := filepath.Glob(filepath.Join(runs, "*.rec")); len(m) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("trial %d: no run recorded in %s", trial, runs)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if trial%4 >= 2 {
			// Half the trials kill as soon as the upload has staged a
			// block, so that some kill lands mid-upload however fast or
			// loaded the machine (a random delay alone missed the upload
			// in all 10 trials of a loaded run).
			waitStaged(ctx, t, cc.NewBlockBlobClient(id+"/out.bin"))
		} else {
			time.Sleep(time.Duration(rand.IntN(sizeMiB*15+1)) * time.Millisecond)
		}
		agent.kill(t)
		bl, err := cc.NewBlockBlobClient(id+"/out.bin").GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		staged := err == nil && len(bl.UncommittedBlocks) > 0 && len(bl.CommittedBlocks) == 0
		if staged {
			midUpload++
		}

		agent = startAgent(t, srv, "pool", "node-c", root)
		done := waitTask(t, c, "job", id, 2*time.Minute, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })

		if b, err := os.ReadFile(counter); err != nil || string(b) != "ran\n" {
			t.Fatalf("trial %d: the command ran %d times (counter %q, %v), want once", trial, strings.Count(string(b), "ran"), b, err)
		}
		ei := done.ExecutionInfo
		if ei == nil || ei.ExitCode == nil || *ei.ExitCode != int32(exit) || ei.RequeueCount != 0 || ei.RetryCount != 0 {
			t.Fatalf("trial %d: execution info %+v, want exit code %d on the original lease", trial, ei, exit)
		}
		if want := api.ResultSuccess; exit == 0 && ei.Result != want || exit != 0 && ei.Result != api.ResultFailure {
			t.Fatalf("trial %d: result %s for exit code %d (failure %+v)", trial, ei.Result, exit, ei.FailureInfo)
		}
		if exit != 0 && (ei.FailureInfo == nil || ei.FailureInfo.Code != api.FailureExitCode) {
			t.Fatalf("trial %d: failure info %+v, want %s", trial, ei.FailureInfo, api.FailureExitCode)
		}

		file := filepath.Join(root, "workitems", "job", "job-1", id, "wd", "out.bin")
		want := fileMD5(t, file)
		got, props := az.Download(t, cn, id+"/out.bin")
		sum := md5.Sum(got)
		if int64(len(got)) != int64(sizeMiB)<<20 || !bytes.Equal(sum[:], want) || !bytes.Equal(props.ContentMD5, want) {
			t.Fatalf("trial %d: blob has %d bytes, MD5 %x, Content-MD5 %x; the file's MD5 is %x", trial, len(got), sum, props.ContentMD5, want)
		}
		log, err := os.ReadFile(filepath.Join(root, "workitems", "job", "job-1", id, "fileuploadout.txt"))
		if err != nil {
			t.Fatal(err)
		}
		resumed := strings.Contains(string(log), "Resuming output file upload after an agent restart")
		if staged && !resumed {
			t.Fatalf("trial %d: killed mid-upload, but fileuploadout.txt does not say the upload resumed:\n%s", trial, log)
		}
		if strings.Contains(string(log), "Upload resumed") {
			resumedBlocks++
		}
		if m, _ := filepath.Glob(filepath.Join(runs, "*.rec")); len(m) > 0 {
			// The record goes once the report is in; poll briefly.
			waitNoRecords(t, runs)
		}
		t.Logf("trial %d: exit %d, SAS %s, killed mid-upload %v, resumed %v", trial, exit, perms, staged, resumed)
	}
	t.Logf("%d trials of %d MiB: %d killed with blocks staged and uncommitted, %d resumed reusing staged blocks", trials, sizeMiB, midUpload, resumedBlocks)
	if midUpload == 0 {
		t.Errorf("no trial killed the agent in the middle of an upload: the kill timing needs tuning for this machine")
	}
}

func fileMD5(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

func waitNoRecords(t *testing.T, dir string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		m, _ := filepath.Glob(filepath.Join(dir, "*.rec"))
		if len(m) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run records left after the task completed: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashResumeTooLate kills the agent during an upload and starts it
// again only after the server has requeued its task (heartbeat timeout): the
// recorded outcome is discarded, the task runs again as after any node loss,
// and completes once, with its outputs.
func TestCrashResumeTooLate(t *testing.T) {
	if testing.Short() {
		t.Skip("slow end-to-end test")
	}
	az := testenv.SharedAzurite(t)
	cn := az.NewContainer(t)
	srv, c := startServer(t)
	setupPool(t, c, "pool", "job")
	dir := t.TempDir()
	root := filepath.Join(dir, "node")
	counter := filepath.Join(dir, "counters", "late")
	if err := os.Mkdir(filepath.Dir(counter), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(counter), 0o777); err != nil {
		t.Fatal(err)
	}
	allowTraverse(t, counter)
	a := startAgent(t, srv, "pool", "node-l", root)
	waitNodesIdle(t, c, "pool", "node-l")
	ctx := ctxT(t, 2*time.Minute)
	cmd := fmt.Sprintf(`/bin/sh -c 'echo ran >> %s; head -c %d /dev/urandom > out.bin'`, counter, 32<<20)
	if err := c.AddTask(ctx, "job", &api.Task{ID: "late", CommandLine: cmd, OutputFiles: []api.OutputFile{{FilePattern: "out.bin",
		Destination: api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{
			ContainerURL: az.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnSuccess}}}}); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(root, "volatile", "runs")
	for deadline := time.Now().Add(time.Minute); ; {
		if m, _ := filepath.Glob(filepath.Join(runs, "*.rec")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no run recorded")
		}
		time.Sleep(2 * time.Millisecond)
	}
	a.kill(t)
	waitTask(t, c, "job", "late", heartbeatTimeout+10*time.Second, "requeued", func(tk *api.Task) bool {
		return tk.ExecutionInfo != nil && tk.ExecutionInfo.RequeueCount == 1
	})
	a = startAgent(t, srv, "pool", "node-l", root)
	done := waitTask(t, c, "job", "late", time.Minute, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })
	if ei := done.ExecutionInfo; ei.Result != api.ResultSuccess || ei.RequeueCount != 1 {
		t.Fatalf("execution info %+v", ei)
	}
	if b, _ := os.ReadFile(counter); string(b) != "ran\nran\n" {
		t.Fatalf("counter %q: the requeued task should have run again, once", b)
	}
	if !strings.Contains(a.logs.String(), "task requeued while the agent was away") {
		t.Fatalf("the restarted agent did not discard its recorded run:\n%s", a.logs.String())
	}
	want := fileMD5(t, filepath.Join(root, "workitems", "job", "job-1", "late", "wd", "out.bin"))
	if got, props := az.Download(t, cn, "out.bin"); !bytes.Equal(props.ContentMD5, want) || len(got) != 32<<20 {
		t.Fatalf("blob: %d bytes, Content-MD5 %x; file MD5 %x", len(got), props.ContentMD5, want)
	}
	waitNoRecords(t, runs)
}

// waitStaged waits until blob has uncommitted blocks (an upload under way)
// or committed ones (the upload is over), for at most 30 s.
func waitStaged(ctx context.Context, t *testing.T, blob *blockblob.Client) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		bl, err := blob.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		if err == nil && (len(bl.UncommittedBlocks) > 0 || len(bl.CommittedBlocks) > 0) {
			return
		}
	}
}
