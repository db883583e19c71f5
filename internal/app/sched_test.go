package app

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

func addAll(t *testing.T, c *client.Client, jobID string, tasks []*api.Task) {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	for i := 0; i < len(tasks); i += 100 {
		res, err := c.AddTasks(ctx, jobID, tasks[i:min(i+100, len(tasks))])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Value {
			if r.Status != api.TaskAddSuccess {
				t.Fatalf("add %s: %+v", r.TaskID, r.Error)
			}
		}
	}
}

func waitAll(t *testing.T, c *client.Client, jobID string, n int, d time.Duration) []api.Task {
	t.Helper()
	ctx := ctxT(t, d)
	for {
		counts, err := c.TaskCounts(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		if int(counts.TaskCounts.Completed) == n {
			tasks, err := c.ListTasks(ctx, jobID, "")
			if err != nil {
				t.Fatal(err)
			}
			return tasks
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d tasks completed: %+v", counts.TaskCounts.Completed, n, counts.TaskCounts)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// 200 tasks on 2 nodes x 4 slots: all complete, and no node ever ran more
// than 4 at once (from the recorded start and end times).
func TestSchedulerRespectsSlots(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 2, 4, nil)
	var tasks []*api.Task
	for i := 0; i < 200; i++ {
		tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%03d", i), CommandLine: "/bin/sleep 0.05"})
	}
	addAll(t, c, "j1", tasks)
	done := waitAll(t, c, "j1", 200, 90*time.Second)
	type edge struct {
		at    time.Time
		delta int
	}
	perNode := map[string][]edge{}
	for _, tk := range done {
		ei := tk.ExecutionInfo
		if ei.Result != api.ResultSuccess || tk.NodeInfo == nil {
			t.Fatalf("task %s: %+v", tk.ID, ei)
		}
		n := tk.NodeInfo.NodeID
		perNode[n] = append(perNode[n], edge{*ei.StartTime, +1}, edge{*ei.EndTime, -1})
	}
	if len(perNode) != 2 {
		t.Fatalf("tasks ran on %d nodes, want 2", len(perNode))
	}
	for node, edges := range perNode {
		sort.Slice(edges, func(i, j int) bool {
			if edges[i].at.Equal(edges[j].at) {
				return edges[i].delta < edges[j].delta // ends before starts at the same instant
			}
			return edges[i].at.Before(edges[j].at)
		})
		cur, peak := 0, 0
		for _, e := range edges {
			cur += e.delta
			peak = max(peak, cur)
		}
		if peak > 4 {
			t.Errorf("node %s ran %d tasks at once; it has 4 slots", node, peak)
		}
		t.Logf("node %s: %d tasks, peak concurrency %d", node, len(edges)/2, peak)
	}
}

func TestMaxParallelTasks(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 4, &api.Job{MaxParallelTasks: api.I32(1)})
	var tasks []*api.Task
	for i := 0; i < 6; i++ {
		tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%d", i), CommandLine: "/bin/sleep 0.1"})
	}
	addAll(t, c, "j1", tasks)
	done := waitAll(t, c, "j1", 6, 30*time.Second)
	sort.Slice(done, func(i, j int) bool { return done[i].ExecutionInfo.StartTime.Before(*done[j].ExecutionInfo.StartTime) })
	for i := 1; i < len(done); i++ {
		if done[i].ExecutionInfo.StartTime.Before(*done[i-1].ExecutionInfo.EndTime) {
			t.Fatalf("tasks %s and %s overlapped with maxParallelTasks 1", done[i-1].ID, done[i].ID)
		}
	}
}

// A task whose process group outlives its wall clock time ends TaskEnded
// and leaves no process behind.
func TestWallClockKillsProcessGroup(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 1, nil)
	ctx := ctxT(t, 30*time.Second)
	marker := fmt.Sprintf("%d.%d", 1000+os.Getpid()%1000, time.Now().UnixNano()%1000)
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "slow", CommandLine: "/bin/sh -c 'sleep " + marker + " & sleep " + marker + "'",
		Constraints: &api.TaskConstraints{MaxWallClockTime: api.D(2 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	task, err := c.WaitTask(ctx, "j1", "slow")
	if err != nil {
		t.Fatal(err)
	}
	fi := task.ExecutionInfo.FailureInfo
	if fi == nil || fi.Code != api.FailureTaskEnded || task.ExecutionInfo.Result != api.ResultFailure {
		t.Fatalf("executionInfo = %+v", task.ExecutionInfo)
	}
	if took := task.ExecutionInfo.EndTime.Sub(*task.ExecutionInfo.StartTime); took > 10*time.Second {
		t.Errorf("task ran %s; its wall clock limit is 2s", took)
	}
	if pids := processesWithArg(t, marker); len(pids) > 0 {
		t.Fatalf("processes left behind: %v", pids)
	}
}

// processesWithArg lists live processes whose command line contains arg.
func processesWithArg(t *testing.T, arg string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cmd), arg) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if strings.Contains(string(stat), ") Z ") {
			continue // zombie: already dead
		}
		out = append(out, e.Name()+":"+strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return out
}

func TestTerminateRunningTask(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 1, nil)
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "long", CommandLine: "/bin/sleep 300"}); err != nil {
		t.Fatal(err)
	}
	for {
		tk, err := c.GetTask(ctx, "j1", "long")
		if err != nil {
			t.Fatal(err)
		}
		if tk.State == api.TaskRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.Do(ctx, "POST", "/jobs/j1/tasks/long/terminate", nil, nil); err != nil {
		t.Fatal(err)
	}
	tk, err := c.GetTask(ctx, "j1", "long")
	if err != nil {
		t.Fatal(err)
	}
	if tk.State != api.TaskCompleted || tk.ExecutionInfo.FailureInfo == nil || tk.ExecutionInfo.FailureInfo.Code != api.FailureTaskEnded {
		t.Fatalf("after terminate: state %s, %+v", tk.State, tk.ExecutionInfo)
	}
	// The node kills the process; the slot frees up for the next task.
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "next", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	if next, err := c.WaitTask(ctx, "j1", "next"); err != nil || next.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("next task: %v %+v", err, next)
	}
	// Reactivate puts the failed task back in the queue with retries reset.
	if _, err := c.Do(ctx, "POST", "/jobs/j1/tasks/long/reactivate", nil, nil); err != nil {
		t.Fatal(err)
	}
	tk, _ = c.GetTask(ctx, "j1", "long")
	if tk.State == api.TaskCompleted || tk.ExecutionInfo.RetryCount != 0 {
		t.Fatalf("after reactivate: %s %+v", tk.State, tk.ExecutionInfo)
	}
}

