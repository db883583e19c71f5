package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// minScheduleInterval is the shortest recurrenceInterval and startWindow
// Azure accepts.
const minScheduleInterval = time.Minute

// scheduleJobSep joins a schedule's ID and the number of a job it made:
// Azure names the jobs of schedule S "S:job-1", "S:job-2", ….
const scheduleJobSep = ":job-"

// ScheduleJobID is the ID of the n-th job (from 1) that schedule id makes.
func ScheduleJobID(id string, n int) string { return id + scheduleJobSep + strconv.Itoa(n) }

// scheduleJobNumber returns n for a job ID made by ScheduleJobID, or 0.
func scheduleJobNumber(jobID string) int {
	i := strings.LastIndex(jobID, scheduleJobSep)
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(jobID[i+len(scheduleJobSep):])
	if err != nil || n < 1 {
		return 0
	}
	return n
}

func (s *Service) validateJobSchedule(js *api.JobSchedule) error {
	if err := ValidateID("id", js.ID); err != nil {
		return err
	}
	if err := validateDisplayName("displayName", js.DisplayName); err != nil {
		return err
	}
	if err := validateSchedule(js.Schedule); err != nil {
		return err
	}
	return s.validateJobSpec(js.ID, js.JobSpecification)
}

func validateSchedule(sc *api.Schedule) error {
	if sc == nil {
		return api.Missing("schedule")
	}
	for name, d := range map[string]*api.Duration{"schedule.recurrenceInterval": sc.RecurrenceInterval, "schedule.startWindow": sc.StartWindow} {
		if d != nil && d.Std() < minScheduleInterval {
			return api.Invalid(name, d.String(), "The interval must be at least one minute.")
		}
	}
	if sc.DoNotRunUntil != nil && sc.DoNotRunAfter != nil && sc.DoNotRunAfter.Before(*sc.DoNotRunUntil) {
		return api.Invalid("schedule.doNotRunAfter", sc.DoNotRunAfter.Format(time.RFC3339), "doNotRunAfter must not be before doNotRunUntil.")
	}
	return nil
}

func (s *Service) validateJobSpec(scheduleID string, spec *api.JobSpecification) error {
	if spec == nil {
		return api.Missing("jobSpecification")
	}
	if err := s.validateJobBody(spec.Job(ScheduleJobID(scheduleID, 1)), true); err != nil {
		var pe *api.PropertyError
		if errors.As(err, &pe) {
			q := *pe
			q.Property = "jobSpecification." + pe.Property
			return &q
		}
		return err
	}
	return nil
}

// firstRun is when a schedule made at now makes its first job, or nil if
// it never will.
func firstRun(sc *api.Schedule, now time.Time) *time.Time {
	at := now
	if sc.DoNotRunUntil != nil && sc.DoNotRunUntil.After(now) {
		at = *sc.DoNotRunUntil
	}
	if sc.DoNotRunAfter != nil && at.After(*sc.DoNotRunAfter) {
		return nil
	}
	return api.T(at)
}

// nextRun is when a schedule makes its job after the one due at due, seen
// at now: the first recurrence after now (recurrences missed while no job
// could be made are skipped, as on Azure), or nil when there is none.
func nextRun(sc *api.Schedule, due, now time.Time) *time.Time {
	if sc.RecurrenceInterval == nil || sc.RecurrenceInterval.Std() <= 0 {
		return nil
	}
	every := sc.RecurrenceInterval.Std()
	next := due.Add(every)
	if !next.After(now) {
		next = next.Add(every * (now.Sub(next)/every + 1))
	}
	if sc.DoNotRunAfter != nil && next.After(*sc.DoNotRunAfter) {
		return nil
	}
	return api.T(next)
}

