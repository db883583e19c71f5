package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// A busy node waiting in Acquire must heartbeat often enough never to be
// declared lost: the long poll is capped well below the timeout.
func TestAcquireWaitStaysWithinHeartbeatTimeout(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := service.New(st, nil)
	s := New(svc, Config{HeartbeatTimeout: 3 * time.Second, HeartbeatInterval: 10 * time.Second})
	if s.cfg.HeartbeatInterval > time.Second {
		t.Fatalf("heartbeat interval %v not capped to a third of the timeout", s.cfg.HeartbeatInterval)
	}
	if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 0, Wait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited >= 3*time.Second {
		t.Fatalf("Acquire held the call %v; the heartbeat timeout is 3s", waited)
	}
}

// A task the store says a node holds, but which the node no longer lists as
// running (it restarted, fenced itself, or never got the assignment), goes
// back to the queue.
func TestOrphanedLeaseIsRequeued(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := service.New(st, nil)
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
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1})
	if err != nil || len(work.Assignments) != 1 {
		t.Fatalf("acquire: %v %+v", err, work)
	}
	lease := work.Assignments[0].Lease
	// Listing the lease keeps it.
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, Running: []nodeproto.Lease{lease}}); err != nil {
		t.Fatal(err)
	}
	if row, _ := st.GetTask(ctx, "j", "t"); row.Task.State != api.TaskRunning {
		t.Fatalf("listed lease lost: %s", row.Task.State)
	}
	// Not listing it requeues it, and the old lease's report is refused.
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID}); err != nil {
		t.Fatal(err)
	}
	row, _ := st.GetTask(ctx, "j", "t")
	if row.Task.State != api.TaskActive || row.Task.ExecutionInfo.RequeueCount != 1 {
		t.Fatalf("orphan not requeued: %s %+v", row.Task.State, row.Task.ExecutionInfo)
	}
	err = s.Complete(ctx, nodeproto.Report{NodeID: cfg.NodeID, PoolID: "p", Lease: lease, ExitCode: api.I32(0)})
	if err != nodeproto.ErrStaleLease {
		t.Fatalf("late report: %v", err)
	}
}
