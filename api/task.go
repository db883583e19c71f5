package api

import (
	"encoding/json"
	"strconv"
	"time"
)

// Task is a Batch task: the body of task add (TaskAddParameter) and of task
// get (CloudTask). Fields the service sets are ignored on add.
type Task struct {
	ID                           string                        `json:"id"`
	DisplayName                  string                        `json:"displayName,omitempty"`
	URL                          string                        `json:"url,omitempty"`
	ETag                         string                        `json:"eTag,omitempty"`
	LastModified                 *time.Time                    `json:"lastModified,omitempty"`
	CreationTime                 *time.Time                    `json:"creationTime,omitempty"`
	ExitConditions               *ExitConditions               `json:"exitConditions,omitempty"`
	State                        TaskState                     `json:"state,omitempty"`
	StateTransitionTime          *time.Time                    `json:"stateTransitionTime,omitempty"`
	PreviousState                TaskState                     `json:"previousState,omitempty"`
	PreviousStateTransitionTime  *time.Time                    `json:"previousStateTransitionTime,omitempty"`
	CommandLine                  string                        `json:"commandLine"`
	ContainerSettings            TaskContainerSettings         `json:"containerSettings,omitempty"`
	ResourceFiles                []ResourceFile                `json:"resourceFiles,omitempty"`
	OutputFiles                  []OutputFile                  `json:"outputFiles,omitempty"`
	EnvironmentSettings          []EnvironmentSetting          `json:"environmentSettings,omitempty"`
	AffinityInfo                 *AffinityInformation          `json:"affinityInfo,omitempty"`
	Constraints                  *TaskConstraints              `json:"constraints,omitempty"`
	RequiredSlots                *int32                        `json:"requiredSlots,omitempty"`
	UserIdentity                 *UserIdentity                 `json:"userIdentity,omitempty"`
	ExecutionInfo                *TaskExecutionInformation     `json:"executionInfo,omitempty"`
	NodeInfo                     *ComputeNodeInformation       `json:"nodeInfo,omitempty"`
	MultiInstanceSettings        *MultiInstanceSettings        `json:"multiInstanceSettings,omitempty"`
	Stats                        *TaskStatistics               `json:"stats,omitempty"`
	DependsOn                    *TaskDependencies             `json:"dependsOn,omitempty"`
	ApplicationPackageReferences []ApplicationPackageReference `json:"applicationPackageReferences,omitempty"`
	AuthenticationTokenSettings  *AuthenticationTokenSettings  `json:"authenticationTokenSettings,omitempty"`
}

// TaskAddCollection is the body of addtaskcollection.
type TaskAddCollection struct {
	Value []json.RawMessage `json:"value"`
}

// TaskAddResult is the per-task outcome of addtaskcollection.
type TaskAddResult struct {
	Status       TaskAddStatus `json:"status"`
	TaskID       string        `json:"taskId"`
	ETag         string        `json:"eTag,omitempty"`
	LastModified *time.Time    `json:"lastModified,omitempty"`
	Location     string        `json:"location,omitempty"`
	Error        *BatchError   `json:"error,omitempty"`
}

// TaskAddCollectionResult is the response of addtaskcollection.
type TaskAddCollectionResult struct {
	Value []TaskAddResult `json:"value"`
}

// TaskUpdate is the body of task update (PUT): only constraints change.
type TaskUpdate struct {
	Constraints *TaskConstraints `json:"constraints,omitempty"`
}

// SubtaskInformation describes one instance of a multi-instance task.
type SubtaskInformation struct {
	ID                          int32                   `json:"id"`
	NodeInfo                    *ComputeNodeInformation `json:"nodeInfo,omitempty"`
	StartTime                   *time.Time              `json:"startTime,omitempty"`
	EndTime                     *time.Time              `json:"endTime,omitempty"`
	ExitCode                    *int32                  `json:"exitCode,omitempty"`
	FailureInfo                 *TaskFailureInformation `json:"failureInfo,omitempty"`
	State                       TaskState               `json:"state,omitempty"`
	StateTransitionTime         *time.Time              `json:"stateTransitionTime,omitempty"`
	PreviousState               TaskState               `json:"previousState,omitempty"`
	PreviousStateTransitionTime *time.Time              `json:"previousStateTransitionTime,omitempty"`
	Result                      TaskExecutionResult     `json:"result,omitempty"`
}

// TaskCounts are the number of a job's tasks in each state.
type TaskCounts struct {
	Active    int32 `json:"active"`
	Running   int32 `json:"running"`
	Completed int32 `json:"completed"`
	Succeeded int32 `json:"succeeded"`
	Failed    int32 `json:"failed"`
}

// TaskCountsResult is the response of job taskcounts.
type TaskCountsResult struct {
	TaskCounts     TaskCounts `json:"taskCounts"`
	TaskSlotCounts TaskCounts `json:"taskSlotCounts"`
}

// ExitCode formats the task's exit code, or "-" when it has none.
func (t *Task) ExitCode() string {
	if t.ExecutionInfo == nil || t.ExecutionInfo.ExitCode == nil {
		return "-"
	}
	return strconv.Itoa(int(*t.ExecutionInfo.ExitCode))
}
