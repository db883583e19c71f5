// Package lifecycle holds the task and job state machines of the Batch
// model as tables of transitions, and the pure rules that decide what a
// task's outcome means (retry or complete, success or failure, which exit
// options apply). Every component that changes a state goes through here,
// and each edge's side effects are written here once: ApplyTask (lease
// epoch and node, executionInfo, nodeInfo, waiting, times, ETag), ApplyJob
// (pending work, end time, terminate reason), SetNodeState, NewTask,
// NewJob, a pool's allocation (pool.go), MoveSchedule and
// StartPoolDelete. The service and scheduler decide which event happens and store
// the result; nothing here does I/O.
package lifecycle

import (
	"fmt"
	"strconv"
	"time"

	"github.com/openbatch/openbatch/api"
)

// TaskEvent is something that happens to a task.
type TaskEvent string

// Task events.
const (
	// Prepare: a node took the task and runs the job preparation task first.
	Prepare TaskEvent = "prepare"
	// Start: a node took the task (or its preparation finished) and runs it.
	Start TaskEvent = "start"
	// Retry: the process exited non-zero and retries remain.
	Retry TaskEvent = "retry"
	// Requeue: the task goes back to the queue through no fault of its own
	// (node lost, job disabled with requeue, preparation failed on a node).
	Requeue TaskEvent = "requeue"
	// Finish: the run ended (success or final failure).
	Finish TaskEvent = "finish"
	// Terminate: a user or the job ended the task.
	Terminate TaskEvent = "terminate"
	// Reactivate: a user put a failed task back in the queue.
	Reactivate TaskEvent = "reactivate"
)

type taskEdge struct {
	from api.TaskState
	ev   TaskEvent
}

// taskTable is the task state machine.
var taskTable = map[taskEdge]api.TaskState{
	{api.TaskActive, Prepare}:       api.TaskPreparing,
	{api.TaskActive, Start}:         api.TaskRunning,
	{api.TaskPreparing, Start}:      api.TaskRunning,
	{api.TaskPreparing, Requeue}:    api.TaskActive,
	{api.TaskRunning, Requeue}:      api.TaskActive,
	{api.TaskRunning, Retry}:        api.TaskActive,
	{api.TaskRunning, Finish}:       api.TaskCompleted,
	{api.TaskPreparing, Finish}:     api.TaskCompleted,
	{api.TaskActive, Finish}:        api.TaskCompleted,
	{api.TaskActive, Terminate}:     api.TaskCompleted,
	{api.TaskPreparing, Terminate}:  api.TaskCompleted,
	{api.TaskRunning, Terminate}:    api.TaskCompleted,
	{api.TaskCompleted, Reactivate}: api.TaskActive,
}

// TransitionError says an event is not allowed in a state.
type TransitionError struct {
	Entity string
	From   string
	Event  string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s in state %q cannot %s", e.Entity, e.From, e.Event)
}

// NextTask returns the state a task in state from moves to on ev.
func NextTask(from api.TaskState, ev TaskEvent) (api.TaskState, error) {
	to, ok := taskTable[taskEdge{from, ev}]
	if !ok {
		return "", &TransitionError{Entity: "task", From: string(from), Event: string(ev)}
	}
	return to, nil
}

// JobEvent is something that happens to a job.
type JobEvent string

// Job events.
const (
	Disable    JobEvent = "disable"
	Disabled   JobEvent = "disabled"
	Enable     JobEvent = "enable"
	Enabled    JobEvent = "enabled"
	TerminateJ JobEvent = "terminate"
	Terminated JobEvent = "terminated"
	Delete     JobEvent = "delete"
)

type jobEdge struct {
	from api.JobState
	ev   JobEvent
}

