package service_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// DrainNode moves a node to leavingpool, records its
// nodeDeallocationOption and treats its running task as the option says:
// requeue keeps the task running under the node's lease (its agent stops
// it, uploads on eviction and leaves, which requeues it: see the
// scheduler's TestLeavingNodeKeepsLeasesUntilItLeaves), terminate ends it
// at once, taskcompletion and retaineddata let it finish; draining again,
// or a node that is gone, changes nothing; an unknown option is refused
// before anything changes.
func TestDrainNode(t *testing.T) {
	for _, tc := range []struct {
		opt       string
		wantOpt   string
		wantState api.TaskState
		requeued  int32
	}{
		{"", "requeue", api.TaskRunning, 0},
		{"Requeue", "requeue", api.TaskRunning, 0},
		{"terminate", "terminate", api.TaskCompleted, 0},
		{"taskcompletion", "taskcompletion", api.TaskRunning, 0},
		{"retaineddata", "retaineddata", api.TaskRunning, 0},
	} {
		t.Run("opt="+tc.opt, func(t *testing.T) {
			svc, _ := newScheduleService(t)
			ctx := context.Background()
			st := svc.Store
			if err := st.PutNode(ctx, &store.Node{PoolID: "p1", Node: &api.ComputeNode{ID: "n1", State: api.NodeRunning, IsDedicated: true}}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateJob(ctx, &api.Job{ID: "j", State: api.JobActive, PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateTasks(ctx, "j", []*api.Task{{ID: "t", State: api.TaskActive}}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.UpdateTask(ctx, "j", "t", func(r *store.TaskRow) error {
				r.NodeID, r.Epoch, r.Task.State = "n1", 1, api.TaskRunning
				r.Task.ExecutionInfo = &api.TaskExecutionInformation{}
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			var se *service.Error
			if err := svc.DrainNode(ctx, "p1", "n1", "later"); !errors.As(err, &se) || se.Code != api.CodeInvalidPropertyValue {
				t.Fatalf("bad option: %v", err)
			}
			if n, _ := st.GetNode(ctx, "p1", "n1"); n.Node.State != api.NodeRunning {
				t.Fatalf("a refused drain changed the node: %s", n.Node.State)
			}
			if err := svc.DrainNode(ctx, "p1", "n1", tc.opt); err != nil {
				t.Fatal(err)
			}
			if n, _ := st.GetNode(ctx, "p1", "n1"); n.Node.State != api.NodeLeavingPool || n.DrainOption != tc.wantOpt {
				t.Fatalf("node state %s, drain option %q; want leavingpool, %q", n.Node.State, n.DrainOption, tc.wantOpt)
			}
			row, err := st.GetTask(ctx, "j", "t")
			if err != nil {
				t.Fatal(err)
			}
			if row.Task.State != tc.wantState || row.Task.ExecutionInfo.RequeueCount != tc.requeued {
				t.Fatalf("task %s requeueCount %d, want %s %d", row.Task.State, row.Task.ExecutionInfo.RequeueCount, tc.wantState, tc.requeued)
			}
			if err := svc.DrainNode(ctx, "p1", "n1", "requeue"); err != nil {
				t.Fatalf("drain again: %v", err)
			}
			if row, _ := st.GetTask(ctx, "j", "t"); row.Task.State != tc.wantState {
				t.Fatalf("a second drain changed the task: %s", row.Task.State)
			}
			if err := svc.DrainNode(ctx, "p1", "gone", ""); err != nil {
				t.Fatalf("drain a node that is gone: %v", err)
			}
		})
	}
}

// RemoveNodes lowers the pool's target and drains the named nodes in one
// transaction: a refused or failed removal changes neither, and a node
// drained with terminate whose request stopped before its tasks ended has
// them ended by the next drain (which the node work's pass makes).
func TestRemoveNodesIsAtomic(t *testing.T) {
	ctx := context.Background()
	svc, _ := newScheduleService(t)
	svc.Provisioner = &passes{}
	st := svc.Store
	if _, err := st.UpdatePool(ctx, "p1", func(p *api.Pool) error {
		p.TargetDedicatedNodes, p.CurrentDedicatedNodes = api.I32(3), api.I32(3)
		p.TargetLowPriorityNodes, p.CurrentLowPriorityNodes = api.I32(1), api.I32(1)
		p.AllocationState = api.AllocationSteady
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		id  string
		ded bool
	}{{"n1", true}, {"n2", true}, {"n3", true}, {"s1", false}} {
		if err := st.PutNode(ctx, &store.Node{PoolID: "p1", Node: &api.ComputeNode{ID: n.id, State: api.NodeRunning, IsDedicated: n.ded}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateJob(ctx, &api.Job{ID: "j", State: api.JobActive, PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTasks(ctx, "j", []*api.Task{{ID: "t1", State: api.TaskActive}, {ID: "t3", State: api.TaskActive}}); err != nil {
		t.Fatal(err)
	}
	for task, node := range map[string]string{"t1": "n1", "t3": "n3"} {
		if _, err := st.UpdateTask(ctx, "j", task, func(r *store.TaskRow) error {
			r.NodeID, r.Epoch, r.Task.State = node, 1, api.TaskRunning
			r.Task.ExecutionInfo = &api.TaskExecutionInformation{}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		p, err := st.GetPool(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprintf("target %d/%d", *p.TargetDedicatedNodes, *p.TargetLowPriorityNodes)
		for _, id := range []string{"n1", "n2", "n3", "s1"} {
			n, _ := st.GetNode(ctx, "p1", id)
			out += fmt.Sprintf(" %s:%s", id, n.Node.State)
		}
		return out
	}
	before := state()
	var se *service.Error
	err := svc.RemoveNodes(ctx, "p1", &api.NodeRemove{NodeList: []string{"n2", "nope"}})
	if !errors.As(err, &se) || se.Code != api.CodeNodeNotFound {
		t.Fatalf("remove a missing node: %v", err)
	}
	if got := state(); got != before {
		t.Fatalf("a failed removal changed %s → %s", before, got)
	}

	// A dedicated and a low-priority node, one named twice.
	if err := svc.RemoveNodes(ctx, "p1", &api.NodeRemove{NodeList: []string{"n1", "s1", "n1"}, NodeDeallocationOption: "terminate"}); err != nil {
		t.Fatal(err)
	}
	if got, want := state(), "target 2/0 n1:leavingpool n2:running n3:running s1:leavingpool"; got != want {
		t.Fatalf("after removenodes: %s, want %s", got, want)
	}
	if r, _ := st.GetTask(ctx, "j", "t1"); r.Task.State != api.TaskCompleted {
		t.Fatalf("task of a node removed with terminate: %s", r.Task.State)
	}
	if p, _ := st.GetPool(ctx, "p1"); p.AllocationState != api.AllocationResizing {
		t.Fatalf("allocationState %s", p.AllocationState)
	}

	// n3 as a removal with terminate leaves it when its request stops
	// after the transaction: leaving, its task still running.
	if _, err := st.UpdateNode(ctx, "p1", "n3", func(n *store.Node) error {
		n.Node.State, n.DrainOption = api.NodeLeavingPool, "terminate"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.DrainNode(ctx, "p1", "n3", "terminate"); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.GetTask(ctx, "j", "t3"); r.Task.State != api.TaskCompleted || r.Task.ExecutionInfo.FailureInfo == nil {
		t.Fatalf("task of a node whose terminate drain was resumed: %s", r.Task.State)
	}
}
