package service_test

import (
	"context"
	"errors"
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
