package api

import (
	"encoding/json"
	"strings"
)

// unmarshalLower decodes a JSON string and lowercases it, so that enum values
// sent in any case ("TaskCompletion", "taskCompletion") compare equal to the
// spec's lowercase spelling.
func unmarshalLower(b []byte) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return strings.ToLower(s), nil
}

// TaskState is the state of a task: active, preparing, running or completed.
type TaskState string

// Task states.
const (
	TaskActive    TaskState = "active"
	TaskPreparing TaskState = "preparing"
	TaskRunning   TaskState = "running"
	TaskCompleted TaskState = "completed"
)

// UnmarshalJSON accepts any letter case.
func (e *TaskState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = TaskState(s)
	return err
}

// Valid reports whether e is a known value.
func (e TaskState) Valid() bool {
	switch e {
	case TaskActive, TaskPreparing, TaskRunning, TaskCompleted:
		return true
	}
	return false
}

// JobState is the state of a job.
type JobState string

// Job states.
const (
	JobActive      JobState = "active"
	JobDisabling   JobState = "disabling"
	JobDisabled    JobState = "disabled"
	JobEnabling    JobState = "enabling"
	JobTerminating JobState = "terminating"
	JobCompleted   JobState = "completed"
	JobDeleting    JobState = "deleting"
)

// UnmarshalJSON accepts any letter case.
func (e *JobState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = JobState(s)
	return err
}

// PoolState is the state of a pool: active or deleting.
type PoolState string

// Pool states.
const (
	PoolActive   PoolState = "active"
	PoolDeleting PoolState = "deleting"
)

// UnmarshalJSON accepts any letter case.
func (e *PoolState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = PoolState(s)
	return err
}

// AllocationState says whether a pool is resizing.
type AllocationState string

// Allocation states.
const (
	AllocationSteady   AllocationState = "steady"
	AllocationResizing AllocationState = "resizing"
	AllocationStopping AllocationState = "stopping"
)

// UnmarshalJSON accepts any letter case.
func (e *AllocationState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = AllocationState(s)
	return err
}

// NodeState is the state of a compute node.
type NodeState string

// Compute node states.
const (
	NodeIdle                NodeState = "idle"
	NodeRebooting           NodeState = "rebooting"
	NodeReimaging           NodeState = "reimaging"
	NodeRunning             NodeState = "running"
	NodeUnusable            NodeState = "unusable"
	NodeCreating            NodeState = "creating"
	NodeStarting            NodeState = "starting"
	NodeWaitingForStartTask NodeState = "waitingforstarttask"
	NodeStartTaskFailed     NodeState = "starttaskfailed"
	NodeUnknown             NodeState = "unknown"
	NodeLeavingPool         NodeState = "leavingpool"
	NodeOffline             NodeState = "offline"
	NodeDeallocating        NodeState = "deallocating"
	NodeDeallocated         NodeState = "deallocated"
)

// UnmarshalJSON accepts any letter case.
func (e *NodeState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = NodeState(s)
	return err
}

// SchedulingState says whether new tasks may be scheduled on a node.
type SchedulingState string

// Scheduling states.
const (
	SchedulingEnabled  SchedulingState = "enabled"
	SchedulingDisabled SchedulingState = "disabled"
)

// UnmarshalJSON accepts any letter case.
func (e *SchedulingState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = SchedulingState(s)
	return err
}

// TaskExecutionResult is the result of a task run: success or failure.
type TaskExecutionResult string

// Task execution results.
const (
	ResultSuccess TaskExecutionResult = "success"
	ResultFailure TaskExecutionResult = "failure"
)

// UnmarshalJSON accepts any letter case.
func (e *TaskExecutionResult) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = TaskExecutionResult(s)
	return err
}

// ErrorCategory classifies a failure as the user's or the service's.
type ErrorCategory string

// Error categories.
const (
	UserError   ErrorCategory = "usererror"
	ServerError ErrorCategory = "servererror"
)

// UnmarshalJSON accepts any letter case.
func (e *ErrorCategory) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = ErrorCategory(s)
	return err
}

// OutputFileUploadCondition says after which task outcomes an output file is
// uploaded.
type OutputFileUploadCondition string

// Upload conditions.
const (
	UploadOnSuccess    OutputFileUploadCondition = "tasksuccess"
	UploadOnFailure    OutputFileUploadCondition = "taskfailure"
	UploadOnCompletion OutputFileUploadCondition = "taskcompletion"
)

// UnmarshalJSON accepts any letter case.
func (e *OutputFileUploadCondition) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = OutputFileUploadCondition(s)
	return err
}

// Valid reports whether e is a known value.
func (e OutputFileUploadCondition) Valid() bool {
	switch e {
	case UploadOnSuccess, UploadOnFailure, UploadOnCompletion:
		return true
	}
	return false
}

