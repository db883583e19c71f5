package app

import (
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

func TestNodeSchedulingAndRemoval(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 2, 1, nil)
	ctx := ctxT(t, 30*time.Second)
	nodes := waitNodes(t, c, "p1", 2, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	a, b := nodes[0].ID, nodes[1].ID
	if _, err := c.Do(ctx, "POST", "/pools/p1/nodes/"+a+"/disablescheduling", map[string]any{"nodeDisableSchedulingOption": "requeue"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := c.Do(ctx, "POST", "/pools/p1/nodes/"+a+"/disablescheduling", nil, nil)
	if client.Code(err) != "NodeAlreadyInTargetSchedulingState" {
		t.Fatalf("second disable: %v", err)
	}
	addAll(t, c, "j1", []*api.Task{{ID: "x", CommandLine: "/bin/true"}, {ID: "y", CommandLine: "/bin/true"}})
	for _, tk := range waitAll(t, c, "j1", 2, 20*time.Second) {
		if tk.NodeInfo.NodeID != b {
			t.Fatalf("task %s ran on %s, whose scheduling is disabled", tk.ID, tk.NodeInfo.NodeID)
		}
	}
	if _, err := c.Do(ctx, "POST", "/pools/p1/nodes/"+a+"/enablescheduling", nil, nil); err != nil {
		t.Fatal(err)
	}
	var counts struct {
		Value []api.PoolNodeCounts `json:"value"`
	}
	if _, err := c.Do(ctx, "GET", "/nodecounts", nil, &counts); err != nil {
		t.Fatal(err)
	}
	if len(counts.Value) != 1 || counts.Value[0].Dedicated.Total != 2 {
		t.Fatalf("nodecounts = %+v", counts.Value)
	}
	waitSteady(t, c, "p1")
	if _, err := c.Do(ctx, "POST", "/pools/p1/removenodes", map[string]any{"nodeList": []string{a}}, nil); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return n.ID == b })
	var pool api.Pool
	if _, err := c.Do(ctx, "GET", "/pools/p1", nil, &pool); err != nil {
		t.Fatal(err)
	}
	if *pool.TargetDedicatedNodes != 1 || *pool.CurrentDedicatedNodes != 1 {
		t.Fatalf("after removenodes: target %d current %d", *pool.TargetDedicatedNodes, *pool.CurrentDedicatedNodes)
	}
	var images struct {
		Value []api.ImageInformation `json:"value"`
	}
	if _, err := c.Do(ctx, "GET", "/supportedimages", nil, &images); err != nil || len(images.Value) == 0 {
		t.Fatalf("supportedimages: %v %+v", err, images)
	}
}

// A node's totals and recent tasks come from the tasks that ran on it.
func TestNodeHistory(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 2, nil)
	addAll(t, c, "j1", []*api.Task{{ID: "good", CommandLine: "/bin/true"}, {ID: "bad", CommandLine: "/bin/false"}})
	waitAll(t, c, "j1", 2, 20*time.Second)
	nodes := waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return n.TotalTasksRun == 2 })
	n := nodes[0]
	if n.TotalTasksSucceeded != 1 || len(n.RecentTasks) != 2 || n.RunningTasksCount != 0 || n.State != api.NodeIdle {
		t.Fatalf("node = %+v", n)
	}
	for _, rt := range n.RecentTasks {
		if rt.TaskState != api.TaskCompleted || rt.ExecutionInfo == nil || rt.TaskURL == "" {
			t.Fatalf("recent task = %+v", rt)
		}
	}
}
