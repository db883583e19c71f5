package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

func waitNodes(t *testing.T, c *client.Client, poolID string, n int, ok func(api.ComputeNode) bool) []api.ComputeNode {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	for {
		nodes, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/"+poolID+"/nodes")
		if err != nil {
			t.Fatal(err)
		}
		good := 0
		for _, nd := range nodes {
			if ok(nd) {
				good++
			}
		}
		if good == n && len(nodes) == n {
			return nodes
		}
		if ctx.Err() != nil {
			t.Fatalf("nodes of %s: %+v", poolID, nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSteady waits until a pool's allocation is steady (its resize is
// over), as a client must before it resizes the pool again.
func waitSteady(t *testing.T, c *client.Client, poolID string) *api.Pool {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	for {
		p, err := c.GetPool(ctx, poolID)
		if err != nil {
			t.Fatal(err)
		}
		if p.AllocationState == api.AllocationSteady {
			return p
		}
		if ctx.Err() != nil {
			t.Fatalf("pool %s still %s", poolID, p.AllocationState)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartTask(t *testing.T) {
	_, c := startDev(t)
	ctx := ctxT(t, 30*time.Second)
	good := &api.Pool{ID: "good", VMSize: "x", TargetDedicatedNodes: api.I32(1),
		StartTask: &api.StartTask{CommandLine: `/bin/sh -c 'echo ready > "$AZ_BATCH_NODE_SHARED_DIR/ready"'`}}
	bad := &api.Pool{ID: "bad", VMSize: "x", TargetDedicatedNodes: api.I32(1),
		StartTask: &api.StartTask{CommandLine: "/bin/sh -c 'exit 4'", MaxTaskRetryCount: api.I32(1)}}
	for _, p := range []*api.Pool{good, bad} {
		if err := c.AddPool(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	nodes := waitNodes(t, c, "good", 1, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	if si := nodes[0].StartTaskInfo; si == nil || si.State != api.StartTaskCompleted || si.Result != api.ResultSuccess || si.ExitCode == nil || *si.ExitCode != 0 {
		t.Fatalf("good start task info: %+v", si)
	}
	nodes = waitNodes(t, c, "bad", 1, func(n api.ComputeNode) bool { return n.State == api.NodeStartTaskFailed })
	if si := nodes[0].StartTaskInfo; si == nil || si.Result != api.ResultFailure || si.RetryCount != 1 || si.FailureInfo == nil {
		t.Fatalf("bad start task info: %+v", si)
	}
	// Tasks never run on a node whose start task failed (waitForSuccess).
	if err := c.AddJob(ctx, &api.Job{ID: "onbad", PoolInfo: &api.PoolInformation{PoolID: "bad"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTask(ctx, "onbad", &api.Task{ID: "t", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if tk, _ := c.GetTask(ctx, "onbad", "t"); tk.State != api.TaskActive {
		t.Fatalf("task on a pool whose start task failed is %s", tk.State)
	}
	// A node is addressed through its own pool only.
	_, err := c.Do(ctx, "GET", "/pools/good/nodes/"+nodes[0].ID+"/files?recursive=true", nil, nil)
	if client.Code(err) != api.CodeNodeNotFound {
		t.Fatalf("files of pool bad's node through pool good: %v", err)
	}
}

func TestJobPreparationTask(t *testing.T) {
	_, c := startDev(t)
	job := &api.Job{ID: "prep", JobPreparationTask: &api.JobPreparationTask{
		CommandLine: `/bin/sh -c 'echo prepared > "$AZ_BATCH_NODE_SHARED_DIR/prep-$AZ_BATCH_JOB_ID"'`},
		JobReleaseTask: &api.JobReleaseTask{CommandLine: `/bin/sh -c 'echo released > "$AZ_BATCH_NODE_SHARED_DIR/release-$AZ_BATCH_JOB_ID"'`}}
	mustPoolJob(t, c, 1, 2, job)
	ctx := ctxT(t, 30*time.Second)
	addAll(t, c, "prep", []*api.Task{
		{ID: "a", CommandLine: `/bin/sh -c 'cat "$AZ_BATCH_NODE_SHARED_DIR/prep-$AZ_BATCH_JOB_ID"; test -d "$AZ_BATCH_JOB_PREP_WORKING_DIR"'`},
		{ID: "b", CommandLine: `/bin/true`},
	})
	done := waitAll(t, c, "prep", 2, 30*time.Second)
	for _, tk := range done {
		if tk.ExecutionInfo.Result != api.ResultSuccess {
			t.Fatalf("%s: %+v", tk.ID, tk.ExecutionInfo.FailureInfo)
		}
	}
	out, err := c.GetTaskFile(ctx, "prep", "a", "stdout.txt")
	if err != nil || !strings.Contains(string(out), "prepared") {
		t.Fatalf("stdout = %q, %v", out, err)
	}
	var status struct {
		Value []api.JobPreparationAndReleaseTaskExecutionInformation `json:"value"`
	}
	if _, err := c.Do(ctx, "GET", "/jobs/prep/jobpreparationandreleasetaskstatus", nil, &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Value) != 1 || status.Value[0].JobPreparationTaskExecutionInfo == nil ||
		status.Value[0].JobPreparationTaskExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("prep status = %+v", status.Value)
	}
	// Terminating the job runs its release task on the node that ran the
	// preparation task.
	if _, err := c.Do(ctx, "POST", "/jobs/prep/terminate", nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := c.Do(ctx, "GET", "/jobs/prep/jobpreparationandreleasetaskstatus", nil, &status); err != nil {
			t.Fatal(err)
		}
		if ri := status.Value[0].JobReleaseTaskExecutionInfo; ri != nil {
			if ri.Result != api.ResultSuccess {
				t.Fatalf("release task: %+v", ri)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the release task did not run")
		}
		time.Sleep(50 * time.Millisecond)
	}
	node := status.Value[0].NodeID
	if _, err := c.Do(ctx, "HEAD", "/pools/p1/nodes/"+node+"/files/shared/release-prep", nil, nil); err != nil {
		t.Fatalf("release marker: %v", err)
	}
	// The job completes only once its release task has run (Azure: job
	// terminate waits for release tasks).
	j := waitJobState(t, c, "prep", api.JobCompleted)
	if end := status.Value[0].JobReleaseTaskExecutionInfo.EndTime; end == nil || j.ExecutionInfo.EndTime.Before(*end) {
		t.Fatalf("job ended at %v, before its release task (%v)", j.ExecutionInfo.EndTime, end)
	}
}

// Deleting a job whose preparation task ran runs its release task on that
// node before the job goes away.
func TestJobReleaseOnDelete(t *testing.T) {
	_, c := startDev(t)
	job := &api.Job{ID: "del", JobPreparationTask: &api.JobPreparationTask{CommandLine: `/bin/true`},
		JobReleaseTask: &api.JobReleaseTask{CommandLine: `/bin/sh -c 'echo released > "$AZ_BATCH_NODE_SHARED_DIR/release-$AZ_BATCH_JOB_ID"'`}}
	mustPoolJob(t, c, 1, 1, job)
	ctx := ctxT(t, 30*time.Second)
	addAll(t, c, "del", []*api.Task{{ID: "a", CommandLine: `/bin/true`}})
	waitAll(t, c, "del", 1, 30*time.Second)
	nodes := waitNodes(t, c, "p1", 1, func(api.ComputeNode) bool { return true })
	if _, err := c.Do(ctx, "DELETE", "/jobs/del", nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.GetJob(ctx, "del")
		if client.Code(err) == api.CodeJobNotFound {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the job was not deleted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Do(ctx, "HEAD", "/pools/p1/nodes/"+nodes[0].ID+"/files/shared/release-del", nil, nil); err != nil {
		t.Fatalf("the release task did not run before the job was deleted: %v", err)
	}
}

func waitJobState(t *testing.T, c *client.Client, id string, state api.JobState) *api.Job {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	for {
		j, err := c.GetJob(ctx, id)
		if err == nil && j.State == state {
			return j
		}
		if ctx.Err() != nil {
			t.Fatalf("job %s did not reach %s: %+v, %v", id, state, j, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requiredSlots: a 2-slot task occupies two of a node's slots; pack fills
// one node before the next, spread uses both.
func TestSlotsAndFillType(t *testing.T) {
	for _, fill := range []api.ComputeNodeFillType{api.FillPack, api.FillSpread} {
		t.Run(string(fill), func(t *testing.T) {
			_, c := startDev(t)
			ctx := ctxT(t, 30*time.Second)
			if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0), TaskSlotsPerNode: api.I32(4),
				TaskSchedulingPolicy: &api.TaskSchedulingPolicy{NodeFillType: fill}}); err != nil {
				t.Fatal(err)
			}
			if err := c.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Do(ctx, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 2}, nil); err != nil {
				t.Fatal(err)
			}
			waitNodes(t, c, "p1", 2, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
			var tasks []*api.Task
			for i := 0; i < 2; i++ {
				tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%d", i), CommandLine: "/bin/sleep 0.6", RequiredSlots: api.I32(2)})
			}
			addAll(t, c, "j1", tasks)
			done := waitAll(t, c, "j1", 2, 30*time.Second)
			nodes := map[string]bool{}
			for _, tk := range done {
				nodes[tk.NodeInfo.NodeID] = true
			}
			t.Logf("%s: tasks ran on %d node(s)", fill, len(nodes))
			if want := map[api.ComputeNodeFillType]int{api.FillSpread: 2, api.FillPack: 1}[fill]; len(nodes) != want {
				t.Errorf("%s put the two 2-slot tasks on %d node(s), want %d", fill, len(nodes), want)
			}
		})
	}
}