// JobAction is what happens to a job when one of its tasks completes with a
// given outcome.
type JobAction string

// Job actions.
const (
	JobActionNone      JobAction = "none"
	JobActionDisable   JobAction = "disable"
	JobActionTerminate JobAction = "terminate"
)

// UnmarshalJSON accepts any letter case.
func (e *JobAction) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = JobAction(s)
	return err
}

// DependencyAction says whether dependent tasks may run after a task's outcome.
type DependencyAction string

// Dependency actions.
const (
	DependencySatisfy DependencyAction = "satisfy"
	DependencyBlock   DependencyAction = "block"
)

// UnmarshalJSON accepts any letter case.
func (e *DependencyAction) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = DependencyAction(s)
	return err
}

// OnAllTasksComplete is what the service does when all of a job's tasks are
// complete.
type OnAllTasksComplete string

// OnAllTasksComplete values.
const (
	OnAllTasksCompleteNoAction     OnAllTasksComplete = "noaction"
	OnAllTasksCompleteTerminateJob OnAllTasksComplete = "terminatejob"
)

// UnmarshalJSON accepts any letter case.
func (e *OnAllTasksComplete) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = OnAllTasksComplete(s)
	return err
}

// OnTaskFailure is what the service does when a task of the job fails.
type OnTaskFailure string

// OnTaskFailure values.
const (
	OnTaskFailureNoAction                    OnTaskFailure = "noaction"
	OnTaskFailurePerformExitOptionsJobAction OnTaskFailure = "performexitoptionsjobaction"
)

// UnmarshalJSON accepts any letter case.
func (e *OnTaskFailure) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = OnTaskFailure(s)
	return err
}

// DisableJobOption says what happens to a job's running tasks when it is
// disabled.
type DisableJobOption string

// Disable options.
const (
	DisableRequeue   DisableJobOption = "requeue"
	DisableTerminate DisableJobOption = "terminate"
	DisableWait      DisableJobOption = "wait"
)

// UnmarshalJSON accepts any letter case.
func (e *DisableJobOption) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = DisableJobOption(s)
	return err
}

// ComputeNodeFillType says how tasks are spread over a pool's nodes.
type ComputeNodeFillType string

// Fill types.
const (
	FillSpread ComputeNodeFillType = "spread"
	FillPack   ComputeNodeFillType = "pack"
)

// UnmarshalJSON accepts any letter case.
func (e *ComputeNodeFillType) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = ComputeNodeFillType(s)
	return err
}

// JobDefaultOrder orders the tasks of a pool's jobs of equal priority.
type JobDefaultOrder string

// Job default orders.
const (
	JobOrderNone         JobDefaultOrder = "none"
	JobOrderCreationTime JobDefaultOrder = "creationtime"
)

// UnmarshalJSON accepts any letter case.
func (e *JobDefaultOrder) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = JobDefaultOrder(s)
	return err
}

// AutoUserScope is the scope of an auto user: task or pool.
type AutoUserScope string

// Auto-user scopes.
const (
	ScopeTask AutoUserScope = "task"
	ScopePool AutoUserScope = "pool"
)

// UnmarshalJSON accepts any letter case.
func (e *AutoUserScope) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = AutoUserScope(s)
	return err
}

// ElevationLevel is the elevation of a user: nonadmin or admin.
type ElevationLevel string

// Elevation levels.
const (
	ElevationNonAdmin ElevationLevel = "nonadmin"
	ElevationAdmin    ElevationLevel = "admin"
)

// UnmarshalJSON accepts any letter case.
func (e *ElevationLevel) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = ElevationLevel(s)
	return err
}

// TaskAddStatus is the per-task status in an add-collection result.
type TaskAddStatus string

// Task add statuses.
const (
	TaskAddSuccess     TaskAddStatus = "success"
	TaskAddClientError TaskAddStatus = "clienterror"
	TaskAddServerError TaskAddStatus = "servererror"
)

// UnmarshalJSON accepts any letter case.
func (e *TaskAddStatus) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = TaskAddStatus(s)
	return err
}

// StartTaskState is the state of a node's start task: running or completed.
type StartTaskState string

// Start task states.
const (
	StartTaskRunning   StartTaskState = "running"
	StartTaskCompleted StartTaskState = "completed"
)

// UnmarshalJSON accepts any letter case.
func (e *StartTaskState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = StartTaskState(s)
	return err
}

// PrepTaskState is the state of a job preparation or release task on a node.
type PrepTaskState string

// Job preparation/release task states.
const (
	PrepTaskRunning   PrepTaskState = "running"
	PrepTaskCompleted PrepTaskState = "completed"
)

// UnmarshalJSON accepts any letter case.
func (e *PrepTaskState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = PrepTaskState(s)
	return err
}
