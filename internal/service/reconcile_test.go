package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// flakyStore is a real store whose task updates, task listings and job or
// pool deletions fail while broken is set: the faults of a client that
// disconnects, or a server that dies, between the steps of multi-step work.
// A real store cannot be made to fail at one chosen step on demand.
type flakyStore struct {
	store.Store
	broken atomic.Bool
}

var errCut = errors.New("connection cut")

func (f *flakyStore) UpdateTask(ctx context.Context, jobID, taskID string, fn func(*store.TaskRow) error) (*store.TaskRow, error) {
	if f.broken.Load() {
		return nil, errCut
	}
	return f.Store.UpdateTask(ctx, jobID, taskID, fn)
}

func (f *flakyStore) ListTasks(ctx context.Context, jobID string, pg store.Page) ([]*store.TaskRow, string, error) {
	if f.broken.Load() {
		return nil, "", errCut
	}
	return f.Store.ListTasks(ctx, jobID, pg)
}

func (f *flakyStore) DeleteJob(ctx context.Context, id string) error {
	if f.broken.Load() {
		return errCut
	}
	return f.Store.DeleteJob(ctx, id)
}

func (f *flakyStore) DeletePool(ctx context.Context, id string) error {
	if f.broken.Load() {
		return errCut
	}
	return f.Store.DeletePool(ctx, id)
}

func newFlaky(t *testing.T) (*service.Service, *flakyStore) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &flakyStore{Store: st}
	return service.New(f, slog.New(slog.NewTextHandler(io.Discard, nil))), f
}

