package api

import (
	"encoding/json"
	"time"
)

// NameValuePair is a name and a value, as used in failure details and
// metadata.
type NameValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MetadataItem is a name-value pair attached to a pool or job by the user.
type MetadataItem = NameValuePair

// EnvironmentSetting is an environment variable for a task process.
type EnvironmentSetting struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// ComputeNodeIdentityReference names a user-assigned managed identity of the
// pool, by ARM resource ID.
type ComputeNodeIdentityReference struct {
	ResourceID string `json:"resourceId,omitempty"`
}

// ResourceFile is a file downloaded to a compute node before a task runs.
// Exactly one of AutoStorageContainerName, StorageContainerURL and HTTPURL is
// set.
type ResourceFile struct {
	AutoStorageContainerName string                        `json:"autoStorageContainerName,omitempty"`
	StorageContainerURL      string                        `json:"storageContainerUrl,omitempty"`
	HTTPURL                  string                        `json:"httpUrl,omitempty"`
	BlobPrefix               string                        `json:"blobPrefix,omitempty"`
	FilePath                 string                        `json:"filePath,omitempty"`
	FileMode                 string                        `json:"fileMode,omitempty"`
	IdentityReference        *ComputeNodeIdentityReference `json:"identityReference,omitempty"`
}

// HTTPHeader is a header sent with each output-file upload.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// OutputFile declares files that the node uploads to blob storage after the
// task's process exits.
type OutputFile struct {
	FilePattern   string                  `json:"filePattern"`
	Destination   OutputFileDestination   `json:"destination"`
	UploadOptions OutputFileUploadOptions `json:"uploadOptions"`
}

// OutputFileDestination is where output files go; a blob container is the
// only kind.
type OutputFileDestination struct {
	Container *OutputFileBlobContainerDestination `json:"container,omitempty"`
}

// OutputFileBlobContainerDestination is a blob container, an optional path
// inside it, and how to authenticate.
type OutputFileBlobContainerDestination struct {
	Path              string                        `json:"path,omitempty"`
	ContainerURL      string                        `json:"containerUrl"`
	IdentityReference *ComputeNodeIdentityReference `json:"identityReference,omitempty"`
	UploadHeaders     []HTTPHeader                  `json:"uploadHeaders,omitempty"`
}

// OutputFileUploadOptions says when an output file is uploaded.
type OutputFileUploadOptions struct {
	UploadCondition OutputFileUploadCondition `json:"uploadCondition"`
}

// TaskConstraints limit a task's run time, retries and directory retention.
type TaskConstraints struct {
	MaxWallClockTime  *Duration `json:"maxWallClockTime,omitempty"`
	RetentionTime     *Duration `json:"retentionTime,omitempty"`
	MaxTaskRetryCount *int32    `json:"maxTaskRetryCount,omitempty"`
}

// JobConstraints limit a job's run time and its tasks' default retries.
type JobConstraints struct {
	MaxWallClockTime  *Duration `json:"maxWallClockTime,omitempty"`
	MaxTaskRetryCount *int32    `json:"maxTaskRetryCount,omitempty"`
}

// UserIdentity is the user a task runs as: a named user or an auto user.
type UserIdentity struct {
	UserName string                 `json:"username,omitempty"`
	AutoUser *AutoUserSpecification `json:"autoUser,omitempty"`
}

// AutoUserSpecification describes an auto user.
type AutoUserSpecification struct {
	Scope          AutoUserScope  `json:"scope,omitempty"`
	ElevationLevel ElevationLevel `json:"elevationLevel,omitempty"`
}

// ExitConditions map a task's outcome to job and dependency actions.
type ExitConditions struct {
	ExitCodes          []ExitCodeMapping      `json:"exitCodes,omitempty"`
	ExitCodeRanges     []ExitCodeRangeMapping `json:"exitCodeRanges,omitempty"`
	PreProcessingError *ExitOptions           `json:"preProcessingError,omitempty"`
	FileUploadError    *ExitOptions           `json:"fileUploadError,omitempty"`
	Default            *ExitOptions           `json:"default,omitempty"`
}

// ExitCodeMapping maps one exit code to exit options.
type ExitCodeMapping struct {
	Code        int32       `json:"code"`
	ExitOptions ExitOptions `json:"exitOptions"`
}

