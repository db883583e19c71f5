package api

import (
	"encoding/json"
	"time"
)

// Job is a Batch job: the body of job add (JobAddParameter) and job get
// (CloudJob).
type Job struct {
	ID                          string                   `json:"id"`
	DisplayName                 string                   `json:"displayName,omitempty"`
	UsesTaskDependencies        *bool                    `json:"usesTaskDependencies,omitempty"`
	URL                         string                   `json:"url,omitempty"`
	ETag                        string                   `json:"eTag,omitempty"`
	LastModified                *time.Time               `json:"lastModified,omitempty"`
	CreationTime                *time.Time               `json:"creationTime,omitempty"`
	State                       JobState                 `json:"state,omitempty"`
	StateTransitionTime         *time.Time               `json:"stateTransitionTime,omitempty"`
	PreviousState               JobState                 `json:"previousState,omitempty"`
	PreviousStateTransitionTime *time.Time               `json:"previousStateTransitionTime,omitempty"`
	Priority                    *int32                   `json:"priority,omitempty"`
	AllowTaskPreemption         *bool                    `json:"allowTaskPreemption,omitempty"`
	MaxParallelTasks            *int32                   `json:"maxParallelTasks,omitempty"`
	Constraints                 *JobConstraints          `json:"constraints,omitempty"`
	JobManagerTask              *JobManagerTask          `json:"jobManagerTask,omitempty"`
	JobPreparationTask          *JobPreparationTask      `json:"jobPreparationTask,omitempty"`
	JobReleaseTask              *JobReleaseTask          `json:"jobReleaseTask,omitempty"`
	CommonEnvironmentSettings   []EnvironmentSetting     `json:"commonEnvironmentSettings,omitempty"`
	PoolInfo                    *PoolInformation         `json:"poolInfo,omitempty"`
	OnAllTasksComplete          OnAllTasksComplete       `json:"onAllTasksComplete,omitempty"`
	OnTaskFailure               OnTaskFailure            `json:"onTaskFailure,omitempty"`
	NetworkConfiguration        json.RawMessage          `json:"networkConfiguration,omitempty"`
	Metadata                    []MetadataItem           `json:"metadata,omitempty"`
	ExecutionInfo               *JobExecutionInformation `json:"executionInfo,omitempty"`
	Stats                       json.RawMessage          `json:"stats,omitempty"`
	// Pending is openbatch's record of the work a job's transitional state
	// (terminating, disabling) still needs, written in the same transaction
	// as the transition so that a reconcile loop can finish it after a crash
	// or a client disconnect. It is stored with the job and never sent: the
	// HTTP layer drops it, and a client cannot set it.
	Pending *JobPending `json:"openbatchPending,omitempty"`
}

// JobPending is the remaining work of a job in a transitional state.
type JobPending struct {
	// TerminateReason becomes executionInfo.terminateReason when a
	// terminating job completes.
	TerminateReason string `json:"terminateReason,omitempty"`
	// DisableTasks is what a disabling job does with its running tasks.
	DisableTasks DisableJobOption `json:"disableTasks,omitempty"`
}

// PoolInformation names the pool a job runs on.
type PoolInformation struct {
	PoolID                string          `json:"poolId,omitempty"`
	AutoPoolSpecification json.RawMessage `json:"autoPoolSpecification,omitempty"`
}

// JobExecutionInformation is what happened to a job.
type JobExecutionInformation struct {
	StartTime       time.Time               `json:"startTime"`
	EndTime         *time.Time              `json:"endTime,omitempty"`
	PoolID          string                  `json:"poolId,omitempty"`
	SchedulingError *TaskFailureInformation `json:"schedulingError,omitempty"`
	TerminateReason string                  `json:"terminateReason,omitempty"`
}

// JobManagerTask is the task started first when a job is created.
type JobManagerTask struct {
	ID                           string                        `json:"id"`
	DisplayName                  string                        `json:"displayName,omitempty"`
	CommandLine                  string                        `json:"commandLine"`
	ContainerSettings            TaskContainerSettings         `json:"containerSettings,omitempty"`
	ResourceFiles                []ResourceFile                `json:"resourceFiles,omitempty"`
	OutputFiles                  []OutputFile                  `json:"outputFiles,omitempty"`
	EnvironmentSettings          []EnvironmentSetting          `json:"environmentSettings,omitempty"`
	Constraints                  *TaskConstraints              `json:"constraints,omitempty"`
	RequiredSlots                *int32                        `json:"requiredSlots,omitempty"`
	KillJobOnCompletion          *bool                         `json:"killJobOnCompletion,omitempty"`
	UserIdentity                 *UserIdentity                 `json:"userIdentity,omitempty"`
	RunExclusive                 *bool                         `json:"runExclusive,omitempty"`
	ApplicationPackageReferences []ApplicationPackageReference `json:"applicationPackageReferences,omitempty"`
	AuthenticationTokenSettings  *AuthenticationTokenSettings  `json:"authenticationTokenSettings,omitempty"`
	AllowLowPriorityNode         *bool                         `json:"allowLowPriorityNode,omitempty"`
}

// JobPreparationTask runs on a node before the job's first task there.
type JobPreparationTask struct {
	ID                            string                `json:"id,omitempty"`
	CommandLine                   string                `json:"commandLine"`
	ContainerSettings             TaskContainerSettings `json:"containerSettings,omitempty"`
	ResourceFiles                 []ResourceFile        `json:"resourceFiles,omitempty"`
	EnvironmentSettings           []EnvironmentSetting  `json:"environmentSettings,omitempty"`
	Constraints                   *TaskConstraints      `json:"constraints,omitempty"`
	WaitForSuccess                *bool                 `json:"waitForSuccess,omitempty"`
	UserIdentity                  *UserIdentity         `json:"userIdentity,omitempty"`
	RerunOnNodeRebootAfterSuccess *bool                 `json:"rerunOnNodeRebootAfterSuccess,omitempty"`
}

