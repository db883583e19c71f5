package httpapi

import (
	"net/http"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// statusByCode is the one table from Batch error codes to HTTP statuses
// ("Batch Status and Error Codes", docs/compatibility.md). The service
// returns codes only; every code it or this package can return is here
// (TestEveryCodeHasStatus walks them). A code missing from the table is
// answered 500, as an internal error would be.
var statusByCode = map[string]int{
	// 400: the request is malformed or names invalid values. Property
	// errors (including the size limits MetadataTooLarge and
	// RequestEntityTooLarge on a property) are 400 with the property named.
	api.CodeInvalidAuthenticationInfo:     http.StatusBadRequest,
	api.CodeMissingRequiredQueryParameter: http.StatusBadRequest,
	api.CodeUnsupportedRequestVersion:     http.StatusBadRequest,
	api.CodeInvalidQueryParameterValue:    http.StatusBadRequest,
	api.CodeOutOfRangeQueryParameterValue: http.StatusBadRequest,
	api.CodeInvalidRequestBody:            http.StatusBadRequest,
	api.CodeMissingRequiredProperty:       http.StatusBadRequest,
	api.CodeInvalidPropertyValue:          http.StatusBadRequest,
	api.CodeUnsupportedProperty:           http.StatusBadRequest,
	api.CodeInvalidHeaderValue:            http.StatusBadRequest,
	api.CodeMultipleConditionHeaders:      http.StatusBadRequest,
	api.CodeInvalidURI:                    http.StatusBadRequest,
	api.CodeTaskDependenciesNotSpecified:  http.StatusBadRequest,
	api.CodeTaskDependencyListTooLong:     http.StatusBadRequest,
	api.CodeTaskDependencyRangesTooLong:   http.StatusBadRequest,
	api.CodeMetadataTooLarge:              http.StatusBadRequest,
	api.CodeRequestEntityTooLarge:         http.StatusBadRequest,
	api.CodeInvalidAutoScalingSettings:    http.StatusBadRequest,
	api.CodeAutoScalingFormulaSyntaxError: http.StatusBadRequest,
	api.CodeAutoScalingFormulaTooLong:     http.StatusBadRequest,

	// 403: a Shared Key signature that does not verify. A missing or
	// refused bearer token is 401 (authenticate says so explicitly).
	api.CodeAuthenticationFailed: http.StatusForbidden,

	// 404: the entity does not exist.
	api.CodeResourceNotFound:    http.StatusNotFound,
	api.CodePoolNotFound:        http.StatusNotFound,
	api.CodeNodeNotFound:        http.StatusNotFound,
	api.CodeJobNotFound:         http.StatusNotFound,
	api.CodeJobScheduleNotFound: http.StatusNotFound,
	api.CodeTaskNotFound:        http.StatusNotFound,
	api.CodeFileNotFound:        http.StatusNotFound,

	api.CodeUnsupportedHTTPVerb: http.StatusMethodNotAllowed,

	// 409: the entity exists, or its state does not allow the operation.
	api.CodeJobScheduleExists:               http.StatusConflict,
	api.CodeJobScheduleBeingDeleted:         http.StatusConflict,
	api.CodeJobScheduleBeingTerminated:      http.StatusConflict,
	api.CodeJobScheduleCompleted:            http.StatusConflict,
	api.CodeJobScheduleDisabled:             http.StatusConflict,
	api.CodeJobScheduleNotActive:            http.StatusConflict,
	api.CodeTaskExists:                      http.StatusConflict,
	api.CodeJobExists:                       http.StatusConflict,
	api.CodePoolExists:                      http.StatusConflict,
	api.CodeTaskCompleted:                   http.StatusConflict,
	api.CodeTaskNotCompleted:                http.StatusConflict,
	api.CodeTaskSucceeded:                   http.StatusConflict,
	api.CodeJobCompleted:                    http.StatusConflict,
	api.CodeJobBeingDeleted:                 http.StatusConflict,
	api.CodeJobBeingTerminated:              http.StatusConflict,
	api.CodeJobNotActive:                    http.StatusConflict,
	api.CodeJobDisabled:                     http.StatusConflict,
	api.CodePoolBeingDeleted:                http.StatusConflict,
	api.CodePoolBeingResized:                http.StatusConflict,
	api.CodeTaskIDSameAsJobPreparationTask:  http.StatusConflict,
	api.CodeTaskIDSameAsJobReleaseTask:      http.StatusConflict,
	api.CodeJobPreparationTaskNotSpecified:  http.StatusConflict,
	api.CodeOperationInvalidForCurrentState: http.StatusConflict,
	api.CodeTaskFilesUnavailable:            http.StatusConflict,
	api.CodeNodeBeingCreated:                http.StatusConflict,
	api.CodeNodeBeingStarted:                http.StatusConflict,
	api.CodeNodeBeingRebooted:               http.StatusConflict,
	api.CodeNodeBeingReimaged:               http.StatusConflict,
	api.CodeNodeStateUnusable:               http.StatusConflict,
	api.CodeAutoScalingEnabled:              http.StatusConflict,
	api.CodeNodeAlreadyInTargetState:        http.StatusConflict,
	api.CodeDirectoryNotEmpty:               http.StatusConflict,

	api.CodeConditionNotMet:     http.StatusPreconditionFailed,
	api.CodeRequestBodyTooLarge: http.StatusRequestEntityTooLarge,
	api.CodeInvalidRange:        http.StatusRequestedRangeNotSatisfiable,

	api.CodeInternalError:     http.StatusInternalServerError,
	api.CodeOperationTimedOut: http.StatusInternalServerError,
	api.CodeServerBusy:        http.StatusServiceUnavailable,
}

// statusOf returns the HTTP status of a Batch error code: from
// statusByCode, or 500 for a code the table does not know.
func statusOf(code string) int {
	if st, ok := statusByCode[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// statusError is an error this package raises where the protocol, not the
// code, fixes the status: a missing or refused bearer token is 401
// AuthenticationFailed (a wrong Shared Key signature is 403), and Shared
// Key errors keep the status sharedkey gives them.
type statusError struct {
	status int
	err    *service.Error
}

func (e *statusError) Error() string { return e.err.Error() }

// StatusOf is the HTTP status the API answers a service error's Batch code
// with, for other HTTP front ends (the console) that show service errors.
func StatusOf(code string) int { return statusOf(code) }