// AddJobSchedule creates a job schedule; its first job is made by the
// reconcile loop when due (at once unless doNotRunUntil says otherwise).
func (s *Service) AddJobSchedule(ctx context.Context, js *api.JobSchedule) error {
	if err := s.validateJobSchedule(js); err != nil {
		return AsError(err)
	}
	now := s.Now()
	js.URL, js.Stats = "", nil
	js.ETag = lifecycle.NextETag("", now)
	js.CreationTime, js.LastModified, js.StateTransitionTime = api.T(now), api.T(now), api.T(now)
	js.State, js.PreviousState, js.PreviousStateTransitionTime = api.JobScheduleActive, "", nil
	js.ExecutionInfo = &api.JobScheduleExecutionInformation{NextRunTime: firstRun(js.Schedule, now)}
	if err := s.Store.CreateJobSchedule(ctx, js); err != nil {
		if errors.Is(err, store.ErrExists) {
			return errorf(api.CodeJobScheduleExists, "The specified job schedule already exists: %s.", js.ID)
		}
		return err
	}
	s.reconcileScheduleNow(ctx, js.ID)
	return nil
}

func (s *Service) reconcileScheduleNow(ctx context.Context, id string) {
	if err := s.ReconcileJobSchedule(ctx, id); err != nil && ctx.Err() == nil {
		s.Log.Warn("job schedule work left to the reconcile loop", "schedule", id, "err", err)
	}
	s.kick(ctx)
}

func scheduleNotFound(err error, id string) error {
	return mapStoreErr(err, api.CodeJobScheduleNotFound, "job schedule", id)
}

// GetJobSchedule reads a job schedule, checking read conditions.
func (s *Service) GetJobSchedule(ctx context.Context, id string, cond Conditions) (*api.JobSchedule, error) {
	js, err := s.Store.GetJobSchedule(ctx, id)
	if err != nil {
		return nil, scheduleNotFound(err, id)
	}
	if err := cond.Check(js.ETag, js.LastModified, false); err != nil {
		return nil, err
	}
	return js, nil
}

// ListJobSchedules lists job schedules.
func (s *Service) ListJobSchedules(ctx context.Context, pg store.Page) ([]*api.JobSchedule, string, error) {
	return s.Store.ListJobSchedules(ctx, pg)
}

// ListScheduleJobs lists the jobs a schedule made.
func (s *Service) ListScheduleJobs(ctx context.Context, id string, pg store.Page) ([]*api.Job, string, error) {
	if _, err := s.Store.GetJobSchedule(ctx, id); err != nil {
		return nil, "", scheduleNotFound(err, id)
	}
	prefix := strings.ToLower(id) + scheduleJobSep
	match := pg.Match
	pg.Match = func(v any) bool {
		j := v.(*api.Job)
		return strings.HasPrefix(strings.ToLower(j.ID), prefix) && scheduleJobNumber(j.ID) > 0 && (match == nil || match(v))
	}
	return jobViews(s.Store.ListJobs(ctx, pg))
}

func (s *Service) updateJobSchedule(ctx context.Context, id string, cond Conditions, fn func(*api.JobSchedule) error) (*api.JobSchedule, error) {
	js, err := s.Store.UpdateJobSchedule(ctx, id, func(js *api.JobSchedule) error {
		if err := cond.Check(js.ETag, js.LastModified, true); err != nil {
			return err
		}
		if err := fn(js); err != nil {
			return err
		}
		now := s.Now()
		js.ETag = lifecycle.NextETag(js.ETag, now)
		js.LastModified = api.T(now)
		return nil
	})
	if err != nil {
		return nil, scheduleNotFound(err, id)
	}
	return js, nil
}

func scheduleWritable(js *api.JobSchedule) error {
	switch js.State {
	case api.JobScheduleCompleted:
		return errorf(api.CodeJobScheduleCompleted, "The specified job schedule is already in a completed state: %s.", js.ID)
	case api.JobScheduleTerminating:
		return errorf(api.CodeJobScheduleBeingTerminated, "The specified job schedule is being terminated: %s.", js.ID)
	case api.JobScheduleDeleting:
		return errorf(api.CodeJobScheduleBeingDeleted, "The specified job schedule has been marked for deletion and is being reclaimed: %s.", js.ID)
	}
	return nil
}