// JobReleaseTask runs on each node that ran the preparation task when the job
// ends.
type JobReleaseTask struct {
	ID                  string                `json:"id,omitempty"`
	CommandLine         string                `json:"commandLine"`
	ContainerSettings   TaskContainerSettings `json:"containerSettings,omitempty"`
	ResourceFiles       []ResourceFile        `json:"resourceFiles,omitempty"`
	EnvironmentSettings []EnvironmentSetting  `json:"environmentSettings,omitempty"`
	MaxWallClockTime    *Duration             `json:"maxWallClockTime,omitempty"`
	RetentionTime       *Duration             `json:"retentionTime,omitempty"`
	UserIdentity        *UserIdentity         `json:"userIdentity,omitempty"`
}

// JobPatch is the body of job patch: absent fields are left as they are.
type JobPatch struct {
	Priority            *int32             `json:"priority,omitempty"`
	MaxParallelTasks    *int32             `json:"maxParallelTasks,omitempty"`
	AllowTaskPreemption *bool              `json:"allowTaskPreemption,omitempty"`
	OnAllTasksComplete  OnAllTasksComplete `json:"onAllTasksComplete,omitempty"`
	Constraints         *JobConstraints    `json:"constraints,omitempty"`
	PoolInfo            *PoolInformation   `json:"poolInfo,omitempty"`
	Metadata            *[]MetadataItem    `json:"metadata,omitempty"`
}

// JobUpdate is the body of job update (PUT): absent fields are reset to their
// defaults; poolInfo is required.
type JobUpdate struct {
	Priority            *int32             `json:"priority,omitempty"`
	MaxParallelTasks    *int32             `json:"maxParallelTasks,omitempty"`
	AllowTaskPreemption *bool              `json:"allowTaskPreemption,omitempty"`
	Constraints         *JobConstraints    `json:"constraints,omitempty"`
	PoolInfo            *PoolInformation   `json:"poolInfo,omitempty"`
	Metadata            []MetadataItem     `json:"metadata,omitempty"`
	OnAllTasksComplete  OnAllTasksComplete `json:"onAllTasksComplete,omitempty"`
}

// JobDisable is the body of job disable.
type JobDisable struct {
	DisableTasks DisableJobOption `json:"disableTasks"`
}

// JobTerminate is the optional body of job terminate.
type JobTerminate struct {
	TerminateReason string `json:"terminateReason,omitempty"`
}

// JobPreparationAndReleaseTaskExecutionInformation is one node's record of a
// job's preparation and release tasks.
type JobPreparationAndReleaseTaskExecutionInformation struct {
	PoolID                          string                                  `json:"poolId,omitempty"`
	NodeID                          string                                  `json:"nodeId,omitempty"`
	NodeURL                         string                                  `json:"nodeUrl,omitempty"`
	JobPreparationTaskExecutionInfo *JobPrepReleaseTaskExecutionInformation `json:"jobPreparationTaskExecutionInfo,omitempty"`
	JobReleaseTaskExecutionInfo     *JobPrepReleaseTaskExecutionInformation `json:"jobReleaseTaskExecutionInfo,omitempty"`
}

// JobPrepReleaseTaskExecutionInformation is a preparation or release task's
// run on one node.
type JobPrepReleaseTaskExecutionInformation struct {
	StartTime            time.Time               `json:"startTime"`
	EndTime              *time.Time              `json:"endTime,omitempty"`
	State                PrepTaskState           `json:"state"`
	TaskRootDirectory    string                  `json:"taskRootDirectory,omitempty"`
	TaskRootDirectoryURL string                  `json:"taskRootDirectoryUrl,omitempty"`
	ExitCode             *int32                  `json:"exitCode,omitempty"`
	FailureInfo          *TaskFailureInformation `json:"failureInfo,omitempty"`
	RetryCount           int32                   `json:"retryCount"`
	LastRetryTime        *time.Time              `json:"lastRetryTime,omitempty"`
	Result               TaskExecutionResult     `json:"result,omitempty"`
}

// AutoPoolSpecification asks for a pool made for a job or job schedule and
// removed with it (poolInfo.autoPoolSpecification).
type AutoPoolSpecification struct {
	AutoPoolIDPrefix   string             `json:"autoPoolIdPrefix,omitempty"`
	PoolLifetimeOption PoolLifetimeOption `json:"poolLifetimeOption"`
	KeepAlive          *bool              `json:"keepAlive,omitempty"`
	// Pool is the pool's specification: a pool add body without an ID.
	Pool json.RawMessage `json:"pool,omitempty"`
}

// PoolLifetimeOption says what an auto pool lives as long as.
type PoolLifetimeOption string

// Pool lifetime options.
const (
	PoolLifetimeJob         PoolLifetimeOption = "job"
	PoolLifetimeJobSchedule PoolLifetimeOption = "jobschedule"
)

// UnmarshalJSON accepts any letter case.
func (e *PoolLifetimeOption) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = PoolLifetimeOption(s)
	return err
}

// RunsOn returns the ID of the pool a job's tasks run on: the named pool,
// or the auto pool made for it (executionInfo.poolId).
func (j *Job) RunsOn() string {
	if j.PoolInfo != nil && j.PoolInfo.PoolID != "" {
		return j.PoolInfo.PoolID
	}
	if j.ExecutionInfo != nil {
		return j.ExecutionInfo.PoolID
	}
	return ""
}
