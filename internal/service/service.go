// Package service implements the operations of the Batch data-plane API
// over the store: validation of request bodies, defaults, optimistic
// concurrency and the state rules of pools, jobs and tasks. The HTTP layer
// parses requests and renders responses; everything between is here.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Error is an API error: an HTTP status, a Batch error code, a message that
// says what to change, and optional key-value details.
type Error struct {
	Status  int
	Code    string
	Message string
	Values  []api.BatchErrorDetail
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func propertyError(pe *api.PropertyError) *Error {
	e := &Error{Status: http.StatusBadRequest, Code: pe.Code, Message: pe.Reason}
	e.Values = append(e.Values, api.BatchErrorDetail{Key: "PropertyName", Value: pe.Property})
	if pe.Value != "" {
		e.Values = append(e.Values, api.BatchErrorDetail{Key: "PropertyValue", Value: pe.Value})
	}
	e.Values = append(e.Values, api.BatchErrorDetail{Key: "Reason", Value: pe.Reason})
	return e
}

// AsError converts validation errors into *Error; other errors pass through.
func AsError(err error) error {
	var pe *api.PropertyError
	if errors.As(err, &pe) {
		return propertyError(pe)
	}
	return err
}

// Notifier is told when work may have become runnable, so the scheduler can
// hand it out without waiting for its next poll.
type Notifier interface {
	Kick()
}

// Provisioner makes a pool's nodes: internal/provider's Manager, which
// starts and ends node agents through the pool's node provider (local,
// slurm), or, for a static pool whose nodes are agents started by hand,
// says in the pool's resizeErrors that nobody acts on its target.
type Provisioner interface {
	// ReconcileNodes moves the pool's nodes one step toward its target:
	// it launches missing nodes and drains surplus ones, their running
	// tasks requeued, terminated or left to finish as opt (a
	// nodeDeallocationOption, "" for requeue) says. It is idempotent; the
	// reconcile loop calls it on every pool, a request that changes a
	// target calls it at once.
	ReconcileNodes(ctx context.Context, pool *api.Pool, opt string) error
	// RemovePool removes all of a pool's nodes.
	RemovePool(ctx context.Context, poolID string) error
}

// Capacity is implemented by a Provisioner whose providers can create only
// so many nodes (openbatch dev's local nodes). CheckTarget returns an error saying
// what to change when a pool with target nodes does not fit; the service
// asks before storing a pool's new target.
type Capacity interface {
	CheckTarget(poolID string, target int) error
}

// Hooks are the parts the service calls on task and job changes.
type Hooks interface {
	Notifier
	// TaskCompleted runs the completion rules (dependencies, job actions,
	// onAllTasksComplete) after a task reached completed outside a node
	// report, e.g. by terminate.
	TaskCompleted(ctx context.Context, jobID, taskID string)
	// JobChanged re-evaluates a job after a patch (e.g. onAllTasksComplete
	// switched to terminatejob).
	JobChanged(ctx context.Context, jobID string)
	// NodeChanged says a node's record changed outside the scheduler (e.g.
	// its scheduling was disabled).
	NodeChanged(nodeID string)
}

// TaskDirs removes task directories from the nodes that ran them.
type TaskDirs interface {
	RemoveTaskDir(ctx context.Context, poolID, nodeID, jobID, taskID string) error
}

// Service implements the Batch operations.
type Service struct {
	Store       store.Store
	Log         *slog.Logger
	Hooks       Hooks
	Provisioner Provisioner
	TaskDirs    TaskDirs
	// ValidateOutputFiles and ValidateResourceFiles check those lists at
	// task add; they return *api.PropertyError.
	ValidateOutputFiles   func([]api.OutputFile) error
	ValidateResourceFiles func([]api.ResourceFile) error
	// Now returns the current time (api.Now by default).
	Now func() time.Time
}

// New returns a Service over st.
func New(st store.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: st, Log: log, Hooks: nopHooks{}, Now: api.Now}
}

type nopHooks struct{}

func (nopHooks) Kick()                                         {}
func (nopHooks) TaskCompleted(context.Context, string, string) {}
func (nopHooks) JobChanged(context.Context, string)            {}

// Conditions are the If-* headers of a request.
type Conditions struct {
	IfMatch, IfNoneMatch               string
	IfModifiedSince, IfUnmodifiedSince *time.Time
}

func etagEqual(a, b string) bool {
	return a == "*" || strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

// Check reports whether an entity with etag and lastModified satisfies the
// conditions: it returns nil, or a ConditionNotMet error with status 304
// for reads and 412 for writes.
func (c Conditions) Check(etag string, lastModified *time.Time, write bool) error {
	// If-Match and If-Unmodified-Since guard writes: failing them is 412
	// whatever the method. If-None-Match and If-Modified-Since on a read
	// mean "not modified": 304.
	failed := func(status int, why string) error {
		return errorf(status, api.CodeConditionNotMet, "The condition specified using HTTP conditional header(s) is not met: %s.", why)
	}
	notModified := http.StatusNotModified
	if write {
		notModified = http.StatusPreconditionFailed
	}
	if c.IfMatch != "" && !etagEqual(c.IfMatch, etag) {
		return failed(http.StatusPreconditionFailed, "If-Match does not match the current ETag")
	}
	if c.IfNoneMatch != "" && etagEqual(c.IfNoneMatch, etag) {
		return failed(notModified, "If-None-Match matches the current ETag")
	}
	if lastModified == nil {
		return nil
	}
	lm := lastModified.Truncate(time.Second)
	if c.IfModifiedSince != nil && !lm.After(*c.IfModifiedSince) {
		return failed(notModified, "the entity was not modified since If-Modified-Since")
	}
	if c.IfUnmodifiedSince != nil && lm.After(*c.IfUnmodifiedSince) {
		return failed(http.StatusPreconditionFailed, "the entity was modified since If-Unmodified-Since")
	}
	return nil
}

func notFound(code, what, id string) *Error {
	return errorf(http.StatusNotFound, code, "The specified %s does not exist: %s.", what, id)
}

func mapStoreErr(err error, code, what, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(code, what, id)
	case errors.Is(err, store.ErrExists):
		var c string
		switch what {
		case "pool":
			c = api.CodePoolExists
		case "job":
			c = api.CodeJobExists
		default:
			c = api.CodeTaskExists
		}
		return errorf(http.StatusConflict, c, "The specified %s already exists: %s.", what, id)
	}
	return err
}

func (nopHooks) NodeChanged(string) {}
