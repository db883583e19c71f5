package api

// BatchError is the body of every error response.
type BatchError struct {
	ODataMetadata string             `json:"odata.metadata,omitempty"`
	Code          string             `json:"code"`
	Message       *ErrorMessage      `json:"message,omitempty"`
	Values        []BatchErrorDetail `json:"values,omitempty"`
}

// ErrorMessage is a localized error message.
type ErrorMessage struct {
	Lang  string `json:"lang,omitempty"`
	Value string `json:"value"`
}

// BatchErrorDetail is a key-value detail of an error (note: key, not name).
type BatchErrorDetail struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Error makes BatchError usable as a Go error by clients.
func (e *BatchError) Error() string {
	if e.Message != nil {
		return e.Code + ": " + e.Message.Value
	}
	return e.Code
}

// Error codes of the Batch service (a subset: the ones openbatch returns).
const (
	CodeAuthenticationFailed            = "AuthenticationFailed"
	CodeInvalidAuthenticationInfo       = "InvalidAuthenticationInfo"
	CodeMissingRequiredQueryParameter   = "MissingRequiredQueryParameter"
	CodeUnsupportedRequestVersion       = "UnsupportedRequestVersion"
	CodeInvalidQueryParameterValue      = "InvalidQueryParameterValue"
	CodeOutOfRangeQueryParameterValue   = "OutOfRangeQueryParameterValue"
	CodeInvalidRequestBody              = "InvalidRequestBody"
	CodeMissingRequiredProperty         = "MissingRequiredProperty"
	CodeInvalidPropertyValue            = "InvalidPropertyValue"
	CodeUnsupportedProperty             = "UnsupportedProperty"
	CodeInvalidHeaderValue              = "InvalidHeaderValue"
	CodeMultipleConditionHeaders        = "MultipleConditionHeadersNotSupported"
	CodeRequestBodyTooLarge             = "RequestBodyTooLarge"
	CodeUnsupportedHTTPVerb             = "UnsupportedHttpVerb"
	CodeInvalidURI                      = "InvalidUri"
	CodeInvalidRange                    = "InvalidRange"
	CodeConditionNotMet                 = "ConditionNotMet"
	CodeResourceNotFound                = "ResourceNotFound"
	CodePoolNotFound                    = "PoolNotFound"
	CodeNodeNotFound                    = "NodeNotFound"
	CodeJobNotFound                     = "JobNotFound"
	CodeJobScheduleNotFound             = "JobScheduleNotFound"
	CodeJobScheduleExists               = "JobScheduleExists"
	CodeJobScheduleBeingDeleted         = "JobScheduleBeingDeleted"
	CodeJobScheduleBeingTerminated      = "JobScheduleBeingTerminated"
	CodeJobScheduleCompleted            = "JobScheduleCompleted"
	CodeJobScheduleDisabled             = "JobScheduleDisabled"
	CodeJobScheduleNotActive            = "JobScheduleNotActive"
	CodeTaskNotFound                    = "TaskNotFound"
	CodeFileNotFound                    = "FileNotFound"
	CodeTaskExists                      = "TaskExists"
	CodeJobExists                       = "JobExists"
	CodePoolExists                      = "PoolExists"
	CodeTaskCompleted                   = "TaskCompleted"
	CodeTaskNotCompleted                = "TaskNotCompleted"
	CodeTaskSucceeded                   = "TaskSucceeded"
	CodeJobCompleted                    = "JobCompleted"
	CodeJobBeingDeleted                 = "JobBeingDeleted"
	CodeJobBeingTerminated              = "JobBeingTerminated"
	CodeJobNotActive                    = "JobNotActive"
	CodeJobDisabled                     = "JobDisabled"
	CodePoolBeingDeleted                = "PoolBeingDeleted"
	CodePoolBeingResized                = "PoolBeingResized"
	CodeTaskIDSameAsJobPreparationTask  = "TaskIdSameAsJobPreparationTask"
	CodeTaskIDSameAsJobReleaseTask      = "TaskIdSameAsJobReleaseTask"
	CodeJobPreparationTaskNotSpecified  = "JobPreparationTaskNotSpecified"
	CodeTaskDependenciesNotSpecified    = "TaskDependenciesNotSpecifiedOnJob"
	CodeTaskDependencyListTooLong       = "TaskDependencyListTooLong"
	CodeTaskDependencyRangesTooLong     = "TaskDependencyRangesTooLong"
	CodeMetadataTooLarge                = "MetadataTooLarge"
	CodeRequestEntityTooLarge           = "RequestEntityTooLarge"
	CodeOperationInvalidForCurrentState = "OperationInvalidForCurrentState"
	CodeTaskFilesUnavailable            = "TaskFilesUnavailable"
	CodeInternalError                   = "InternalError"
	CodeServerBusy                      = "ServerBusy"
	CodeInvalidAutoScalingSettings      = "InvalidAutoScalingSettings"
	CodeAutoScalingFormulaSyntaxError   = "AutoScalingFormulaSyntaxError"
	CodeAutoScalingFormulaTooLong       = "AutoScalingFormulaTooLong"
	CodeOperationTimedOut               = "OperationTimedOut"
	CodeAutoScalingEnabled              = "AutoScalingEnabled"
	CodeNodeAlreadyInTargetState        = "NodeAlreadyInTargetSchedulingState"
	CodeDirectoryNotEmpty               = "DirectoryNotEmpty"
)

// Task failure codes (failureInfo.code).
const (
	FailureExitCode                    = "FailureExitCode"
	FailureTaskEnded                   = "TaskEnded"
	FailureCommandProgramNotFound      = "CommandProgramNotFound"
	FailureCommandLaunchFailed         = "CommandLaunchFailed"
	FailureBlobNotFound                = "BlobNotFound"
	FailureBlobAccessDenied            = "BlobAccessDenied"
	FailureBlobDownloadTimedOut        = "BlobDownloadTimedOut"
	FailureBlobDownloadMiscError       = "BlobDownloadMiscError"
	FailureResourceContainerNotFound   = "ResourceContainerNotFound"
	FailureResourceContainerDenied     = "ResourceContainerAccessDenied"
	FailureResourceContainerListMisc   = "ResourceContainerListMiscError"
	FailureResourceFileCreateFailed    = "ResourceFileCreateFailed"
	FailureResourceFileWriteFailed     = "ResourceFileWriteFailed"
	FailureFileUploadContainerNotFound = "FileUploadContainerNotFound"
	FailureFileUploadAccessDenied      = "FileUploadAccessDenied"
	FailureFileUploadConflict          = "FileUploadConflict"
	FailureFileUploadTimedOut          = "FileUploadTimedOut"
	FailureFileUploadMiscError         = "FileUploadMiscError"
	FailureJobPreparationTaskFailed    = "JobPreparationTaskFailed"
	FailureDiskFull                    = "DiskFull"
	FailureUnknown                     = "Unknown"
)
