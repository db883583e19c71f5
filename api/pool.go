package api

import (
	"encoding/json"
	"time"
)

// Pool is a Batch pool: the body of pool add (PoolAddParameter) and pool get
// (CloudPool). Settings that only make sense on Azure's VMs (images,
// networking, certificates, mounts) are stored and returned as given.
type Pool struct {
	ID                            string                        `json:"id"`
	DisplayName                   string                        `json:"displayName,omitempty"`
	URL                           string                        `json:"url,omitempty"`
	ETag                          string                        `json:"eTag,omitempty"`
	LastModified                  *time.Time                    `json:"lastModified,omitempty"`
	CreationTime                  *time.Time                    `json:"creationTime,omitempty"`
	State                         PoolState                     `json:"state,omitempty"`
	StateTransitionTime           *time.Time                    `json:"stateTransitionTime,omitempty"`
	AllocationState               AllocationState               `json:"allocationState,omitempty"`
	AllocationStateTransitionTime *time.Time                    `json:"allocationStateTransitionTime,omitempty"`
	VMSize                        string                        `json:"vmSize,omitempty"`
	CloudServiceConfiguration     json.RawMessage               `json:"cloudServiceConfiguration,omitempty"`
	VirtualMachineConfiguration   json.RawMessage               `json:"virtualMachineConfiguration,omitempty"`
	ResizeTimeout                 *Duration                     `json:"resizeTimeout,omitempty"`
	ResizeErrors                  []ResizeError                 `json:"resizeErrors,omitempty"`
	CurrentDedicatedNodes         *int32                        `json:"currentDedicatedNodes,omitempty"`
	CurrentLowPriorityNodes       *int32                        `json:"currentLowPriorityNodes,omitempty"`
	TargetDedicatedNodes          *int32                        `json:"targetDedicatedNodes,omitempty"`
	TargetLowPriorityNodes        *int32                        `json:"targetLowPriorityNodes,omitempty"`
	EnableAutoScale               *bool                         `json:"enableAutoScale,omitempty"`
	AutoScaleFormula              string                        `json:"autoScaleFormula,omitempty"`
	AutoScaleEvaluationInterval   *Duration                     `json:"autoScaleEvaluationInterval,omitempty"`
	AutoScaleRun                  *AutoScaleRun                 `json:"autoScaleRun,omitempty"`
	EnableInterNodeCommunication  *bool                         `json:"enableInterNodeCommunication,omitempty"`
	NetworkConfiguration          json.RawMessage               `json:"networkConfiguration,omitempty"`
	StartTask                     *StartTask                    `json:"startTask,omitempty"`
	CertificateReferences         json.RawMessage               `json:"certificateReferences,omitempty"`
	ApplicationPackageReferences  []ApplicationPackageReference `json:"applicationPackageReferences,omitempty"`
	ApplicationLicenses           []string                      `json:"applicationLicenses,omitempty"`
	TaskSlotsPerNode              *int32                        `json:"taskSlotsPerNode,omitempty"`
	TaskSchedulingPolicy          *TaskSchedulingPolicy         `json:"taskSchedulingPolicy,omitempty"`
	UserAccounts                  json.RawMessage               `json:"userAccounts,omitempty"`
	Metadata                      []MetadataItem                `json:"metadata,omitempty"`
	MountConfiguration            json.RawMessage               `json:"mountConfiguration,omitempty"`
	Identity                      json.RawMessage               `json:"identity,omitempty"`
	TargetNodeCommunicationMode   string                        `json:"targetNodeCommunicationMode,omitempty"`
	CurrentNodeCommunicationMode  string                        `json:"currentNodeCommunicationMode,omitempty"`
	Stats                         json.RawMessage               `json:"stats,omitempty"`
}

// AutoScaleRun is the outcome of one evaluation of a pool's autoscale
// formula: the pool's autoScaleRun after a periodic evaluation, and the
// response of evaluateautoscale.
type AutoScaleRun struct {
	Timestamp time.Time `json:"timestamp"`
	// Results is "$variable=value" for every variable, separated by ";".
	Results string             `json:"results,omitempty"`
	Error   *AutoScaleRunError `json:"error,omitempty"`
}

// AutoScaleRunError is why an autoscale evaluation failed.
type AutoScaleRunError struct {
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Values  []NameValuePair `json:"values,omitempty"`
}

