package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// maxAutoPoolPrefix is the longest autoPoolIdPrefix Azure accepts.
const maxAutoPoolPrefix = 20

// autoPool returns a job's parsed auto pool specification, or nil.
func autoPool(pi *api.PoolInformation) (*api.AutoPoolSpecification, error) {
	if pi == nil || len(pi.AutoPoolSpecification) == 0 {
		return nil, nil
	}
	var a api.AutoPoolSpecification
	dec := json.NewDecoder(bytes.NewReader(pi.AutoPoolSpecification))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, api.Invalid("poolInfo.autoPoolSpecification", "", "The auto pool specification is not valid: "+err.Error())
	}
	return &a, nil
}

// autoPoolSpec decodes the pool of an auto pool specification with id.
// Pool properties openbatch stores without acting on are accepted, as in
// pool add.
func autoPoolSpec(a *api.AutoPoolSpecification, id string) (*api.Pool, error) {
	if len(a.Pool) == 0 {
		return nil, api.Missing("poolInfo.autoPoolSpecification.pool")
	}
	var p api.Pool
	if err := json.Unmarshal(a.Pool, &p); err != nil {
		return nil, api.Invalid("poolInfo.autoPoolSpecification.pool", "", "The pool specification is not valid: "+err.Error())
	}
	p.ID = id
	return &p, nil
}

// validateAutoPool checks a job's (or schedule's) auto pool specification;
// inSchedule says whether the jobschedule lifetime is possible.
func (s *Service) validateAutoPool(pi *api.PoolInformation, inSchedule bool) error {
	a, err := autoPool(pi)
	if err != nil || a == nil {
		return err
	}
	if pi.PoolID != "" {
		return api.Invalid("poolInfo", "", "poolInfo takes a poolId or an autoPoolSpecification, not both.")
	}
	if len(a.AutoPoolIDPrefix) > maxAutoPoolPrefix {
		return api.Invalid("poolInfo.autoPoolSpecification.autoPoolIdPrefix", a.AutoPoolIDPrefix, fmt.Sprintf("The prefix can have at most %d characters.", maxAutoPoolPrefix))
	}
	if a.AutoPoolIDPrefix != "" {
		if err := ValidateID("poolInfo.autoPoolSpecification.autoPoolIdPrefix", a.AutoPoolIDPrefix); err != nil {
			return err
		}
	}
	switch a.PoolLifetimeOption {
	case api.PoolLifetimeJob:
	case api.PoolLifetimeJobSchedule:
		if !inSchedule {
			return api.Invalid("poolInfo.autoPoolSpecification.poolLifetimeOption", string(a.PoolLifetimeOption),
				"A job that is not made by a job schedule can only have poolLifetimeOption job.")
		}
	case "":
		return api.Missing("poolInfo.autoPoolSpecification.poolLifetimeOption")
	default:
		return api.Invalid("poolInfo.autoPoolSpecification.poolLifetimeOption", string(a.PoolLifetimeOption), "poolLifetimeOption must be job or jobschedule.")
	}
	p, err := autoPoolSpec(a, "autopool")
	if err != nil {
		return err
	}
	if err := s.validatePool(p); err != nil {
		var pe *api.PropertyError
		if errors.As(err, &pe) {
			q := *pe
			q.Property = "poolInfo.autoPoolSpecification.pool." + pe.Property
			return &q
		}
		return err
	}
	return nil
}

// autoPoolID names the auto pool of an owner (a job, or a job schedule for
// the jobschedule lifetime) made at created: the prefix, an underscore and
// a GUID-shaped digest of the owner. It is derived, not stored, so that
// making the pool can be retried after a crash without making two.
func autoPoolID(prefix, owner string, created time.Time) string {
	sum := sha256.Sum256([]byte(owner + "\x00" + created.UTC().Format(time.RFC3339Nano)))
	g := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	if prefix == "" {
		return g
	}
	return prefix + "_" + g
}

// prepareAutoPool gives a new job with an auto pool the ID of its pool
// (executionInfo.poolId); jobs of a schedule with the jobschedule lifetime
// share the schedule's pool.
func prepareAutoPool(j *api.Job, schedule *api.JobSchedule) error {
	a, err := autoPool(j.PoolInfo)
	if err != nil || a == nil {
		return err
	}
	owner, created := "job:"+j.ID, *j.CreationTime
	if a.PoolLifetimeOption == api.PoolLifetimeJobSchedule && schedule != nil {
		owner, created = "jobschedule:"+schedule.ID, *schedule.CreationTime
	}
	j.ExecutionInfo.PoolID = autoPoolID(a.AutoPoolIDPrefix, owner, created)
	return nil
}

// ensureAutoPool makes a job's auto pool if it does not exist yet.
func (s *Service) ensureAutoPool(ctx context.Context, j *api.Job) error {
	a, err := autoPool(j.PoolInfo)
	if err != nil || a == nil || j.ExecutionInfo == nil || j.ExecutionInfo.PoolID == "" {
		return err
	}
	if _, err := s.Store.GetPool(ctx, j.ExecutionInfo.PoolID); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	p, err := autoPoolSpec(a, j.ExecutionInfo.PoolID)
	if err != nil {
		return err
	}
	err = s.AddPool(ctx, p)
	var se *Error
	if errors.As(err, &se) && se.Code == api.CodePoolExists {
		return nil
	}
	return err
}

// releaseAutoPool deletes a job's auto pool when the job ends, unless the
// pool outlives it (keepAlive, or the jobschedule lifetime).
func (s *Service) releaseAutoPool(ctx context.Context, j *api.Job) error {
	a, err := autoPool(j.PoolInfo)
	if err != nil || a == nil || a.PoolLifetimeOption != api.PoolLifetimeJob || (a.KeepAlive != nil && *a.KeepAlive) ||
		j.ExecutionInfo == nil || j.ExecutionInfo.PoolID == "" {
		return err
	}
	return s.deleteAutoPool(ctx, j.ExecutionInfo.PoolID)
}

// releaseScheduleAutoPool deletes the pool a schedule's jobs shared when
// the schedule ends, unless keepAlive.
func (s *Service) releaseScheduleAutoPool(ctx context.Context, js *api.JobSchedule) error {
	if js.JobSpecification == nil {
		return nil
	}
	a, err := autoPool(js.JobSpecification.PoolInfo)
	if err != nil || a == nil || a.PoolLifetimeOption != api.PoolLifetimeJobSchedule || (a.KeepAlive != nil && *a.KeepAlive) {
		return err
	}
	return s.deleteAutoPool(ctx, autoPoolID(a.AutoPoolIDPrefix, "jobschedule:"+js.ID, *js.CreationTime))
}

func (s *Service) deleteAutoPool(ctx context.Context, id string) error {
	if err := s.DeletePool(ctx, id, Conditions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete auto pool %s: %w", id, err)
	}
	return nil
}

// EnsureAutoPools makes the missing auto pools of active jobs: the pool is
// made right after its job, and this sweep makes it if a crash came
// between.
func (s *Service) EnsureAutoPools(ctx context.Context) error {
	var errs []error
	tok := ""
	for {
		jobs, next, err := s.Store.ListJobs(ctx, store.Page{Token: tok, State: string(api.JobActive)})
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, j := range jobs {
			if err := s.ensureAutoPool(ctx, j); err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		tok = next
	}
}