// setSchedule replaces a schedule's timing and works out its next run
// again: a schedule that has made no job yet starts as a new one would; one
// that has made jobs makes its next one recurrenceInterval from now (not
// before doNotRunUntil), or none without a recurrence.
func (s *Service) setSchedule(js *api.JobSchedule, sc *api.Schedule) {
	js.Schedule = sc
	now := s.Now()
	if js.ExecutionInfo == nil {
		js.ExecutionInfo = &api.JobScheduleExecutionInformation{}
	}
	ei := js.ExecutionInfo
	if ei.RecentJob == nil {
		ei.NextRunTime = firstRun(sc, now)
		return
	}
	ei.NextRunTime = nextRun(sc, now, now)
	if ei.NextRunTime != nil && sc.DoNotRunUntil != nil && sc.DoNotRunUntil.After(*ei.NextRunTime) {
		ei.NextRunTime = firstRun(sc, now)
	}
}

// PatchJobSchedule replaces the parts of a schedule the patch names; jobs
// already made keep their specification.
func (s *Service) PatchJobSchedule(ctx context.Context, id string, p *api.JobSchedulePatch, cond Conditions) (*api.JobSchedule, error) {
	if p.Schedule != nil {
		if err := validateSchedule(p.Schedule); err != nil {
			return nil, AsError(err)
		}
	}
	if p.JobSpecification != nil {
		if err := s.validateJobSpec(id, p.JobSpecification); err != nil {
			return nil, AsError(err)
		}
	}
	js, err := s.updateJobSchedule(ctx, id, cond, func(js *api.JobSchedule) error {
		if err := scheduleWritable(js); err != nil {
			return err
		}
		if p.Schedule != nil {
			s.setSchedule(js, p.Schedule)
		}
		if p.JobSpecification != nil {
			js.JobSpecification = p.JobSpecification
		}
		if p.Metadata != nil {
			js.Metadata = *p.Metadata
		}
		return nil
	})
	if err == nil {
		s.reconcileScheduleNow(ctx, id)
	}
	return js, err
}

// UpdateJobSchedule replaces a schedule's timing, specification and
// metadata (absent metadata is cleared).
func (s *Service) UpdateJobSchedule(ctx context.Context, id string, u *api.JobScheduleUpdate, cond Conditions) (*api.JobSchedule, error) {
	if err := validateSchedule(u.Schedule); err != nil {
		return nil, AsError(err)
	}
	if err := s.validateJobSpec(id, u.JobSpecification); err != nil {
		return nil, AsError(err)
	}
	js, err := s.updateJobSchedule(ctx, id, cond, func(js *api.JobSchedule) error {
		if err := scheduleWritable(js); err != nil {
			return err
		}
		s.setSchedule(js, u.Schedule)
		js.JobSpecification = u.JobSpecification
		js.Metadata = u.Metadata
		return nil
	})
	if err == nil {
		s.reconcileScheduleNow(ctx, id)
	}
	return js, err
}

// DisableJobSchedule stops a schedule from making jobs; its jobs go on.
func (s *Service) DisableJobSchedule(ctx context.Context, id string, cond Conditions) error {
	_, err := s.updateJobSchedule(ctx, id, cond, func(js *api.JobSchedule) error {
		if err := scheduleWritable(js); err != nil {
			return err
		}
		lifecycle.MoveSchedule(js, api.JobScheduleDisabled, s.Now())
		return nil
	})
	return err
}

// EnableJobSchedule lets a disabled schedule make jobs again.
func (s *Service) EnableJobSchedule(ctx context.Context, id string, cond Conditions) error {
	_, err := s.updateJobSchedule(ctx, id, cond, func(js *api.JobSchedule) error {
		if err := scheduleWritable(js); err != nil {
			return err
		}
		if js.State != api.JobScheduleDisabled {
			return errorf(api.CodeJobScheduleNotActive, "Only a disabled job schedule can be enabled; job schedule %s is %s.", id, js.State)
		}
		lifecycle.MoveSchedule(js, api.JobScheduleActive, s.Now())
		return nil
	})
	if err == nil {
		s.reconcileScheduleNow(ctx, id)
	}
	return err
}

// TerminateJobSchedule ends a schedule: it makes no more jobs, its active
// job is terminated (reason TerminateJobSchedule), then it completes. The
// rest is reconcile work, as for jobs.
func (s *Service) TerminateJobSchedule(ctx context.Context, id string, cond Conditions) error {
	if _, err := s.updateJobSchedule(ctx, id, cond, func(js *api.JobSchedule) error {
		if err := scheduleWritable(js); err != nil {
			return err
		}
		lifecycle.MoveSchedule(js, api.JobScheduleTerminating, s.Now())
		return nil
	}); err != nil {
		return err
	}
	s.reconcileScheduleNow(ctx, id)
	return nil
}

