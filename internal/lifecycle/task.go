package lifecycle

import (
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Change is what a task edge needs beyond its event: the time, and for
// some events where or how the run went.
type Change struct {
	// Now is when the transition happens.
	Now time.Time
	// Node is where the task starts (Prepare, Start).
	Node *api.ComputeNodeInformation
	// Reason is the failureInfo message of a Terminate.
	Reason string
	// ExitCode, StartTime and EndTime are what the node reported about the
	// run (Retry, Finish); zero times mean "not reported".
	ExitCode           *int32
	StartTime, EndTime time.Time
	// Result and FailureInfo are the outcome of a Finish (Decide).
	Result      api.TaskExecutionResult
	FailureInfo *api.TaskFailureInformation
}

// NewTask sets the service-owned fields of a task being added: active since
// now, no history, no run, on no node, and its first ETag.
func NewTask(t *api.Task, now time.Time) {
	t.State, t.PreviousState, t.PreviousStateTransitionTime = api.TaskActive, "", nil
	t.CreationTime, t.LastModified, t.StateTransitionTime = api.T(now), api.T(now), api.T(now)
	t.ExecutionInfo = &api.TaskExecutionInformation{}
	t.NodeInfo = nil
	t.ETag = NextETag("", now)
}

// ApplyTask moves a task row on ev and applies every side effect of that
// edge, so that each is written once:
//
//   - state, previousState and both transition times;
//   - the lease: every edge bumps the epoch, so a report carrying an older
//     one is refused (fencing); Start gives the lease to c.Node, every
//     other edge takes it from the node;
//   - executionInfo: Start clears the previous run's end, exit code,
//     result and failure; Retry and Requeue count themselves; Finish and
//     Terminate record the end; Reactivate resets it (keeping the requeue
//     count, which says what the service did, not what the task did);
//   - nodeInfo: set by Start, cleared by Reactivate; Retry, Requeue and
//     completion keep it so the last run's files stay readable;
//   - waiting: Terminate clears it; Reactivate waits again for the task's
//     dependencies;
//   - the ETag and lastModified.
//
// It returns a *TransitionError, changing nothing, when the edge is not in
// the state machine.
func ApplyTask(r *store.TaskRow, ev TaskEvent, c Change) error {
	t := r.Task
	from := t.State
	to, err := NextTask(from, ev)
	if err != nil {
		return err
	}
	now := c.Now
	if to != from {
		t.PreviousState = from
		t.PreviousStateTransitionTime = t.StateTransitionTime
		t.State = to
		t.StateTransitionTime = api.T(now)
	}
	if t.ExecutionInfo == nil || ev == Reactivate {
		ei := &api.TaskExecutionInformation{}
		if t.ExecutionInfo != nil {
			ei.RequeueCount, ei.LastRequeueTime = t.ExecutionInfo.RequeueCount, t.ExecutionInfo.LastRequeueTime
		}
		t.ExecutionInfo = ei
	}
	ei := t.ExecutionInfo
	switch ev {
	case Prepare, Start:
		if from == api.TaskActive {
			ei.StartTime = api.T(now)
			ei.EndTime, ei.ExitCode, ei.FailureInfo, ei.Result = nil, nil, nil, ""
		}
		if c.Node != nil {
			node := *c.Node
			t.NodeInfo = &node
			r.NodeID = node.NodeID
		}
	case Retry:
		if !c.StartTime.IsZero() {
			ei.StartTime = api.T(c.StartTime.UTC())
		}
		ei.RetryCount++
		ei.LastRetryTime = api.T(now)
		ei.ExitCode = c.ExitCode
		r.NodeID = ""
	case Finish:
		if !c.StartTime.IsZero() {
			ei.StartTime = api.T(c.StartTime.UTC())
		}
		end := now
		if !c.EndTime.IsZero() {
			end = c.EndTime.UTC()
		}
		ei.EndTime = api.T(end)
		ei.ExitCode = c.ExitCode
		ei.Result = c.Result
		ei.FailureInfo = c.FailureInfo
		r.NodeID = ""
	case Requeue:
		ei.RequeueCount++
		ei.LastRequeueTime = api.T(now)
		ei.StartTime = nil
		r.NodeID = ""
	case Terminate:
		ei.EndTime = api.T(now)
		ei.Result = api.ResultFailure
		ei.FailureInfo = &api.TaskFailureInformation{Category: api.UserError, Code: api.FailureTaskEnded, Message: c.Reason}
		if from == api.TaskRunning || from == api.TaskPreparing {
			ei.ExitCode = nil // the process was killed: no exit code of its own
		}
		r.NodeID = ""
		r.Waiting = false
	case Reactivate:
		t.NodeInfo = nil
		r.NodeID = ""
		r.Waiting = HasDependencies(t)
	}
	r.Epoch++
	t.ETag = NextETag(t.ETag, now)
	t.LastModified = api.T(now)
	return nil
}

// HasDependencies reports whether a task names tasks it depends on: such a
// task waits until they are satisfied.
func HasDependencies(t *api.Task) bool {
	return t.DependsOn != nil && (len(t.DependsOn.TaskIDs) > 0 || len(t.DependsOn.TaskIDRanges) > 0)
}
