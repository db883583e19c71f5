package scheduler

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// A node drained with requeue (service.DrainNode, as removenodes and a
// pool shrink do) keeps its leases while its agent stops its tasks and
// uploads their outputs: its polls say Remove, hand out nothing and cancel
// nothing; the task is requeued only when the node
// leaves, or, if its agent never comes, when the node has been silent for
// the heartbeat timeout.
func TestLeavingNodeKeepsLeasesUntilItLeaves(t *testing.T) {
	for _, leaves := range []bool{true, false} {
		name := "agent leaves"
		if !leaves {
			name = "agent silent"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := service.New(st, nil)
			var mu sync.Mutex
			now := time.Now()
			svc.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			s := New(svc, Config{HeartbeatTimeout: 30 * time.Second})
			if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
				t.Fatal(err)
			}
			if err := svc.AddJob(ctx, &api.Job{ID: "j", PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
				t.Fatal(err)
			}
			if err := svc.AddTask(ctx, "j", &api.Task{ID: "t", CommandLine: "/bin/true"}); err != nil {
				t.Fatal(err)
			}
			cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p", Address: "http://127.0.0.1:1"})
			if err != nil {
				t.Fatal(err)
			}
			work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1})
			if err != nil || len(work.Assignments) != 1 {
				t.Fatalf("acquire: %v %+v", err, work)
			}
			lease := work.Assignments[0].Lease
			if err := svc.DrainNode(ctx, "p", cfg.NodeID, "requeue"); err != nil {
				t.Fatal(err)
			}
			// A running server drops its cached nodes on the wake-up the
			// drain sends (receiveWakeups); this one does not run.
			s.dropCaches()
			work, err = s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1, Running: []nodeproto.Lease{lease}})
			if err != nil || !work.Remove || len(work.Assignments) != 0 || len(work.Cancel) != 0 {
				t.Fatalf("poll of a leaving node: %v %+v; want Remove and nothing else", err, work)
			}
			n, err := st.GetNode(ctx, "p", cfg.NodeID)
			if err != nil || n.Node.State != api.NodeLeavingPool {
				t.Fatalf("node %+v, %v; want leavingpool", n, err)
			}
			row, err := st.GetTask(ctx, "j", "t")
			if err != nil || row.Task.State != api.TaskRunning || row.Epoch != lease.Epoch {
				t.Fatalf("task on a leaving node: %+v, %v; want still running under its lease", row, err)
			}
			if leaves {
				if err := s.Leave(ctx, "p", cfg.NodeID); err != nil {
					t.Fatal(err)
				}
			} else {
				mu.Lock()
				now = now.Add(time.Minute)
				mu.Unlock()
				s.checkNodes(ctx)
			}
			if _, err := st.GetNode(ctx, "p", cfg.NodeID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("node after it left: %v; want gone", err)
			}
			row, err = st.GetTask(ctx, "j", "t")
			if err != nil || row.Task.State != api.TaskActive || row.Task.ExecutionInfo.RequeueCount != 1 {
				t.Fatalf("task after its node left: %+v, %v; want requeued", row.Task, err)
			}
		})
	}
}

// What a drained node's agent is told on its next poll depends on the
// nodeDeallocationOption: terminate ends the task (its lease is cancelled
// but not requeued, so the agent uploads on eviction) and removes the node
// through its agent; taskcompletion and retaineddata let the task finish
// (no Remove, nothing cancelled, nothing new assigned).
func TestDrainedNodePoll(t *testing.T) {
	for _, tc := range []struct {
		opt       string
		remove    bool
		cancelled bool
		wantState api.TaskState
	}{
		{opt: "terminate", remove: true, cancelled: true, wantState: api.TaskCompleted},
		{opt: "taskcompletion", wantState: api.TaskRunning},
		{opt: "retaineddata", wantState: api.TaskRunning},
	} {
		t.Run(tc.opt, func(t *testing.T) {
			ctx := context.Background()
			st, svc, s := schedulerWithJob(t, 0, "t", "u")
			cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p", Address: "http://127.0.0.1:1"})
			if err != nil {
				t.Fatal(err)
			}
			work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1})
			if err != nil || len(work.Assignments) != 1 {
				t.Fatalf("acquire: %v %+v", err, work)
			}
			lease := work.Assignments[0].Lease
			if err := svc.DrainNode(ctx, "p", cfg.NodeID, tc.opt); err != nil {
				t.Fatal(err)
			}
			s.dropCaches() // as a running server does on the drain's wake-up
			work, err = s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1, Running: []nodeproto.Lease{lease}})
			if err != nil {
				t.Fatal(err)
			}
			if work.Remove != tc.remove || (len(work.Cancel) == 1) != tc.cancelled || len(work.Requeued) != 0 || len(work.Assignments) != 0 {
				t.Fatalf("poll of a node drained with %s: %+v; want Remove %v, cancelled %v, nothing requeued or assigned",
					tc.opt, work, tc.remove, tc.cancelled)
			}
			row, err := st.GetTask(ctx, "j", lease.TaskID)
			if err != nil || row.Task.State != tc.wantState {
				t.Fatalf("task after the drain: %+v, %v; want %s", row, err, tc.wantState)
			}
		})
	}
}