// DeleteJobSchedule deletes a schedule and every job it made.
func (s *Service) DeleteJobSchedule(ctx context.Context, id string, cond Conditions) error {
	if _, err := s.updateJobSchedule(ctx, id, cond, func(js *api.JobSchedule) error {
		lifecycle.MoveSchedule(js, api.JobScheduleDeleting, s.Now())
		return nil
	}); err != nil {
		return err
	}
	s.reconcileScheduleNow(ctx, id)
	return nil
}

// scheduleJobs returns the jobs a schedule made.
func (s *Service) scheduleJobs(ctx context.Context, id string) ([]*api.Job, error) {
	var out []*api.Job
	tok := ""
	for {
		jobs, next, err := s.ListScheduleJobs(ctx, id, store.Page{Token: tok})
		if err != nil {
			return nil, err
		}
		out = append(out, jobs...)
		if next == "" {
			return out, nil
		}
		tok = next
	}
}

// ReconcileJobSchedule moves a schedule one step on, at s.Now():
//   - active: makes its job when due (at most one job of a schedule is
//     active at a time; a recurrence that finds the previous job still
//     active waits for it up to startWindow, then is skipped), and
//     completes the schedule once it will make no more jobs and its last
//     job completed;
//   - terminating: terminates its active job, then completes;
//   - deleting: deletes its jobs, then itself.
//
// Like ReconcileJob it is idempotent and safe to run from any server at
// any time: the job it makes has a deterministic ID, so a pass that made
// the job but died before recording it finds the job there next time.
func (s *Service) ReconcileJobSchedule(ctx context.Context, id string) error {
	js, err := s.Store.GetJobSchedule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch js.State {
	case api.JobScheduleActive:
		return s.runSchedule(ctx, js)
	case api.JobScheduleTerminating:
		return s.finishScheduleTermination(ctx, js)
	case api.JobScheduleDeleting:
		return s.finishScheduleDelete(ctx, js)
	}
	return nil
}

// ReconcileJobSchedules runs ReconcileJobSchedule on every schedule that
// is active, terminating or being deleted.
func (s *Service) ReconcileJobSchedules(ctx context.Context) error {
	var errs []error
	for _, st := range []api.JobScheduleState{api.JobScheduleActive, api.JobScheduleTerminating, api.JobScheduleDeleting} {
		tok := ""
		for {
			list, next, err := s.Store.ListJobSchedules(ctx, store.Page{Token: tok, State: string(st)})
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			for _, js := range list {
				if err := s.ReconcileJobSchedule(ctx, js.ID); err != nil {
					errs = append(errs, fmt.Errorf("job schedule %s: %w", js.ID, err))
				}
			}
			if next == "" {
				break
			}
			tok = next
		}
	}
	return errors.Join(errs...)
}