// PoolEnableAutoScale is the body of pool enableautoscale. With autoscale
// already on, either property may be left out to keep its value.
type PoolEnableAutoScale struct {
	AutoScaleFormula            string    `json:"autoScaleFormula,omitempty"`
	AutoScaleEvaluationInterval *Duration `json:"autoScaleEvaluationInterval,omitempty"`
}

// PoolEvaluateAutoScale is the body of pool evaluateautoscale.
type PoolEvaluateAutoScale struct {
	AutoScaleFormula string `json:"autoScaleFormula"`
}

// ResizeError is an error met while resizing a pool.
type ResizeError struct {
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Values  []NameValuePair `json:"values,omitempty"`
}

// TaskSchedulingPolicy says how tasks are distributed over nodes.
type TaskSchedulingPolicy struct {
	NodeFillType ComputeNodeFillType `json:"nodeFillType"`
	// JobDefaultOrder (api-version 2025-06-01) orders tasks of jobs of equal
	// priority: none or creationtime. Stored and returned; see
	// docs/compatibility.md, "Pool jobDefaultOrder".
	JobDefaultOrder JobDefaultOrder `json:"jobDefaultOrder,omitempty"`
}

// StartTask runs on each node as it joins the pool.
type StartTask struct {
	CommandLine         string                `json:"commandLine"`
	ContainerSettings   TaskContainerSettings `json:"containerSettings,omitempty"`
	ResourceFiles       []ResourceFile        `json:"resourceFiles,omitempty"`
	EnvironmentSettings []EnvironmentSetting  `json:"environmentSettings,omitempty"`
	UserIdentity        *UserIdentity         `json:"userIdentity,omitempty"`
	MaxTaskRetryCount   *int32                `json:"maxTaskRetryCount,omitempty"`
	WaitForSuccess      *bool                 `json:"waitForSuccess,omitempty"`
}

// PoolPatch is the body of pool patch: absent fields are left as they are.
type PoolPatch struct {
	StartTask                    *StartTask                     `json:"startTask,omitempty"`
	CertificateReferences        json.RawMessage                `json:"certificateReferences,omitempty"`
	ApplicationPackageReferences *[]ApplicationPackageReference `json:"applicationPackageReferences,omitempty"`
	Metadata                     *[]MetadataItem                `json:"metadata,omitempty"`
	TargetNodeCommunicationMode  string                         `json:"targetNodeCommunicationMode,omitempty"`
}

// PoolUpdateProperties is the body of pool updateproperties: a full replace
// of the start task, references and metadata.
type PoolUpdateProperties struct {
	StartTask                    *StartTask                    `json:"startTask,omitempty"`
	CertificateReferences        json.RawMessage               `json:"certificateReferences"`
	ApplicationPackageReferences []ApplicationPackageReference `json:"applicationPackageReferences"`
	Metadata                     []MetadataItem                `json:"metadata"`
	TargetNodeCommunicationMode  string                        `json:"targetNodeCommunicationMode,omitempty"`
}

// PoolResize is the body of pool resize.
type PoolResize struct {
	TargetDedicatedNodes   *int32    `json:"targetDedicatedNodes,omitempty"`
	TargetLowPriorityNodes *int32    `json:"targetLowPriorityNodes,omitempty"`
	ResizeTimeout          *Duration `json:"resizeTimeout,omitempty"`
	NodeDeallocationOption string    `json:"nodeDeallocationOption,omitempty"`
}

// ComputeNode is a node of a pool.
type ComputeNode struct {
	ID                    string                `json:"id"`
	URL                   string                `json:"url,omitempty"`
	State                 NodeState             `json:"state,omitempty"`
	SchedulingState       SchedulingState       `json:"schedulingState,omitempty"`
	StateTransitionTime   *time.Time            `json:"stateTransitionTime,omitempty"`
	LastBootTime          *time.Time            `json:"lastBootTime,omitempty"`
	AllocationTime        *time.Time            `json:"allocationTime,omitempty"`
	IPAddress             string                `json:"ipAddress,omitempty"`
	AffinityID            string                `json:"affinityId,omitempty"`
	VMSize                string                `json:"vmSize,omitempty"`
	TotalTasksRun         int32                 `json:"totalTasksRun"`
	RunningTasksCount     int32                 `json:"runningTasksCount"`
	RunningTaskSlotsCount int32                 `json:"runningTaskSlotsCount"`
	TotalTasksSucceeded   int32                 `json:"totalTasksSucceeded"`
	RecentTasks           []TaskInformation     `json:"recentTasks,omitempty"`
	StartTask             *StartTask            `json:"startTask,omitempty"`
	StartTaskInfo         *StartTaskInformation `json:"startTaskInfo,omitempty"`
	IsDedicated           bool                  `json:"isDedicated"`
	Errors                []ComputeNodeError    `json:"errors,omitempty"`
	NodeAgentInfo         *NodeAgentInformation `json:"nodeAgentInfo,omitempty"`
}

