package agent

import (
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// Kind is what a run is: a job's task, the pool's start task, or a job
// preparation or release task. It decides the task directory and which
// AZ_BATCH_* variables are set.
type Kind int

// Kinds of run.
const (
	KindTask Kind = iota
	KindStartTask
	KindJobPreparation
	KindJobRelease
)

// String returns the kind's name for logs.
func (k Kind) String() string {
	switch k {
	case KindTask:
		return "task"
	case KindStartTask:
		return "starttask"
	case KindJobPreparation:
		return "jobpreparation"
	case KindJobRelease:
		return "jobrelease"
	}
	return "unknown"
}

// Node identifies the compute node a run happens on and where its files
// live. It is the same for every run on one node.
type Node struct {
	AccountName string // AZ_BATCH_ACCOUNT_NAME
	AccountURL  string // AZ_BATCH_ACCOUNT_URL, e.g. http://127.0.0.1:8080
	PoolID      string // AZ_BATCH_POOL_ID
	NodeID      string // AZ_BATCH_NODE_ID
	IsDedicated bool   // AZ_BATCH_NODE_IS_DEDICATED
	Layout      Layout // AZ_BATCH_NODE_ROOT_DIR and everything below it
	// ReservedDiskSpaceBytes, when positive, is exported as
	// AZ_BATCH_RESERVED_DISK_SPACE_BYTES and
	// AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES; when zero both
	// are left unset (a local node reserves nothing).
	ReservedDiskSpaceBytes int64
	// UserAccounts are the pool's named user accounts, which a
	// userIdentity.username may name.
	UserAccounts []UserAccount
}

// Spec is everything one run needs. The runner does not read the store: the
// caller (the lead's scheduler/lease code) fills a Spec from the task, its
// job and the node.
type Spec struct {
	Kind Kind
	Node Node
	// JobID is the job the task belongs to (empty for a start task).
	JobID string
	// TaskID is the task's ID; for job preparation and release tasks, their
	// ID (empty means DefaultJobPreparationTaskID / DefaultJobReleaseTaskID).
	// Empty for a start task.
	TaskID string
	// CommandLine is split with cmdline.Split and run without a shell.
	CommandLine string
	// JobEnvironment is the job's commonEnvironmentSettings (not applied to
	// start tasks); Environment is the task's environmentSettings, which
	// win over JobEnvironment.
	JobEnvironment []api.EnvironmentSetting
	Environment    []api.EnvironmentSetting
	// ResourceFiles are downloaded into the working directory before the
	// process starts.
	ResourceFiles []api.ResourceFile
	// OutputFiles are uploaded after the process exits by an output-files
	// step appended to the runner (Config.AfterProcess).
	OutputFiles []api.OutputFile
	// Retryable is true when a non-zero exit of this run will be retried
	// by the service; output files are then not uploaded for this run.
	Retryable bool
	// MaxWallClockTime limits the run from its start (resource download
	// included); zero, api.Infinite.Std() or anything over 100 years mean
	// no limit.
	MaxWallClockTime time.Duration
	// Abort, when closed, gives the run up at once (see Runner.Run): the
	// process is stopped and nothing more is uploaded. A node closes it
	// when it no longer holds the task's lease (fencing, a requeue) or
	// stops at once. nil: never.
	Abort <-chan struct{}
	// JobPreparationTaskID is set when the job has a preparation task: it
	// makes AZ_BATCH_JOB_PREP_DIR and AZ_BATCH_JOB_PREP_WORKING_DIR
	// available to the job's tasks and release task.
	JobPreparationTaskID string
	// UserIdentity is the user the process runs as (nil: the non-admin
	// auto user). It takes effect only when Config.Users is enabled.
	UserIdentity *api.UserIdentity

	// recorder, set by the worker, records the run in the run journal.
	recorder *runRecorder
}

// Result is what a run produced. The scheduler maps it to the task's
// executionInfo (and startTaskInfo / job prep-release info): result is
// failure iff FailureInfo is set or ExitCode is non-zero, and retries are
// the scheduler's decision.
type Result struct {
	StartTime time.Time
	EndTime   time.Time
	// ExitCode is set iff the process ran. A process killed by a signal
	// (terminate, wall clock) reports 128+signal, as a shell would.
	ExitCode *int32
	// FailureInfo explains a failure the runner detected (pre-processing,
	// launch, TaskEnded, or a failure from an appended step). A non-zero
	// exit code alone does not set it: the scheduler adds FailureExitCode
	// (see FailureExitCodeInfo) once retries are exhausted.
	FailureInfo *api.TaskFailureInformation
	// PreProcessingError is true when the failure happened before the
	// process ran (resource files, command line, program not found, launch
	// failure): Batch does not retry those and exitConditions uses
	// preProcessingError for them.
	PreProcessingError bool
	// Stats are the process's resource use (nil if it never ran). URL and
	// WaitTime are left for the caller to fill.
	Stats *api.TaskStatistics
	// Uploads summarises the output file upload (nil if none was attempted).
	Uploads *nodeproto.UploadStats
}

// Outcome is api.ResultSuccess when the run has no failure and exit code 0,
// else api.ResultFailure.
func (r *Result) Outcome() api.TaskExecutionResult {
	if r.FailureInfo == nil && r.ExitCode != nil && *r.ExitCode == 0 {
		return api.ResultSuccess
	}
	return api.ResultFailure
}

// FailureExitCodeInfo is the failure information Azure Batch reports for a
// task whose final attempt exited non-zero. The scheduler attaches it when
// it decides not to retry.
func FailureExitCodeInfo() *api.TaskFailureInformation {
	return &api.TaskFailureInformation{
		Category: api.UserError,
		Code:     api.FailureExitCode,
		Message:  "The task exited with an exit code representing a failure",
		Details: []api.NameValuePair{
			{Name: "Message", Value: "The task process exited with an unexpected exit code"},
			{Name: "AdditionalErrorCode", Value: "FailureExitCode"},
		},
	}
}