// recentJobActive reports whether the schedule's most recent job exists
// and has not completed.
func (s *Service) recentJobActive(ctx context.Context, js *api.JobSchedule) (bool, error) {
	ei := js.ExecutionInfo
	if ei == nil || ei.RecentJob == nil {
		return false, nil
	}
	j, err := s.Store.GetJob(ctx, ei.RecentJob.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return j.State != api.JobCompleted, nil
}

func (s *Service) runSchedule(ctx context.Context, js *api.JobSchedule) error {
	now := s.Now()
	ei := js.ExecutionInfo
	if ei == nil {
		ei = &api.JobScheduleExecutionInformation{}
	}
	active, err := s.recentJobActive(ctx, js)
	if err != nil {
		return err
	}
	if ei.NextRunTime == nil {
		if active {
			return nil
		}
		// Nothing more to make and the last job is done: complete.
		if err := s.releaseScheduleAutoPool(ctx, js); err != nil {
			return err
		}
		_, err := s.updateJobSchedule(ctx, js.ID, Conditions{}, func(cur *api.JobSchedule) error {
			if cur.State != api.JobScheduleActive || cur.ExecutionInfo == nil || cur.ExecutionInfo.NextRunTime != nil {
				return nil
			}
			lifecycle.MoveSchedule(cur, api.JobScheduleCompleted, s.Now())
			cur.ExecutionInfo.EndTime = api.T(s.Now())
			return nil
		})
		return err
	}
	due := *ei.NextRunTime
	if now.Before(due) {
		return nil
	}
	if active {
		sc := js.Schedule
		if sc.StartWindow == nil || now.Sub(due) <= sc.StartWindow.Std() {
			return nil // wait for the previous job, within the start window
		}
		// The window passed with the previous job still active: this
		// recurrence is lost.
		return s.advanceSchedule(ctx, js.ID, due, "")
	}
	if sc := js.Schedule; sc.StartWindow != nil && now.Sub(due) > sc.StartWindow.Std() {
		return s.advanceSchedule(ctx, js.ID, due, "")
	}
	n := 1
	if ei.RecentJob != nil {
		n = scheduleJobNumber(ei.RecentJob.ID) + 1
	}
	jobID := ScheduleJobID(js.ID, n)
	j := js.JobSpecification.Job(jobID)
	if err := s.addJob(ctx, j, js); err != nil && !errors.Is(err, store.ErrExists) {
		var se *Error
		if !errors.As(err, &se) || se.Code != api.CodeJobExists {
			return fmt.Errorf("make job %s: %w", jobID, err)
		}
	}
	return s.advanceSchedule(ctx, js.ID, due, jobID)
}

// advanceSchedule records that the run due at due was made as jobID (or
// skipped, with jobID "") and sets the next run.
func (s *Service) advanceSchedule(ctx context.Context, id string, due time.Time, jobID string) error {
	_, err := s.updateJobSchedule(ctx, id, Conditions{}, func(js *api.JobSchedule) error {
		ei := js.ExecutionInfo
		if js.State != api.JobScheduleActive || ei == nil || ei.NextRunTime == nil || !ei.NextRunTime.Equal(due) {
			return nil // another pass got here first
		}
		if jobID != "" {
			ei.RecentJob = &api.RecentJob{ID: jobID}
		}
		ei.NextRunTime = nextRun(js.Schedule, due, s.Now())
		return nil
	})
	return err
}

func (s *Service) finishScheduleTermination(ctx context.Context, js *api.JobSchedule) error {
	jobs, err := s.scheduleJobs(ctx, js.ID)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := s.TerminateJobInternal(ctx, j.ID, "TerminateJobSchedule"); err != nil {
			return err
		}
	}
	if err := s.releaseScheduleAutoPool(ctx, js); err != nil {
		return err
	}
	_, err = s.updateJobSchedule(ctx, js.ID, Conditions{}, func(cur *api.JobSchedule) error {
		if cur.State != api.JobScheduleTerminating {
			return nil
		}
		lifecycle.MoveSchedule(cur, api.JobScheduleCompleted, s.Now())
		if cur.ExecutionInfo == nil {
			cur.ExecutionInfo = &api.JobScheduleExecutionInformation{}
		}
		cur.ExecutionInfo.NextRunTime = nil
		cur.ExecutionInfo.EndTime = api.T(s.Now())
		return nil
	})
	return err
}

func (s *Service) finishScheduleDelete(ctx context.Context, js *api.JobSchedule) error {
	jobs, err := s.scheduleJobs(ctx, js.ID)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := s.DeleteJob(ctx, j.ID, Conditions{}); err != nil && !isNotFound(err) {
			return err
		}
	}
	// Jobs still deleting (e.g. waiting for release tasks) keep the
	// schedule until they are gone.
	if left, err := s.scheduleJobs(ctx, js.ID); err != nil || len(left) > 0 {
		return err
	}
	if err := s.releaseScheduleAutoPool(ctx, js); err != nil {
		return err
	}
	if err := s.Store.DeleteJobSchedule(ctx, js.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// isNotFound reports whether err says the pool or job is gone (deleted
// meanwhile), which the callers treat as done.
func isNotFound(err error) bool {
	var se *Error
	return errors.As(err, &se) && (se.Code == api.CodePoolNotFound || se.Code == api.CodeJobNotFound)
}
