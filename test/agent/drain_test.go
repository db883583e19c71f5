package agent_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
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
