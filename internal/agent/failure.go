package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/openbatch/openbatch/api"
)

// Failure codes the api package does not define yet.
const (
	failureResourceContainerListTimedOut = "ResourceContainerListTimedOut"
	failureResourceDirectoryCreateFailed = "ResourceDirectoryCreateFailed"
)

// Failure ends a run with Batch failure information. A step returns a
// *Failure (possibly wrapped) to stop the pipeline; any other error from a
// step becomes an Unknown server error.
type Failure struct {
	// Info is reported as the task's failureInfo.
	Info api.TaskFailureInformation
	// PreProcessing marks failures that happened before the process ran.
	PreProcessing bool
	// Err is the underlying cause, for logs only. Steps scrub secrets (SAS
	// signatures) from it before returning.
	Err error
}

// Error gives the code, category, message and cause, for logs.
func (f *Failure) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("%s (%s): %s: %v", f.Info.Code, f.Info.Category, f.Info.Message, f.Err)
	}
	return fmt.Sprintf("%s (%s): %s", f.Info.Code, f.Info.Category, f.Info.Message)
}

// Unwrap returns the underlying cause.
func (f *Failure) Unwrap() error { return f.Err }

// NewFailure builds a Failure. details are optional name/value pairs shown
// in failureInfo.details.
func NewFailure(category api.ErrorCategory, code, message string, preProcessing bool, cause error, details ...api.NameValuePair) *Failure {
	return &Failure{
		Info:          api.TaskFailureInformation{Category: category, Code: code, Message: message, Details: details},
		PreProcessing: preProcessing,
		Err:           cause,
	}
}

// ErrTerminated is the cancellation cause a caller should use when a user
// terminates a task, or the task's job is terminated, disabled with
// "terminate", or deleted:
//
//	ctx, cancel := context.WithCancelCause(parent)
//	go func() { res := runner.Run(ctx, spec) }()
//	cancel(agent.ErrTerminated)
//
// Any cancellation ends the run with TaskEnded; the cause only selects the
// message. A *Failure given as the cause is reported as is.
var ErrTerminated = errors.New("the task was terminated by a user request")

// errEvicted is the eviction cause when the caller gave none.
var errEvicted = errors.New("the task was stopped before it exited")

// errAborted ends the after-process steps of a run given up (Spec.Abort).
var errAborted = errors.New("the node gave the task up (it no longer holds its lease)")

// errEvictGraceOver ends the output upload of an evicted run that took
// longer than Config.EvictUploadGrace.
var errEvictGraceOver = errors.New("the upload grace of an evicted task is over")

// errWallClock is the cause of the run context's deadline.
var errWallClock = errors.New("the task exceeded its maximum wall clock time")

// endedFailure is the failure of a run whose context ended: wall clock
// (ServerError TaskEnded, as DOC-ERR documents) or termination (UserError
// TaskEnded: the user asked for it).
func endedFailure(ctx context.Context, preProcessing bool) *Failure {
	cause := context.Cause(ctx)
	var f *Failure
	if errors.As(cause, &f) {
		return f
	}
	if errors.Is(cause, errWallClock) {
		return NewFailure(api.ServerError, api.FailureTaskEnded,
			"The task exceeded its maximum wall clock time and was terminated", preProcessing, cause,
			api.NameValuePair{Name: "Message", Value: "maxWallClockTime exceeded"})
	}
	msg := "unknown reason"
	if cause != nil {
		msg = cause.Error()
	}
	return NewFailure(api.UserError, api.FailureTaskEnded, "The task was terminated", preProcessing, cause,
		api.NameValuePair{Name: "Message", Value: msg})
}