// A dependency chain: a task satisfied by its exitConditions runs its
// dependents; a failed task blocks its dependents; ranges work.
func TestDependencies(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 4, &api.Job{UsesTaskDependencies: api.B(true)})
	satisfyOn2 := &api.ExitConditions{ExitCodes: []api.ExitCodeMapping{{Code: 2, ExitOptions: api.ExitOptions{DependencyAction: api.DependencySatisfy}}}}
	tasks := []*api.Task{
		{ID: "1", CommandLine: "/bin/true"},
		{ID: "2", CommandLine: "/bin/true"},
		{ID: "3", CommandLine: "/bin/sh -c 'exit 2'", ExitConditions: satisfyOn2},
		{ID: "after-range", CommandLine: "/bin/true", DependsOn: &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 1, End: 3}}}},
		{ID: "fails", CommandLine: "/bin/sh -c 'exit 1'"},
		{ID: "blocked", CommandLine: "/bin/true", DependsOn: &api.TaskDependencies{TaskIDs: []string{"fails"}}},
		{ID: "chain", CommandLine: "/bin/true", DependsOn: &api.TaskDependencies{TaskIDs: []string{"after-range"}}},
	}
	addAll(t, c, "j1", tasks)
	ctx := ctxT(t, 30*time.Second)
	for _, id := range []string{"after-range", "chain"} {
		tk, err := c.WaitTask(ctx, "j1", id)
		if err != nil {
			t.Fatal(err)
		}
		if tk.ExecutionInfo.Result != api.ResultSuccess {
			t.Fatalf("%s: %+v", id, tk.ExecutionInfo)
		}
	}
	if _, err := c.WaitTask(ctx, "j1", "fails"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if tk, _ := c.GetTask(ctx, "j1", "blocked"); tk.State != api.TaskActive {
		t.Fatalf("blocked task is %s; a failed dependency must block it", tk.State)
	}
}

