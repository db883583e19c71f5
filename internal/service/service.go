// Package service implements the operations of the Batch data-plane API
// over the store: validation of request bodies, defaults, optimistic
// concurrency, the state rules of pools, jobs and tasks, and the
// completion rules (dependents, job actions, onAllTasksComplete). The HTTP
// layer parses requests and renders responses; everything between is here.
//
// Its errors carry Batch error codes only (*Error, ErrNotModified);
// internal/httpapi alone maps codes to HTTP statuses, and this package
// imports no net/http. It returns api types (and NodeView), never store
// rows. State changes and their side effects go through
// internal/lifecycle.
//
// Dependencies run one way: the scheduler calls the service; the service
// never calls the scheduler. After a change that may make work runnable or
// that the schedulers cache (a node's scheduling state, say), the service
// calls the store's Notify, which wakes the scheduler of every server
// sharing the database.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Error is an API error: a Batch error code, a message that says what to
// change, and optional key-value details. It carries no HTTP status: the
// HTTP layer alone maps codes to statuses (internal/httpapi/status.go), so
// every code the service returns must be in that table.
type Error struct {
	Code    string
	Message string
	Values  []api.BatchErrorDetail
	// Err is the failure behind the error, for the server's log; clients
	// never see it (nil for errors in the request).
	Err error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrNotModified is returned by Conditions.Check for a read whose
// If-None-Match or If-Modified-Since condition says the client's copy is
// current: the HTTP layer answers 304 with no body.
var ErrNotModified = errors.New("not modified")

func propertyError(pe *api.PropertyError) *Error {
	e := &Error{Code: pe.Code, Message: pe.Reason}
	e.Values = append(e.Values, api.BatchErrorDetail{Key: "PropertyName", Value: pe.Property})
	if pe.Value != "" {
		e.Values = append(e.Values, api.BatchErrorDetail{Key: "PropertyValue", Value: pe.Value})
	}
	e.Values = append(e.Values, api.BatchErrorDetail{Key: "Reason", Value: pe.Reason})
	return e
}

// AsError converts validation errors into *Error, and a database that
// cannot serve right now (store.Unavailable) into ServerBusy, which Azure
// clients retry; other errors pass through.
func AsError(err error) error {
	var pe *api.PropertyError
	if errors.As(err, &pe) {
		return propertyError(pe)
	}
	var se *Error
	if !errors.As(err, &se) && store.Unavailable(err) {
		return &Error{Code: api.CodeServerBusy, Message: "The server is currently unable to receive requests. Please retry your request.", Err: err}
	}
	return err
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

// TaskDirs removes task directories from the nodes that ran them.
type TaskDirs interface {
	RemoveTaskDir(ctx context.Context, poolID, nodeID, jobID, taskID string) error
}

// Service implements the Batch operations.
type Service struct {
	Store       store.Store
	Log         *slog.Logger
	Provisioner Provisioner
	TaskDirs    TaskDirs
	// ValidateOutputFiles and ValidateResourceFiles check those lists at
	// task add; they return *api.PropertyError.
	ValidateOutputFiles   func([]api.OutputFile) error
	ValidateResourceFiles func([]api.ResourceFile) error
	// Now returns the current time (api.Now by default).
	Now func() time.Time
	// AutoScale tunes autoscale sampling and evaluation (zero: Azure's).
	AutoScale AutoScaleConfig
}

// New returns a Service over st.
func New(st store.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: st, Log: log, Now: api.Now}
}

// kick tells every server sharing the store, this one included, that
// there may be new work or changed nodes, pools or jobs: their schedulers
// wake the nodes waiting for work and drop what they cache. The service
// signals through the store and never calls the scheduler, so that the
// dependency runs one way (scheduler → service → store) and a change made
// on one server is seen by all.
func (s *Service) kick(ctx context.Context) {
	if err := s.Store.Notify(ctx); err != nil && ctx.Err() == nil {
		// A lost wake-up costs latency, not correctness: nodes poll.
		s.Log.Debug("notify servers of a change", "err", err)
	}
}

// Conditions are the If-* headers of a request.
type Conditions struct {
	IfMatch, IfNoneMatch               string
	IfModifiedSince, IfUnmodifiedSince *time.Time
}

func etagEqual(a, b string) bool {
	return a == "*" || strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

// Check reports whether an entity with etag and lastModified satisfies the
// conditions: it returns nil, ErrNotModified (a read whose copy is
// current), or a ConditionNotMet error.
func (c Conditions) Check(etag string, lastModified *time.Time, write bool) error {
	// If-Match and If-Unmodified-Since guard writes: failing them is
	// ConditionNotMet whatever the method. If-None-Match and
	// If-Modified-Since on a read mean "not modified".
	failed := func(why string) error {
		return errorf(api.CodeConditionNotMet, "The condition specified using HTTP conditional header(s) is not met: %s.", why)
	}
	notModified := func(why string) error {
		if write {
			return failed(why)
		}
		return ErrNotModified
	}
	if c.IfMatch != "" && !etagEqual(c.IfMatch, etag) {
		return failed("If-Match does not match the current ETag")
	}
	if c.IfNoneMatch != "" && etagEqual(c.IfNoneMatch, etag) {
		return notModified("If-None-Match matches the current ETag")
	}
	if lastModified == nil {
		return nil
	}
	lm := lastModified.Truncate(time.Second)
	if c.IfModifiedSince != nil && !lm.After(*c.IfModifiedSince) {
		return notModified("the entity was not modified since If-Modified-Since")
	}
	if c.IfUnmodifiedSince != nil && lm.After(*c.IfUnmodifiedSince) {
		return failed("the entity was modified since If-Unmodified-Since")
	}
	return nil
}

func notFound(code, what, id string) *Error {
	return errorf(code, "The specified %s does not exist: %s.", what, id)
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
		return errorf(c, "The specified %s already exists: %s.", what, id)
	}
	return err
}