var jobTable = map[jobEdge]api.JobState{
	{api.JobActive, Disable}:         api.JobDisabling,
	{api.JobDisabling, Disabled}:     api.JobDisabled,
	{api.JobDisabled, Enable}:        api.JobEnabling,
	{api.JobEnabling, Enabled}:       api.JobActive,
	{api.JobActive, TerminateJ}:      api.JobTerminating,
	{api.JobDisabling, TerminateJ}:   api.JobTerminating,
	{api.JobDisabled, TerminateJ}:    api.JobTerminating,
	{api.JobEnabling, TerminateJ}:    api.JobTerminating,
	{api.JobTerminating, Terminated}: api.JobCompleted,
	{api.JobActive, Delete}:          api.JobDeleting,
	{api.JobDisabling, Delete}:       api.JobDeleting,
	{api.JobDisabled, Delete}:        api.JobDeleting,
	{api.JobEnabling, Delete}:        api.JobDeleting,
	{api.JobTerminating, Delete}:     api.JobDeleting,
	{api.JobCompleted, Delete}:       api.JobDeleting,
}

// NextJob returns the state a job in state from moves to on ev.
func NextJob(from api.JobState, ev JobEvent) (api.JobState, error) {
	to, ok := jobTable[jobEdge{from, ev}]
	if !ok {
		return "", &TransitionError{Entity: "job", From: string(from), Event: string(ev)}
	}
	return to, nil
}

// NewJob sets the service-owned fields of a job being added: active since
// now, started now on its pool, no pending work, and its first ETag.
func NewJob(j *api.Job, now time.Time) {
	j.State, j.PreviousState, j.PreviousStateTransitionTime = api.JobActive, "", nil
	j.CreationTime, j.LastModified, j.StateTransitionTime = api.T(now), api.T(now), api.T(now)
	poolID := ""
	if j.PoolInfo != nil {
		poolID = j.PoolInfo.PoolID
	}
	j.ExecutionInfo = &api.JobExecutionInformation{StartTime: now, PoolID: poolID}
	j.Pending = nil
	j.ETag = NextETag("", now)
}

// ApplyJob moves j on ev, recording the previous state and times. The
// job's pending work belongs to the transitional state it was recorded
// for: it is dropped when the job reaches a state that needs none. A job
// that finishes terminating records its end time and the terminate reason
// its pending work carried ("UserTerminate" when none).
func ApplyJob(j *api.Job, ev JobEvent, now time.Time) error {
	to, err := NextJob(j.State, ev)
	if err != nil {
		return err
	}
	if ev == Terminated {
		reason := "UserTerminate"
		if j.Pending != nil && j.Pending.TerminateReason != "" {
			reason = j.Pending.TerminateReason
		}
		if j.ExecutionInfo == nil {
			j.ExecutionInfo = &api.JobExecutionInformation{}
		}
		j.ExecutionInfo.EndTime = api.T(now)
		j.ExecutionInfo.TerminateReason = reason
	}
	j.PreviousState = j.State
	j.PreviousStateTransitionTime = j.StateTransitionTime
	j.State = to
	j.StateTransitionTime = api.T(now)
	if !Transitional(to) {
		j.Pending = nil
	}
	return nil
}

// Transitional reports whether a job in state st has work left that a
// reconcile loop must finish: its running tasks to end or requeue, its
// tasks and files to remove.
func Transitional(st api.JobState) bool {
	switch st {
	case api.JobTerminating, api.JobDisabling, api.JobDeleting, api.JobEnabling:
		return true
	}
	return false
}

// etagEpoch is 1601-01-01 in 100 ns ticks before the Unix epoch: Azure's
// ETags count 100 ns ticks from 1601, as Windows file times do.
const etagEpoch = 116444736000000000

// NextETag returns the ETag an entity gets when it changes: 0x and 15 hex
// digits of its modification time in 100 ns ticks since 1601 (the shape of
// Azure's), and always after prev, its current ETag ("" for a new entity).
// Deriving it from the stored ETag inside the transaction that writes it
// keeps an entity's ETags distinct across servers whose clocks disagree,
// with no counter held in any process.
func NextETag(prev string, now time.Time) string {
	tick := now.UnixNano()/100 + etagEpoch
	if p, ok := parseETag(prev); ok && tick <= p {
		tick = p + 1
	}
	return fmt.Sprintf("0x%015X", tick)
}

func parseETag(s string) (int64, bool) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return 0, false
	}
	v, err := strconv.ParseInt(s[2:], 16, 64)
	return v, err == nil
}
