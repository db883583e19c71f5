package lifecycle

import (
	"errors"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// TestApplyTaskEdges checks each task edge's side effects on the row: the
// lease (epoch, node), executionInfo, nodeInfo, waiting, state history
// and ETag.
func TestApplyTaskEdges(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Minute)
	node := &api.ComputeNodeInformation{NodeID: "n1", PoolID: "p", AffinityID: "TVM:n1"}
	exit3 := api.I32(3)
	running := func() *store.TaskRow {
		return &store.TaskRow{Epoch: 4, NodeID: "n1", Task: &api.Task{ID: "t", State: api.TaskRunning, StateTransitionTime: api.T(t0), ETag: "0x1",
			NodeInfo:      &api.ComputeNodeInformation{NodeID: "n1"},
			ExecutionInfo: &api.TaskExecutionInformation{StartTime: api.T(t0), RetryCount: 1, RequeueCount: 2}}}
	}
	tests := []struct {
		name  string
		row   func() *store.TaskRow
		ev    TaskEvent
		c     Change
		state api.TaskState
		node  string // the lease's node afterwards
		check func(t *testing.T, r *store.TaskRow)
	}{
		{"start takes the lease and clears the last run", func() *store.TaskRow {
			return &store.TaskRow{Epoch: 1, Task: &api.Task{State: api.TaskActive, StateTransitionTime: api.T(t0),
				ExecutionInfo: &api.TaskExecutionInformation{EndTime: api.T(t0), ExitCode: exit3, Result: api.ResultFailure,
					FailureInfo: &api.TaskFailureInformation{Code: "x"}, RetryCount: 1}}}
		}, Start, Change{Now: now, Node: node}, api.TaskRunning, "n1", func(t *testing.T, r *store.TaskRow) {
			ei := r.Task.ExecutionInfo
			if !ei.StartTime.Equal(now) || ei.EndTime != nil || ei.ExitCode != nil || ei.Result != "" || ei.FailureInfo != nil || ei.RetryCount != 1 {
				t.Errorf("executionInfo %+v", ei)
			}
			if r.Task.NodeInfo == nil || *r.Task.NodeInfo != *node || r.Task.NodeInfo == node {
				t.Errorf("nodeInfo %+v, want a copy of %+v", r.Task.NodeInfo, node)
			}
		}},
		{"requeue from running gives the lease back and counts itself", running, Requeue, Change{Now: now}, api.TaskActive, "", func(t *testing.T, r *store.TaskRow) {
			ei := r.Task.ExecutionInfo
			if ei.RequeueCount != 3 || !ei.LastRequeueTime.Equal(now) || ei.StartTime != nil || ei.RetryCount != 1 {
				t.Errorf("executionInfo %+v", ei)
			}
		}},
		{"retry counts itself and keeps the exit code", running, Retry, Change{Now: now, ExitCode: exit3, StartTime: t0.Add(time.Second)}, api.TaskActive, "", func(t *testing.T, r *store.TaskRow) {
			ei := r.Task.ExecutionInfo
			if ei.RetryCount != 2 || !ei.LastRetryTime.Equal(now) || ei.ExitCode != exit3 || !ei.StartTime.Equal(t0.Add(time.Second)) || ei.EndTime != nil {
				t.Errorf("executionInfo %+v", ei)
			}
		}},
		{"finish records the run's end and outcome", running, Finish,
			Change{Now: now, ExitCode: exit3, EndTime: now.Add(-time.Second), Result: api.ResultFailure, FailureInfo: FailureExitCode()},
			api.TaskCompleted, "", func(t *testing.T, r *store.TaskRow) {
				ei := r.Task.ExecutionInfo
				if !ei.EndTime.Equal(now.Add(-time.Second)) || ei.ExitCode != exit3 || ei.Result != api.ResultFailure || ei.FailureInfo.Code != api.FailureExitCode {
					t.Errorf("executionInfo %+v", ei)
				}
				if r.Task.NodeInfo == nil {
					t.Error("nodeInfo cleared; the last run's node must stay readable")
				}
			}},
		{"finish without an end time ends now", running, Finish, Change{Now: now, Result: api.ResultSuccess}, api.TaskCompleted, "", func(t *testing.T, r *store.TaskRow) {
			if ei := r.Task.ExecutionInfo; !ei.EndTime.Equal(now) || ei.Result != api.ResultSuccess || ei.FailureInfo != nil {
				t.Errorf("executionInfo %+v", ei)
			}
		}},
		{"terminate of a running task drops its exit code", func() *store.TaskRow {
			r := running()
			r.Task.ExecutionInfo.ExitCode = exit3
			return r
		}, Terminate, Change{Now: now, Reason: "ended by user"}, api.TaskCompleted, "", func(t *testing.T, r *store.TaskRow) {
			ei := r.Task.ExecutionInfo
			if ei.ExitCode != nil || ei.Result != api.ResultFailure || ei.FailureInfo == nil || ei.FailureInfo.Code != api.FailureTaskEnded ||
				ei.FailureInfo.Message != "ended by user" || ei.FailureInfo.Category != api.UserError || !ei.EndTime.Equal(now) {
				t.Errorf("executionInfo %+v / %+v", ei, ei.FailureInfo)
			}
		}},
		{"terminate of a waiting active task stops the wait", func() *store.TaskRow {
			return &store.TaskRow{Epoch: 1, Waiting: true, Task: &api.Task{State: api.TaskActive}}
		}, Terminate, Change{Now: now, Reason: "job ended"}, api.TaskCompleted, "", func(t *testing.T, r *store.TaskRow) {
			if r.Waiting || r.Task.ExecutionInfo == nil || r.Task.ExecutionInfo.Result != api.ResultFailure {
				t.Errorf("waiting %v, executionInfo %+v", r.Waiting, r.Task.ExecutionInfo)
			}
		}},
		{"reactivate resets executionInfo but keeps requeues, and waits for dependencies", func() *store.TaskRow {
			return &store.TaskRow{Epoch: 7, Task: &api.Task{State: api.TaskCompleted, DependsOn: &api.TaskDependencies{TaskIDs: []string{"a"}},
				NodeInfo: &api.ComputeNodeInformation{NodeID: "n1"},
				ExecutionInfo: &api.TaskExecutionInformation{RetryCount: 3, RequeueCount: 2, LastRequeueTime: api.T(t0), ExitCode: exit3,
					Result: api.ResultFailure, EndTime: api.T(t0)}}}
		}, Reactivate, Change{Now: now}, api.TaskActive, "", func(t *testing.T, r *store.TaskRow) {
			want := api.TaskExecutionInformation{RequeueCount: 2, LastRequeueTime: api.T(t0)}
			ei := r.Task.ExecutionInfo
			if ei.RetryCount != 0 || ei.ExitCode != nil || ei.Result != "" || ei.EndTime != nil || ei.RequeueCount != want.RequeueCount || !ei.LastRequeueTime.Equal(t0) {
				t.Errorf("executionInfo %+v, want %+v", ei, want)
			}
			if r.Task.NodeInfo != nil || !r.Waiting {
				t.Errorf("nodeInfo %+v waiting %v, want none and waiting", r.Task.NodeInfo, r.Waiting)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.row()
			from, epoch, etag, fromTime := r.Task.State, r.Epoch, r.Task.ETag, r.Task.StateTransitionTime
			if err := ApplyTask(r, tt.ev, tt.c); err != nil {
				t.Fatal(err)
			}
			if r.Task.State != tt.state || r.Task.PreviousState != from || !r.Task.StateTransitionTime.Equal(now) ||
				(fromTime != nil && !r.Task.PreviousStateTransitionTime.Equal(*fromTime)) {
				t.Errorf("state %s (previous %s), want %s (previous %s)", r.Task.State, r.Task.PreviousState, tt.state, from)
			}
			if r.Epoch != epoch+1 {
				t.Errorf("epoch %d, want %d: every edge moves the lease on", r.Epoch, epoch+1)
			}
			if r.NodeID != tt.node {
				t.Errorf("lease node %q, want %q", r.NodeID, tt.node)
			}
			if r.Task.ETag == etag || r.Task.ETag == "" || !r.Task.LastModified.Equal(now) {
				t.Errorf("ETag %q (was %q), lastModified %v", r.Task.ETag, etag, r.Task.LastModified)
			}
			tt.check(t, r)
		})
	}
}

// TestApplyTaskRefusesChangesNothing: an edge not in the machine leaves
// the row exactly as it was.
func TestApplyTaskRefusesChangesNothing(t *testing.T) {
	r := &store.TaskRow{Epoch: 3, NodeID: "", Task: &api.Task{State: api.TaskCompleted, ETag: "0x1"}}
	for _, ev := range []TaskEvent{Start, Retry, Requeue, Finish, Terminate} {
		err := ApplyTask(r, ev, Change{Now: time.Now()})
		var te *TransitionError
		if !errors.As(err, &te) {
			t.Fatalf("%s on a completed task: %v, want a TransitionError", ev, err)
		}
		if r.Epoch != 3 || r.Task.ETag != "0x1" || r.Task.State != api.TaskCompleted || r.Task.ExecutionInfo != nil {
			t.Fatalf("%s changed the row: %+v %+v", ev, r, r.Task)
		}
	}
}

func TestApplyJobTerminated(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		pending *api.JobPending
		want    string
	}{
		{&api.JobPending{TerminateReason: "MaxWallClockTimeExpiry"}, "MaxWallClockTimeExpiry"},
		{nil, "UserTerminate"},
	} {
		j := &api.Job{State: api.JobTerminating, Pending: c.pending}
		if err := ApplyJob(j, Terminated, now); err != nil {
			t.Fatal(err)
		}
		if j.State != api.JobCompleted || j.Pending != nil || j.ExecutionInfo == nil ||
			j.ExecutionInfo.TerminateReason != c.want || !j.ExecutionInfo.EndTime.Equal(now) {
			t.Errorf("job %+v executionInfo %+v, want completed with reason %s", j, j.ExecutionInfo, c.want)
		}
	}
}

func TestNewTaskAndJob(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	task := &api.Task{State: api.TaskCompleted, PreviousState: api.TaskRunning, NodeInfo: &api.ComputeNodeInformation{NodeID: "n"},
		ExecutionInfo: &api.TaskExecutionInformation{RetryCount: 4}}
	NewTask(task, now)
	if task.State != api.TaskActive || task.PreviousState != "" || task.NodeInfo != nil || task.ExecutionInfo == nil ||
		task.ExecutionInfo.RetryCount != 0 || !task.CreationTime.Equal(now) || !task.StateTransitionTime.Equal(now) || task.ETag == "" {
		t.Errorf("new task %+v", task)
	}
	job := &api.Job{State: api.JobCompleted, Pending: &api.JobPending{TerminateReason: "x"}, PoolInfo: &api.PoolInformation{PoolID: "p"}}
	NewJob(job, now)
	if job.State != api.JobActive || job.Pending != nil || job.ExecutionInfo == nil || job.ExecutionInfo.PoolID != "p" ||
		!job.ExecutionInfo.StartTime.Equal(now) || !job.CreationTime.Equal(now) || job.ETag == "" {
		t.Errorf("new job %+v", job)
	}
}