// ExitCodeRangeMapping maps an inclusive range of exit codes to exit options.
type ExitCodeRangeMapping struct {
	Start       int32       `json:"start"`
	End         int32       `json:"end"`
	ExitOptions ExitOptions `json:"exitOptions"`
}

// ExitOptions are the actions taken for one outcome.
type ExitOptions struct {
	JobAction        JobAction        `json:"jobAction,omitempty"`
	DependencyAction DependencyAction `json:"dependencyAction,omitempty"`
}

// TaskDependencies lists the tasks a task waits for.
type TaskDependencies struct {
	TaskIDs      []string      `json:"taskIds,omitempty"`
	TaskIDRanges []TaskIDRange `json:"taskIdRanges,omitempty"`
}

// TaskIDRange is an inclusive range of integer task IDs.
type TaskIDRange struct {
	Start int32 `json:"start"`
	End   int32 `json:"end"`
}

// AffinityInformation is a soft preference for a node.
type AffinityInformation struct {
	AffinityID string `json:"affinityId"`
}

// MultiInstanceSettings describe a multi-instance (MPI) task.
type MultiInstanceSettings struct {
	NumberOfInstances       *int32         `json:"numberOfInstances,omitempty"`
	CoordinationCommandLine string         `json:"coordinationCommandLine,omitempty"`
	CommonResourceFiles     []ResourceFile `json:"commonResourceFiles,omitempty"`
}

// ApplicationPackageReference names an application package to deploy.
type ApplicationPackageReference struct {
	ApplicationID string `json:"applicationId"`
	Version       string `json:"version,omitempty"`
}

// AuthenticationTokenSettings request a token for the task (retired by Azure).
type AuthenticationTokenSettings struct {
	Access []string `json:"access,omitempty"`
}

// TaskContainerSettings run a task in a container. openbatch stores and
// returns them; local nodes do not run containers.
type TaskContainerSettings = json.RawMessage

// TaskFailureInformation explains why a task failed.
type TaskFailureInformation struct {
	Category ErrorCategory   `json:"category"`
	Code     string          `json:"code,omitempty"`
	Message  string          `json:"message,omitempty"`
	Details  []NameValuePair `json:"details,omitempty"`
}

// TaskExecutionInformation is what happened when the task ran.
type TaskExecutionInformation struct {
	StartTime       *time.Time              `json:"startTime,omitempty"`
	EndTime         *time.Time              `json:"endTime,omitempty"`
	ExitCode        *int32                  `json:"exitCode,omitempty"`
	ContainerInfo   json.RawMessage         `json:"containerInfo,omitempty"`
	FailureInfo     *TaskFailureInformation `json:"failureInfo,omitempty"`
	RetryCount      int32                   `json:"retryCount"`
	LastRetryTime   *time.Time              `json:"lastRetryTime,omitempty"`
	RequeueCount    int32                   `json:"requeueCount"`
	LastRequeueTime *time.Time              `json:"lastRequeueTime,omitempty"`
	Result          TaskExecutionResult     `json:"result,omitempty"`
}

// ComputeNodeInformation says where a task ran.
type ComputeNodeInformation struct {
	AffinityID           string `json:"affinityId,omitempty"`
	NodeURL              string `json:"nodeUrl,omitempty"`
	PoolID               string `json:"poolId,omitempty"`
	NodeID               string `json:"nodeId,omitempty"`
	TaskRootDirectory    string `json:"taskRootDirectory,omitempty"`
	TaskRootDirectoryURL string `json:"taskRootDirectoryUrl,omitempty"`
}

// TaskStatistics are resource-use figures for a task.
type TaskStatistics struct {
	URL            string    `json:"url"`
	StartTime      time.Time `json:"startTime"`
	LastUpdateTime time.Time `json:"lastUpdateTime"`
	UserCPUTime    Duration  `json:"userCPUTime"`
	KernelCPUTime  Duration  `json:"kernelCPUTime"`
	WallClockTime  Duration  `json:"wallClockTime"`
	ReadIOps       int64     `json:"readIOps,string"`
	WriteIOps      int64     `json:"writeIOps,string"`
	ReadIOGiB      float64   `json:"readIOGiB"`
	WriteIOGiB     float64   `json:"writeIOGiB"`
	WaitTime       Duration  `json:"waitTime"`
}
