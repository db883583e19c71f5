package api

import (
	"encoding/json"
	"time"
)

// JobSchedule is a job schedule (CloudJobSchedule): jobs made from one
// specification at the times its schedule names.
type JobSchedule struct {
	ID                          string                           `json:"id"`
	DisplayName                 string                           `json:"displayName,omitempty"`
	URL                         string                           `json:"url,omitempty"`
	ETag                        string                           `json:"eTag,omitempty"`
	LastModified                *time.Time                       `json:"lastModified,omitempty"`
	CreationTime                *time.Time                       `json:"creationTime,omitempty"`
	State                       JobScheduleState                 `json:"state,omitempty"`
	StateTransitionTime         *time.Time                       `json:"stateTransitionTime,omitempty"`
	PreviousState               JobScheduleState                 `json:"previousState,omitempty"`
	PreviousStateTransitionTime *time.Time                       `json:"previousStateTransitionTime,omitempty"`
	Schedule                    *Schedule                        `json:"schedule,omitempty"`
	JobSpecification            *JobSpecification                `json:"jobSpecification,omitempty"`
	ExecutionInfo               *JobScheduleExecutionInformation `json:"executionInfo,omitempty"`
	Metadata                    []MetadataItem                   `json:"metadata,omitempty"`
	Stats                       json.RawMessage                  `json:"stats,omitempty"`
}

// JobScheduleState is the state of a job schedule.
type JobScheduleState string

// Job schedule states.
const (
	JobScheduleActive      JobScheduleState = "active"
	JobScheduleCompleted   JobScheduleState = "completed"
	JobScheduleDisabled    JobScheduleState = "disabled"
	JobScheduleTerminating JobScheduleState = "terminating"
	JobScheduleDeleting    JobScheduleState = "deleting"
)

// UnmarshalJSON accepts any letter case.
func (e *JobScheduleState) UnmarshalJSON(b []byte) error {
	s, err := unmarshalLower(b)
	*e = JobScheduleState(s)
	return err
}

// Schedule says when a job schedule makes jobs. With no recurrenceInterval
// it makes one job, as soon as doNotRunUntil allows.
type Schedule struct {
	DoNotRunUntil      *time.Time `json:"doNotRunUntil,omitempty"`
	DoNotRunAfter      *time.Time `json:"doNotRunAfter,omitempty"`
	StartWindow        *Duration  `json:"startWindow,omitempty"`
	RecurrenceInterval *Duration  `json:"recurrenceInterval,omitempty"`
}

// JobSpecification is the template of the jobs a schedule makes.
type JobSpecification struct {
	Priority                  *int32               `json:"priority,omitempty"`
	AllowTaskPreemption       *bool                `json:"allowTaskPreemption,omitempty"`
	MaxParallelTasks          *int32               `json:"maxParallelTasks,omitempty"`
	DisplayName               string               `json:"displayName,omitempty"`
	UsesTaskDependencies      *bool                `json:"usesTaskDependencies,omitempty"`
	OnAllTasksComplete        OnAllTasksComplete   `json:"onAllTasksComplete,omitempty"`
	OnTaskFailure             OnTaskFailure        `json:"onTaskFailure,omitempty"`
	NetworkConfiguration      json.RawMessage      `json:"networkConfiguration,omitempty"`
	Constraints               *JobConstraints      `json:"constraints,omitempty"`
	JobManagerTask            *JobManagerTask      `json:"jobManagerTask,omitempty"`
	JobPreparationTask        *JobPreparationTask  `json:"jobPreparationTask,omitempty"`
	JobReleaseTask            *JobReleaseTask      `json:"jobReleaseTask,omitempty"`
	CommonEnvironmentSettings []EnvironmentSetting `json:"commonEnvironmentSettings,omitempty"`
	PoolInfo                  *PoolInformation     `json:"poolInfo,omitempty"`
	Metadata                  []MetadataItem       `json:"metadata,omitempty"`
}

// JobScheduleExecutionInformation is what a schedule did and will do.
type JobScheduleExecutionInformation struct {
	// NextRunTime is when the schedule makes its next job; absent once it
	// will make no more.
	NextRunTime *time.Time `json:"nextRunTime,omitempty"`
	RecentJob   *RecentJob `json:"recentJob,omitempty"`
	EndTime     *time.Time `json:"endTime,omitempty"`
}

// RecentJob names the most recent job a schedule made.
type RecentJob struct {
	ID  string `json:"id,omitempty"`
	URL string `json:"url,omitempty"`
}

// JobSchedulePatch is the body of job schedule patch: present fields replace
// the schedule's.
type JobSchedulePatch struct {
	Schedule         *Schedule         `json:"schedule,omitempty"`
	JobSpecification *JobSpecification `json:"jobSpecification,omitempty"`
	Metadata         *[]MetadataItem   `json:"metadata,omitempty"`
}

// JobScheduleUpdate is the body of job schedule update (PUT): schedule and
// jobSpecification are required, absent metadata is cleared.
type JobScheduleUpdate struct {
	Schedule         *Schedule         `json:"schedule,omitempty"`
	JobSpecification *JobSpecification `json:"jobSpecification,omitempty"`
	Metadata         []MetadataItem    `json:"metadata,omitempty"`
}

// Job returns the job that spec makes, with id, ready for job add.
func (spec *JobSpecification) Job(id string) *Job {
	return &Job{ID: id, DisplayName: spec.DisplayName, Priority: spec.Priority,
		AllowTaskPreemption: spec.AllowTaskPreemption, MaxParallelTasks: spec.MaxParallelTasks,
		UsesTaskDependencies: spec.UsesTaskDependencies, OnAllTasksComplete: spec.OnAllTasksComplete,
		OnTaskFailure: spec.OnTaskFailure, NetworkConfiguration: spec.NetworkConfiguration,
		Constraints: spec.Constraints, JobManagerTask: spec.JobManagerTask,
		JobPreparationTask: spec.JobPreparationTask, JobReleaseTask: spec.JobReleaseTask,
		CommonEnvironmentSettings: spec.CommonEnvironmentSettings, PoolInfo: spec.PoolInfo,
		Metadata: spec.Metadata}
}
