package lifecycle

import (
	"github.com/openbatch/openbatch/api"
)

// FailureKind says at which stage a task run failed.
type FailureKind int

// Failure kinds.
const (
	// NoFailure: the process ran; its exit code decides.
	NoFailure FailureKind = iota
	// PreProcessing: resource files, program not found, launch failure.
	PreProcessing
	// FileUpload: output files could not be uploaded.
	FileUpload
	// Ended: the task was terminated or exceeded its wall-clock time.
	Ended
)

// Outcome is what a node reports about one run of a task.
type Outcome struct {
	ExitCode    *int32
	FailureInfo *api.TaskFailureInformation
	Kind        FailureKind
}

// Decision is what the service does with a run's outcome.
type Decision struct {
	// Retry is true when the task goes back to the queue as a retry.
	Retry bool
	// Result is the task's result when it completes.
	Result api.TaskExecutionResult
	// FailureInfo is set when the task completes with a failure.
	FailureInfo *api.TaskFailureInformation
	// Options are the exit options that apply (job and dependency action),
	// already defaulted.
	Options api.ExitOptions
}

// MaxRetries returns the effective maxTaskRetryCount of a task on a job:
// the task's own, else the job's, else 0. -1 means unlimited.
func MaxRetries(t *api.Task, j *api.Job) int32 {
	if t.Constraints != nil && t.Constraints.MaxTaskRetryCount != nil {
		return *t.Constraints.MaxTaskRetryCount
	}
	if j != nil && j.Constraints != nil && j.Constraints.MaxTaskRetryCount != nil {
		return *j.Constraints.MaxTaskRetryCount
	}
	return 0
}

// FailureExitCode is the failure info for a non-zero exit after retries.
func FailureExitCode() *api.TaskFailureInformation {
	return &api.TaskFailureInformation{
		Category: api.UserError, Code: api.FailureExitCode,
		Message: "The task exited with an exit code representing a failure",
		Details: []api.NameValuePair{
			{Name: "Message", Value: "The task process exited with an unexpected exit code"},
			{Name: "AdditionalErrorCode", Value: api.FailureExitCode},
		},
	}
}

// Decide applies the Batch rules to an outcome: a non-zero exit is retried
// while retries remain; pre-processing and upload failures are never
// retried; otherwise the task completes and its exit options are resolved.
func Decide(t *api.Task, j *api.Job, o Outcome) Decision {
	var retryCount int32
	if t.ExecutionInfo != nil {
		retryCount = t.ExecutionInfo.RetryCount
	}
	if o.Kind == NoFailure && o.ExitCode != nil && *o.ExitCode != 0 {
		max := MaxRetries(t, j)
		if max < 0 || retryCount < max {
			return Decision{Retry: true}
		}
	}
	d := Decision{Result: api.ResultSuccess}
	switch {
	case o.FailureInfo != nil:
		d.Result, d.FailureInfo = api.ResultFailure, o.FailureInfo
	case o.ExitCode != nil && *o.ExitCode != 0:
		d.Result, d.FailureInfo = api.ResultFailure, FailureExitCode()
	}
	d.Options = ExitOptions(t.ExitConditions, o)
	return d
}

// ExitOptions resolves which exit options apply to an outcome, with the
// defaults filled in: jobAction none for success and terminate otherwise
// (the job honours it only with onTaskFailure performexitoptionsjobaction),
// dependencyAction satisfy for success and block otherwise. An exit code
// listed in exitCodes/exitCodeRanges wins over fileUploadError.
func ExitOptions(ec *api.ExitConditions, o Outcome) api.ExitOptions {
	success := o.FailureInfo == nil && (o.ExitCode == nil || *o.ExitCode == 0)
	def := api.ExitOptions{JobAction: api.JobActionNone, DependencyAction: api.DependencySatisfy}
	if !success {
		def = api.ExitOptions{JobAction: api.JobActionTerminate, DependencyAction: api.DependencyBlock}
	}
	if ec == nil {
		return def
	}
	fill := func(e api.ExitOptions) api.ExitOptions {
		if e.JobAction == "" {
			e.JobAction = def.JobAction
		}
		if e.DependencyAction == "" {
			e.DependencyAction = def.DependencyAction
		}
		return e
	}
	if o.ExitCode != nil && o.Kind != PreProcessing {
		code := *o.ExitCode
		for _, m := range ec.ExitCodes {
			if m.Code == code {
				return fill(m.ExitOptions)
			}
		}
		for _, r := range ec.ExitCodeRanges {
			if code >= r.Start && code <= r.End {
				return fill(r.ExitOptions)
			}
		}
	}
	switch {
	case o.Kind == PreProcessing && ec.PreProcessingError != nil:
		return fill(*ec.PreProcessingError)
	case o.Kind == FileUpload && ec.FileUploadError != nil:
		return fill(*ec.FileUploadError)
	}
	if !success && ec.Default != nil {
		return fill(*ec.Default)
	}
	return def
}
