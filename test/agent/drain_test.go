package agent_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/testenv"
)

// kill -TERM drains an agent: its running task finishes and succeeds (no
// requeue), it takes no new task, leaves its pool and exits 0.
func TestSIGTERMDrainsAgent(t *testing.T) {
	srv, c := startServer(t)
	ctx := ctxT(t, 60*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, srv, "p1", "drainme", filepath.Join(t.TempDir(), "node"))
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "long", CommandLine: "/bin/sleep 2"}); err != nil {
		t.Fatal(err)
	}
	for {
		tk, err := c.GetTask(ctx, "j1", "long")
		if err == nil && tk.State == api.TaskRunning {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the task never ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A task added during the drain waits: the draining node takes none.
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "later", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the drained agent did not exit")
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the drained agent exited %d", code)
	}
	tk, err := c.GetTask(ctx, "j1", "long")
	if err != nil || tk.State != api.TaskCompleted || tk.ExecutionInfo.Result != api.ResultSuccess || tk.ExecutionInfo.RequeueCount != 0 {
		t.Fatalf("the running task after the drain: %+v, %v", tk.ExecutionInfo, err)
	}
	if later, _ := c.GetTask(ctx, "j1", "later"); later.State != api.TaskActive {
		t.Fatalf("a draining node took a new task: %s", later.State)
	}
	nodes, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/p1/nodes")
	if err != nil || len(nodes) != 0 {
		t.Fatalf("nodes after the drain: %+v, %v", nodes, err)
	}
}

// A drain whose grace ends while a task runs, or a removenodes (requeue)
// of the agent's node, stops the task, uploads the outputs its outputFiles
// name for a failure (taskfailure and taskcompletion, not tasksuccess)
// before the node leaves, and the task is requeued; with
// OPENBATCH_UPLOAD_ON_EVICT=false nothing is uploaded.
func TestAgentUploadsOnEviction(t *testing.T) {
	az := testenv.SharedAzurite(t)
	for _, tc := range []struct {
		optOut, remove bool
	}{{false, false}, {true, false}, {false, true}} {
		optOut := tc.optOut
		t.Run(fmt.Sprintf("optOut=%v,removenodes=%v", tc.optOut, tc.remove), func(t *testing.T) {
			container := az.NewContainer(t)
			sas := az.ContainerSAS(t, container, "w", time.Now().Add(time.Hour))
			srv, c := startServer(t)
			ctx := ctxT(t, 2*time.Minute)
			if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
				t.Fatal(err)
			}
			if err := c.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
				t.Fatal(err)
			}
			a := startAgentAt(t, srv.Endpoint, srv.JoinToken, "p1", "drainer", filepath.Join(t.TempDir(), "node"), "OPENBATCH_DRAIN_GRACE=1s")
			out := func(pattern, path string, cond api.OutputFileUploadCondition) api.OutputFile {
				return api.OutputFile{FilePattern: pattern,
					Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: sas, Path: path}},
					UploadOptions: api.OutputFileUploadOptions{UploadCondition: cond}}
			}
			task := &api.Task{ID: "long", CommandLine: `/bin/sh -c 'echo partial > out.txt; echo started; sleep 120'`,
				OutputFiles: []api.OutputFile{out("out.txt", "success.txt", api.UploadOnSuccess),
					out("out.txt", "failure.txt", api.UploadOnFailure), out("../stdout.txt", "stdout.txt", api.UploadOnCompletion)}}
			if optOut {
				task.EnvironmentSettings = []api.EnvironmentSetting{{Name: "OPENBATCH_UPLOAD_ON_EVICT", Value: "false"}}
			}
			if err := c.AddTask(ctx, "j1", task); err != nil {
				t.Fatal(err)
			}
			for {
				b, err := c.GetTaskFile(ctx, "j1", "long", "stdout.txt")
				if err == nil && strings.Contains(string(b), "started") {
					break
				}
				if ctx.Err() != nil {
					t.Fatal("the task never started")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if tc.remove {
				body := api.NodeRemove{NodeList: []string{"drainer"}, NodeDeallocationOption: "requeue"}
				if _, err := c.Do(ctx, "POST", "/pools/p1/removenodes", body, nil); err != nil {
					t.Fatal(err)
				}
			} else if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-a.exited:
			case <-time.After(90 * time.Second):
				t.Fatal("the agent did not leave")
			}
			// The agent exits only after its uploads and leaving its pool.
			want := []string{"failure.txt", "stdout.txt"}
			if optOut {
				want = nil
			}
			if got := az.Blobs(t, container); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("blobs after the drain %v, want %v", got, want)
			}
			if !optOut {
				if data, _ := az.Download(t, container, "failure.txt"); string(data) != "partial\n" {
					t.Errorf("failure.txt = %q", data)
				}
			}
			tk, err := c.GetTask(ctx, "j1", "long")
			if err != nil || tk.State != api.TaskActive || tk.ExecutionInfo == nil || tk.ExecutionInfo.RequeueCount != 1 {
				t.Fatalf("the task after the drain: %+v, %v; want active, requeued once", tk, err)
			}
			nodes, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/p1/nodes")
			if err != nil || len(nodes) != 0 {
				t.Fatalf("nodes after the agent left: %+v, %v", nodes, err)
			}
		})
	}
}