// TaskInformation is a task that ran recently on a node.
type TaskInformation struct {
	TaskURL       string                    `json:"taskUrl,omitempty"`
	JobID         string                    `json:"jobId,omitempty"`
	TaskID        string                    `json:"taskId,omitempty"`
	SubtaskID     *int32                    `json:"subtaskId,omitempty"`
	TaskState     TaskState                 `json:"taskState"`
	ExecutionInfo *TaskExecutionInformation `json:"executionInfo,omitempty"`
}

// StartTaskInformation is what happened to a node's start task.
type StartTaskInformation struct {
	State         StartTaskState          `json:"state"`
	StartTime     time.Time               `json:"startTime"`
	EndTime       *time.Time              `json:"endTime,omitempty"`
	ExitCode      *int32                  `json:"exitCode,omitempty"`
	FailureInfo   *TaskFailureInformation `json:"failureInfo,omitempty"`
	RetryCount    int32                   `json:"retryCount"`
	LastRetryTime *time.Time              `json:"lastRetryTime,omitempty"`
	Result        TaskExecutionResult     `json:"result,omitempty"`
}

// ComputeNodeError is an error reported by a node.
type ComputeNodeError struct {
	Code         string          `json:"code,omitempty"`
	Message      string          `json:"message,omitempty"`
	ErrorDetails []NameValuePair `json:"errorDetails,omitempty"`
}

// NodeAgentInformation names the node agent's version.
type NodeAgentInformation struct {
	Version        string    `json:"version"`
	LastUpdateTime time.Time `json:"lastUpdateTime"`
}

// NodeDisableScheduling is the body of node disablescheduling.
type NodeDisableScheduling struct {
	// NodeDisableSchedulingOption is requeue (default), terminate or
	// taskcompletion.
	NodeDisableSchedulingOption string `json:"nodeDisableSchedulingOption,omitempty"`
}

// NodeRemove is the body of pool removenodes.
type NodeRemove struct {
	NodeList               []string  `json:"nodeList"`
	ResizeTimeout          *Duration `json:"resizeTimeout,omitempty"`
	NodeDeallocationOption string    `json:"nodeDeallocationOption,omitempty"`
}

// NodeCounts are a pool's nodes by state (camelCase keys, as the service
// spells them).
type NodeCounts struct {
	Creating            int32 `json:"creating"`
	Idle                int32 `json:"idle"`
	Offline             int32 `json:"offline"`
	Preempted           int32 `json:"preempted"`
	Rebooting           int32 `json:"rebooting"`
	Reimaging           int32 `json:"reimaging"`
	Running             int32 `json:"running"`
	Starting            int32 `json:"starting"`
	StartTaskFailed     int32 `json:"startTaskFailed"`
	LeavingPool         int32 `json:"leavingPool"`
	Unknown             int32 `json:"unknown"`
	Unusable            int32 `json:"unusable"`
	WaitingForStartTask int32 `json:"waitingForStartTask"`
	UpgradingOS         int32 `json:"upgradingOS"`
	Total               int32 `json:"total"`
}

// PoolNodeCounts are one pool's node counts.
type PoolNodeCounts struct {
	PoolID      string      `json:"poolId"`
	Dedicated   *NodeCounts `json:"dedicated,omitempty"`
	LowPriority *NodeCounts `json:"lowPriority,omitempty"`
}

// ImageInformation describes a supported VM image.
type ImageInformation struct {
	NodeAgentSKUID   string          `json:"nodeAgentSKUId"`
	ImageReference   json.RawMessage `json:"imageReference"`
	OSType           string          `json:"osType"`
	VerificationType string          `json:"verificationType"`
	Capabilities     []string        `json:"capabilities,omitempty"`
}