// withRunningTask makes pool p1, job j1 and task t1 leased to node n1.
func withRunningTask(t *testing.T, ctx context.Context, svc *service.Service) {
	t.Helper()
	if err := svc.Store.CreatePool(ctx, &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", State: api.PoolActive}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddTask(ctx, "j1", &api.Task{ID: "t1", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.UpdateTask(ctx, "j1", "t1", func(r *store.TaskRow) error {
		r.Task.State = api.TaskRunning
		r.NodeID = "n1"
		r.Epoch++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTransitionalWorkSurvivesInterruption pins that a request which moves
// a job or pool into a transitional state records the work in the same
// transaction, so that when the request's later steps fail (a client gone,
// a server killed) the job or pool stays in its transitional state with
// what it needs, and the reconcile pass finishes it as the request would
// have.
func TestTransitionalWorkSurvivesInterruption(t *testing.T) {
	cases := []struct {
		name string
		// act is the user's request.
		act func(context.Context, *service.Service) error
		// mid is the state left behind by the interrupted request.
		mid api.JobState
		// check verifies the end state after reconciling.
		check func(*testing.T, context.Context, *service.Service)
	}{
		{
			name: "terminate",
			act: func(ctx context.Context, s *service.Service) error {
				return s.TerminateJob(ctx, "j1", "nightly cut-off", service.Conditions{})
			},
			mid: api.JobTerminating,
			check: func(t *testing.T, ctx context.Context, s *service.Service) {
				j := mustJob(t, ctx, s)
				if j.State != api.JobCompleted || j.ExecutionInfo.TerminateReason != "nightly cut-off" || j.ExecutionInfo.EndTime == nil {
					t.Fatalf("job = %s, reason %q, end %v", j.State, j.ExecutionInfo.TerminateReason, j.ExecutionInfo.EndTime)
				}
				if tk := mustTask(t, ctx, s); tk.Task.State != api.TaskCompleted || tk.NodeID != "" {
					t.Fatalf("task = %s on %q", tk.Task.State, tk.NodeID)
				}
			},
		},
		{
			name: "disable requeue",
			act: func(ctx context.Context, s *service.Service) error {
				return s.DisableJob(ctx, "j1", api.DisableRequeue, service.Conditions{})
			},
			mid: api.JobDisabling,
			check: func(t *testing.T, ctx context.Context, s *service.Service) {
				if j := mustJob(t, ctx, s); j.State != api.JobDisabled {
					t.Fatalf("job = %s", j.State)
				}
				tk := mustTask(t, ctx, s)
				if tk.Task.State != api.TaskActive || tk.NodeID != "" || tk.Task.ExecutionInfo.RequeueCount != 1 {
					t.Fatalf("task = %s on %q, %+v", tk.Task.State, tk.NodeID, tk.Task.ExecutionInfo)
				}
			},
		},
		{
			name: "disable terminate",
			act: func(ctx context.Context, s *service.Service) error {
				return s.DisableJob(ctx, "j1", api.DisableTerminate, service.Conditions{})
			},
			mid: api.JobDisabling,
			check: func(t *testing.T, ctx context.Context, s *service.Service) {
				if j := mustJob(t, ctx, s); j.State != api.JobDisabled {
					t.Fatalf("job = %s", j.State)
				}
				if tk := mustTask(t, ctx, s); tk.Task.State != api.TaskCompleted {
					t.Fatalf("task = %s", tk.Task.State)
				}
			},
		},
		{
			name: "disable wait",
			act: func(ctx context.Context, s *service.Service) error {
				return s.DisableJob(ctx, "j1", api.DisableWait, service.Conditions{})
			},
			mid: api.JobDisabling,
			check: func(t *testing.T, ctx context.Context, s *service.Service) {
				if tk := mustTask(t, ctx, s); tk.Task.State != api.TaskRunning || tk.NodeID != "n1" {
					t.Fatalf("task = %s on %q", tk.Task.State, tk.NodeID)
				}
			},
		},
		{
			name: "delete",
			act: func(ctx context.Context, s *service.Service) error {
				return s.DeleteJob(ctx, "j1", service.Conditions{})
			},
			mid: api.JobDeleting,
			check: func(t *testing.T, ctx context.Context, s *service.Service) {
				if _, err := s.Store.GetJob(ctx, "j1"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("job after reconcile: %v", err)
				}
				if _, err := s.Store.GetTask(ctx, "j1", "t1"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("task after reconcile: %v", err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc, f := newFlaky(t)
			withRunningTask(t, ctx, svc)

			f.broken.Store(true)
			if err := tc.act(ctx, svc); err != nil {
				t.Fatalf("the request answers once its transition is recorded; got %v", err)
			}
			j := mustJob(t, ctx, svc)
			if j.State != tc.mid {
				t.Fatalf("after the interrupted request the job is %s, want %s", j.State, tc.mid)
			}
			// A pass while still broken changes nothing and keeps the work.
			if err := svc.ReconcileJobs(ctx); err == nil {
				t.Fatal("a reconcile pass over a broken store reported success")
			}
			if again := mustJob(t, ctx, svc); again.State != tc.mid {
				t.Fatalf("a failed pass moved the job to %s", again.State)
			}

			f.broken.Store(false)
			if err := svc.ReconcileJobs(ctx); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			tc.check(t, ctx, svc)
			// Idempotent: another pass finds nothing to do and changes nothing.
			if err := svc.ReconcileJobs(ctx); err != nil {
				t.Fatalf("second reconcile: %v", err)
			}
			tc.check(t, ctx, svc)
		})
	}
}

// TestPendingWorkIsDroppedOnArrival pins that the recorded work goes away
// when the job leaves its transitional state.
func TestPendingWorkIsDroppedOnArrival(t *testing.T) {
	ctx := context.Background()
	svc, _ := newFlaky(t)
	withRunningTask(t, ctx, svc)
	if err := svc.TerminateJob(ctx, "j1", "", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	j := mustJob(t, ctx, svc)
	if j.State != api.JobCompleted || j.Pending != nil || j.ExecutionInfo.TerminateReason != "UserTerminate" {
		t.Fatalf("job = %s, pending %+v, reason %q", j.State, j.Pending, j.ExecutionInfo.TerminateReason)
	}
}

// TestPoolDeleteSurvivesInterruption pins the same for pool deletion.
func TestPoolDeleteSurvivesInterruption(t *testing.T) {
	ctx := context.Background()
	svc, f := newFlaky(t)
	if err := svc.Store.CreatePool(ctx, &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", State: api.PoolActive}); err != nil {
		t.Fatal(err)
	}
	f.broken.Store(true)
	if err := svc.DeletePool(ctx, "p1", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Store.GetPool(ctx, "p1")
	if err != nil || p.State != api.PoolDeleting {
		t.Fatalf("pool after the interrupted delete: %+v, %v", p, err)
	}
	f.broken.Store(false)
	if err := svc.ReconcilePools(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.GetPool(ctx, "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pool after reconcile: %v", err)
	}
}

func mustJob(t *testing.T, ctx context.Context, s *service.Service) *api.Job {
	t.Helper()
	j, err := s.Store.GetJob(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func mustTask(t *testing.T, ctx context.Context, s *service.Service) *store.TaskRow {
	t.Helper()
	r, err := s.Store.GetTask(ctx, "j1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