func TestJobActionsAndCompletion(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 2, &api.Job{ID: "jfail", OnTaskFailure: api.OnTaskFailurePerformExitOptionsJobAction})
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddJob(ctx, &api.Job{ID: "jdone", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTask(ctx, "jfail", &api.Task{ID: "bad", CommandLine: "/bin/sh -c 'exit 5'"}); err != nil {
		t.Fatal(err)
	}
	addAll(t, c, "jdone", []*api.Task{{ID: "a", CommandLine: "/bin/true"}, {ID: "b", CommandLine: "/bin/true"}})
	if _, err := c.Do(ctx, "PATCH", "/jobs/jdone", map[string]any{"onAllTasksComplete": "terminatejob"}, nil); err != nil {
		t.Fatal(err)
	}
	for id, reason := range map[string]string{"jfail": "TaskFailed", "jdone": "AllTasksComplete"} {
		for {
			j, err := c.GetJob(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if j.State == api.JobCompleted {
				if j.ExecutionInfo.TerminateReason != reason {
					t.Errorf("job %s terminateReason %q, want %q", id, j.ExecutionInfo.TerminateReason, reason)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("job %s still %s", id, j.State)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	err := c.AddTask(ctx, "jdone", &api.Task{ID: "late", CommandLine: "/bin/true"})
	if client.Code(err) != api.CodeJobCompleted {
		t.Fatalf("adding to a completed job: %v", err)
	}
}

func TestPriorityOrdersJobs(t *testing.T) {
	_, c := startDev(t)
	ctx := ctxT(t, 30*time.Second)
	// No nodes yet, so both jobs' tasks queue up.
	if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	for id, prio := range map[string]int32{"low": -10, "high": 500} {
		if err := c.AddJob(ctx, &api.Job{ID: id, Priority: api.I32(prio), PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
			t.Fatal(err)
		}
		addAll(t, c, id, []*api.Task{{ID: "t1", CommandLine: "/bin/sleep 0.05"}, {ID: "t2", CommandLine: "/bin/sleep 0.05"}})
	}
	if _, err := c.Do(ctx, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 1}, nil); err != nil {
		t.Fatal(err)
	}
	lowDone := waitAll(t, c, "low", 2, 30*time.Second)
	highDone := waitAll(t, c, "high", 2, 30*time.Second)
	for _, h := range highDone {
		for _, l := range lowDone {
			if l.ExecutionInfo.StartTime.Before(*h.ExecutionInfo.StartTime) {
				t.Fatalf("low-priority %s started before high-priority %s", l.ID, h.ID)
			}
		}
	}
}

// State survives a restart of openbatch dev, and queued tasks run after it.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	srv, c := startDev(t, func(cfg *Config) { cfg.DataDir = dir })
	mustPoolJob(t, c, 1, 1, nil)
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "first", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitTask(ctx, "j1", "first"); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, c2 := startDev(t, func(cfg *Config) { cfg.DataDir = dir })
	if tk, err := c2.GetTask(ctx, "j1", "first"); err != nil || tk.State != api.TaskCompleted {
		t.Fatalf("after restart: %v %+v", err, tk)
	}
	if err := c2.AddTask(ctx, "j1", &api.Task{ID: "second", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	if tk, err := c2.WaitTask(ctx, "j1", "second"); err != nil || tk.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("task after restart: %v %+v", err, tk)
	}
}

// A completed task's directory is removed after its retentionTime, and at
// once when the task is deleted.
func TestTaskDirectoryRetention(t *testing.T) {
	srv, c := startDev(t, func(cfg *Config) { cfg.HeartbeatInterval = 200 * time.Millisecond })
	mustPoolJob(t, c, 1, 2, nil)
	ctx := ctxT(t, 30*time.Second)
	addAll(t, c, "j1", []*api.Task{
		{ID: "short", CommandLine: "/bin/true", Constraints: &api.TaskConstraints{RetentionTime: api.D(500 * time.Millisecond)}},
		{ID: "kept", CommandLine: "/bin/true"},
	})
	waitAll(t, c, "j1", 2, 20*time.Second)
	dir := func(id string) string {
		tk, err := c.GetTask(ctx, "j1", id)
		if err != nil {
			t.Fatal(err)
		}
		n, err := srv.Service.Store.GetNode(ctx, "p1", tk.NodeInfo.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		return n.Root + "/" + tk.NodeInfo.TaskRootDirectory
	}
	shortDir, keptDir := dir("short"), dir("kept")
	for {
		if _, err := os.Stat(shortDir); os.IsNotExist(err) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s still exists after its retention time", shortDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(keptDir); err != nil {
		t.Fatalf("task with default retention lost its directory: %v", err)
	}
	if _, err := c.Do(ctx, "DELETE", "/jobs/j1/tasks/kept", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keptDir); !os.IsNotExist(err) {
		t.Fatalf("deleted task's directory still exists: %v", err)
	}
}
