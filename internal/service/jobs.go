package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

func (s *Service) validateJob(j *api.Job) error {
	if err := ValidateID("id", j.ID); err != nil {
		return err
	}
	return s.validateJobBody(j, false)
}

// validateJobBody checks everything of a job but its ID (which a job
// schedule chooses for the jobs it makes); inSchedule says the job is a
// schedule's, which may share an auto pool with the schedule's other jobs.
func (s *Service) validateJobBody(j *api.Job, inSchedule bool) error {
	if err := validateDisplayName("displayName", j.DisplayName); err != nil {
		return err
	}
	if err := validateMetadata("metadata", j.Metadata); err != nil {
		return err
	}
	if j.PoolInfo == nil {
		return api.Missing("poolInfo")
	}
	if j.PoolInfo.PoolID == "" && len(j.PoolInfo.AutoPoolSpecification) == 0 {
		return api.Missing("poolInfo.poolId")
	}
	if err := s.validateAutoPool(j.PoolInfo, inSchedule); err != nil {
		return err
	}
	if j.Priority != nil && (*j.Priority < -1000 || *j.Priority > 1000) {
		return api.Invalid("priority", fmt.Sprint(*j.Priority), "priority must be between -1000 and 1000.")
	}
	if j.MaxParallelTasks != nil && *j.MaxParallelTasks != -1 && *j.MaxParallelTasks < 1 {
		return api.Invalid("maxParallelTasks", fmt.Sprint(*j.MaxParallelTasks), "maxParallelTasks must be -1 (unlimited) or greater than 0.")
	}
	if c := j.Constraints; c != nil {
		if err := validateDuration("constraints.maxWallClockTime", c.MaxWallClockTime); err != nil {
			return err
		}
		if c.MaxTaskRetryCount != nil && *c.MaxTaskRetryCount < -1 {
			return api.Invalid("constraints.maxTaskRetryCount", fmt.Sprint(*c.MaxTaskRetryCount), "maxTaskRetryCount must be -1 (unlimited) or at least 0.")
		}
	}
	switch j.OnAllTasksComplete {
	case "", api.OnAllTasksCompleteNoAction, api.OnAllTasksCompleteTerminateJob:
	default:
		return api.Invalid("onAllTasksComplete", string(j.OnAllTasksComplete), "onAllTasksComplete must be noaction or terminatejob.")
	}
	switch j.OnTaskFailure {
	case "", api.OnTaskFailureNoAction, api.OnTaskFailurePerformExitOptionsJobAction:
	default:
		return api.Invalid("onTaskFailure", string(j.OnTaskFailure), "onTaskFailure must be noaction or performexitoptionsjobaction.")
	}
	if err := validateEnv("commonEnvironmentSettings", j.CommonEnvironmentSettings); err != nil {
		return err
	}
	if m := j.JobManagerTask; m != nil {
		// The job manager becomes the job's first task: check it as one, so
		// that a job is never created with a task that cannot be added.
		if err := s.validateTask(jobManagerTask(m), j); err != nil {
			var pe *api.PropertyError
			if errors.As(err, &pe) {
				q := *pe
				q.Property = "jobManagerTask." + pe.Property
				return &q
			}
			return err
		}
	}
	if p := j.JobPreparationTask; p != nil {
		if p.ID != "" {
			if err := ValidateID("jobPreparationTask.id", p.ID); err != nil {
				return err
			}
		}
		if p.CommandLine == "" {
			return api.Missing("jobPreparationTask.commandLine")
		}
	}
	if r := j.JobReleaseTask; r != nil {
		if j.JobPreparationTask == nil {
			return api.Invalid("jobReleaseTask", "", "A job release task requires a job preparation task.")
		}
		if r.CommandLine == "" {
			return api.Missing("jobReleaseTask.commandLine")
		}
		if r.MaxWallClockTime != nil && (*r.MaxWallClockTime < 0 || *r.MaxWallClockTime > api.Duration(15*60*1e9)) {
			return api.Invalid("jobReleaseTask.maxWallClockTime", r.MaxWallClockTime.String(), "The release task's maxWallClockTime must be at most 15 minutes.")
		}
	}
	return nil
}

// jobManagerTask is the task a job manager task is run as.
func jobManagerTask(m *api.JobManagerTask) *api.Task {
	return &api.Task{ID: m.ID, DisplayName: m.DisplayName, CommandLine: m.CommandLine, ContainerSettings: m.ContainerSettings,
		ResourceFiles: m.ResourceFiles, OutputFiles: m.OutputFiles, EnvironmentSettings: m.EnvironmentSettings,
		Constraints: m.Constraints, RequiredSlots: m.RequiredSlots, UserIdentity: m.UserIdentity,
		ApplicationPackageReferences: m.ApplicationPackageReferences}
}

// AddJob creates a job; a job manager task, if any, is added as the job's
// first task.
func (s *Service) AddJob(ctx context.Context, j *api.Job) error {
	if err := s.validateJob(j); err != nil {
		return AsError(err)
	}
	return s.addJob(ctx, j, nil)
}

// addJob creates a validated job; schedule is the job schedule that makes
// it, if any.
func (s *Service) addJob(ctx context.Context, j *api.Job, schedule *api.JobSchedule) error {
	now := s.Now()
	j.URL, j.Stats = "", nil
	lifecycle.NewJob(j, now)
	if err := prepareAutoPool(j, schedule); err != nil {
		return AsError(err)
	}
	if j.Priority == nil {
		j.Priority = api.I32(0)
	}
	if j.MaxParallelTasks == nil {
		j.MaxParallelTasks = api.I32(-1)
	}
	if j.AllowTaskPreemption == nil {
		j.AllowTaskPreemption = api.B(false)
	}
	if j.UsesTaskDependencies == nil {
		j.UsesTaskDependencies = api.B(false)
	}
	if j.OnAllTasksComplete == "" {
		j.OnAllTasksComplete = api.OnAllTasksCompleteNoAction
	}
	if j.OnTaskFailure == "" {
		j.OnTaskFailure = api.OnTaskFailureNoAction
	}
	if j.Constraints == nil {
		j.Constraints = &api.JobConstraints{}
	}
	if j.Constraints.MaxWallClockTime == nil {
		inf := api.Infinite
		j.Constraints.MaxWallClockTime = &inf
	}
	if j.Constraints.MaxTaskRetryCount == nil {
		j.Constraints.MaxTaskRetryCount = api.I32(0)
	}
	if m := j.JobManagerTask; m != nil {
		if m.KillJobOnCompletion == nil {
			m.KillJobOnCompletion = api.B(true)
		}
		if m.RunExclusive == nil {
			m.RunExclusive = api.B(true)
		}
		if m.AllowLowPriorityNode == nil {
			m.AllowLowPriorityNode = api.B(true)
		}
	}
	if p := j.JobPreparationTask; p != nil {
		if p.ID == "" {
			p.ID = "jobpreparation"
		}
		if p.WaitForSuccess == nil {
			p.WaitForSuccess = api.B(true)
		}
		if p.RerunOnNodeRebootAfterSuccess == nil {
			p.RerunOnNodeRebootAfterSuccess = api.B(true)
		}
	}
	if r := j.JobReleaseTask; r != nil && r.ID == "" {
		r.ID = "jobrelease"
	}
	if err := s.Store.CreateJob(ctx, j); err != nil {
		return mapStoreErr(err, api.CodeJobNotFound, "job", j.ID)
	}
	if err := s.ensureAutoPool(ctx, j); err != nil {
		// The job is recorded: the reconcile loop's sweep makes the pool.
		s.Log.Warn("auto pool left to the reconcile loop", "job", j.ID, "pool", j.ExecutionInfo.PoolID, "err", err)
	}
	if m := j.JobManagerTask; m != nil {
		if err := s.AddTask(ctx, j.ID, jobManagerTask(m)); err != nil {
			// Leave no job behind a failed add.
			if derr := s.Store.DeleteJob(ctx, j.ID); derr != nil {
				s.Log.Error("remove job after its job manager task failed", "job", j.ID, "err", derr)
			}
			return fmt.Errorf("add job manager task: %w", err)
		}
	}
	s.jobChanged(ctx, j.ID)
	s.kick(ctx)
	return nil
}

// GetJob reads a job, checking read conditions.
func (s *Service) GetJob(ctx context.Context, id string, cond Conditions) (*api.Job, error) {
	j, err := s.Store.GetJob(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, api.CodeJobNotFound, "job", id)
	}
	if err := cond.Check(j.ETag, j.LastModified, false); err != nil {
		return nil, err
	}
	return jobView(j), nil
}

// ListJobs lists jobs.
func (s *Service) ListJobs(ctx context.Context, pg store.Page) ([]*api.Job, string, error) {
	return jobViews(s.Store.ListJobs(ctx, pg))
}

// jobView is a stored job as a client sees it: without the pending work
// openbatch records for its transitional state.
func jobView(j *api.Job) *api.Job {
	j.Pending = nil
	return j
}

func jobViews(jobs []*api.Job, next string, err error) ([]*api.Job, string, error) {
	for _, j := range jobs {
		jobView(j)
	}
	return jobs, next, err
}

func (s *Service) updateJob(ctx context.Context, id string, cond Conditions, fn func(*api.Job) error) (*api.Job, error) {
	j, err := s.Store.UpdateJob(ctx, id, func(j *api.Job) error {
		if err := cond.Check(j.ETag, j.LastModified, true); err != nil {
			return err
		}
		if err := fn(j); err != nil {
			return err
		}
		j.ETag = lifecycle.NextETag(j.ETag, s.Now())
		j.LastModified = api.T(s.Now())
		return nil
	})
	if err != nil {
		return nil, mapStoreErr(err, api.CodeJobNotFound, "job", id)
	}
	return j, nil
}

func jobWritable(j *api.Job) error {
	switch j.State {
	case api.JobCompleted:
		return errorf(api.CodeJobCompleted, "The specified job is already in a completed state: %s.", j.ID)
	case api.JobTerminating:
		return errorf(api.CodeJobBeingTerminated, "The specified job is being terminated: %s.", j.ID)
	case api.JobDeleting:
		return errorf(api.CodeJobBeingDeleted, "The specified job has been marked for deletion and is being reclaimed: %s.", j.ID)
	}
	return nil
}

func validateJobChange(j *api.Job, prio, maxPar *int32, oatc api.OnAllTasksComplete, c *api.JobConstraints) error {
	if prio != nil && (*prio < -1000 || *prio > 1000) {
		return api.Invalid("priority", fmt.Sprint(*prio), "priority must be between -1000 and 1000.")
	}
	if maxPar != nil && *maxPar != -1 && *maxPar < 1 {
		return api.Invalid("maxParallelTasks", fmt.Sprint(*maxPar), "maxParallelTasks must be -1 (unlimited) or greater than 0.")
	}
	switch oatc {
	case "", api.OnAllTasksCompleteNoAction, api.OnAllTasksCompleteTerminateJob:
	default:
		return api.Invalid("onAllTasksComplete", string(oatc), "onAllTasksComplete must be noaction or terminatejob.")
	}
	if oatc == api.OnAllTasksCompleteNoAction && j.OnAllTasksComplete == api.OnAllTasksCompleteTerminateJob {
		return api.Invalid("onAllTasksComplete", string(oatc), "onAllTasksComplete cannot be changed from terminatejob to noaction.")
	}
	if c != nil {
		if err := validateDuration("constraints.maxWallClockTime", c.MaxWallClockTime); err != nil {
			return err
		}
	}
	return nil
}

// PatchJob changes the given properties of a job.
func (s *Service) PatchJob(ctx context.Context, id string, p *api.JobPatch, cond Conditions) (*api.Job, error) {
	if p.Metadata != nil {
		if err := validateMetadata("metadata", *p.Metadata); err != nil {
			return nil, AsError(err)
		}
	}
	j, err := s.updateJob(ctx, id, cond, func(j *api.Job) error {
		if err := jobWritable(j); err != nil {
			return err
		}
		if err := validateJobChange(j, p.Priority, p.MaxParallelTasks, p.OnAllTasksComplete, p.Constraints); err != nil {
			return AsError(err)
		}
		if p.Priority != nil {
			j.Priority = p.Priority
		}
		if p.MaxParallelTasks != nil {
			j.MaxParallelTasks = p.MaxParallelTasks
		}
		if p.AllowTaskPreemption != nil {
			j.AllowTaskPreemption = p.AllowTaskPreemption
		}
		if p.OnAllTasksComplete != "" {
			j.OnAllTasksComplete = p.OnAllTasksComplete
		}
		if p.Constraints != nil {
			c := *p.Constraints
			if c.MaxWallClockTime == nil {
				c.MaxWallClockTime = j.Constraints.MaxWallClockTime
			}
			if c.MaxTaskRetryCount == nil {
				c.MaxTaskRetryCount = j.Constraints.MaxTaskRetryCount
			}
			j.Constraints = &c
		}
		if p.PoolInfo != nil {
			if p.PoolInfo.PoolID == "" {
				return AsError(api.Missing("poolInfo.poolId"))
			}
			j.PoolInfo = p.PoolInfo
		}
		if p.Metadata != nil {
			j.Metadata = *p.Metadata
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.jobChanged(ctx, id)
	s.kick(ctx)
	return j, nil
}

// UpdateJob replaces a job's updatable properties; absent ones return to
// their defaults.
func (s *Service) UpdateJob(ctx context.Context, id string, u *api.JobUpdate, cond Conditions) (*api.Job, error) {
	if err := validateMetadata("metadata", u.Metadata); err != nil {
		return nil, AsError(err)
	}
	if u.PoolInfo == nil || u.PoolInfo.PoolID == "" {
		return nil, AsError(api.Missing("poolInfo"))
	}
	j, err := s.updateJob(ctx, id, cond, func(j *api.Job) error {
		if err := jobWritable(j); err != nil {
			return err
		}
		if err := validateJobChange(j, u.Priority, u.MaxParallelTasks, u.OnAllTasksComplete, u.Constraints); err != nil {
			return AsError(err)
		}
		j.Priority = api.I32(0)
		if u.Priority != nil {
			j.Priority = u.Priority
		}
		j.MaxParallelTasks = api.I32(-1)
		if u.MaxParallelTasks != nil {
			j.MaxParallelTasks = u.MaxParallelTasks
		}
		j.AllowTaskPreemption = api.B(false)
		if u.AllowTaskPreemption != nil {
			j.AllowTaskPreemption = u.AllowTaskPreemption
		}
		inf := api.Infinite
		j.Constraints = &api.JobConstraints{MaxWallClockTime: &inf, MaxTaskRetryCount: api.I32(0)}
		if c := u.Constraints; c != nil {
			if c.MaxWallClockTime != nil {
				j.Constraints.MaxWallClockTime = c.MaxWallClockTime
			}
			if c.MaxTaskRetryCount != nil {
				j.Constraints.MaxTaskRetryCount = c.MaxTaskRetryCount
			}
		}
		j.PoolInfo = u.PoolInfo
		j.Metadata = u.Metadata
		if u.OnAllTasksComplete != "" {
			j.OnAllTasksComplete = u.OnAllTasksComplete
		} else if j.OnAllTasksComplete != api.OnAllTasksCompleteTerminateJob {
			j.OnAllTasksComplete = api.OnAllTasksCompleteNoAction
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.jobChanged(ctx, id)
	s.kick(ctx)
	return j, nil
}

// forEachTask runs fn on every task of a job that matches state ("" = all).
func (s *Service) forEachTask(ctx context.Context, jobID string, state api.TaskState, fn func(*store.TaskRow) error) error {
	tok := ""
	for {
		rows, next, err := s.Store.ListTasks(ctx, jobID, store.Page{Token: tok, Max: 1000, State: string(state)})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		tok = next
	}
}

// updateRunning applies fn to each of a job's running and preparing tasks
// (the state is checked again inside each transaction); fn moves a task on
// with lifecycle.ApplyTask, or returns false to leave it as it is.
func (s *Service) updateRunning(ctx context.Context, jobID string, fn func(*store.TaskRow) (bool, error)) error {
	for _, st := range []api.TaskState{api.TaskRunning, api.TaskPreparing} {
		err := s.forEachTask(ctx, jobID, st, func(r *store.TaskRow) error {
			_, err := s.Store.UpdateTask(ctx, jobID, r.Task.ID, func(r *store.TaskRow) error {
				if r.Task.State != st {
					return nil
				}
				_, err := fn(r)
				return err
			})
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// endRunningTasks terminates every running task of a job (for job
// terminate and delete); active tasks stay as they are.
func (s *Service) endRunningTasks(ctx context.Context, jobID, reason string) error {
	return s.updateRunning(ctx, jobID, func(r *store.TaskRow) (bool, error) {
		return true, lifecycle.ApplyTask(r, lifecycle.Terminate, lifecycle.Change{Now: s.Now(), Reason: reason})
	})
}

// TerminateJob ends a job: its running tasks are killed, its active tasks
// stay as they are, and it becomes completed with terminateReason. The
// job moves to terminating, with the reason, in one transaction; the rest
// is reconcile work (see ReconcileJob), attempted at once and finished by
// the reconcile loop if this request stops short.
func (s *Service) TerminateJob(ctx context.Context, id, reason string, cond Conditions) error {
	if reason == "" {
		reason = "UserTerminate"
	}
	if _, err := s.updateJob(ctx, id, cond, func(j *api.Job) error {
		if j.State == api.JobDeleting {
			return errorf(api.CodeJobBeingDeleted, "The specified job has been marked for deletion and is being reclaimed: %s.", id)
		}
		if j.State == api.JobCompleted {
			return errorf(api.CodeJobCompleted, "The specified job is already in a completed state: %s.", id)
		}
		if j.State == api.JobTerminating {
			return errorf(api.CodeJobBeingTerminated, "The specified job is already being terminated: %s.", id)
		}
		return beginTerminate(j, reason, s.Now())
	}); err != nil {
		return err
	}
	return s.reconcileNow(ctx, id)
}

// beginTerminate records that j is terminating for reason.
func beginTerminate(j *api.Job, reason string, now time.Time) error {
	if err := lifecycle.ApplyJob(j, lifecycle.TerminateJ, now); err != nil {
		return err
	}
	j.Pending = &api.JobPending{TerminateReason: reason}
	return nil
}

// reconcileNow drives a job that a request just moved into a transitional
// state, so that in the common case the request returns with the work
// done. The work is already recorded: if the request's context ends or
// the process dies midway, the reconcile loop finishes it, so a failure
// here is logged, not returned.
func (s *Service) reconcileNow(ctx context.Context, id string) error {
	if err := s.ReconcileJob(ctx, id); err != nil && ctx.Err() == nil {
		s.Log.Warn("job work left to the reconcile loop", "job", id, "err", err)
	}
	s.kick(ctx)
	return nil
}

// ReconcileJob finishes the work of a job in a transitional state:
//   - terminating: ends its running tasks, then completes it with the
//     recorded reason;
//   - disabling: requeues, terminates or leaves its running tasks as the
//     recorded option says, then disables it;
//   - deleting: ends its running tasks, removes their directories, then
//     deletes it.
//
// It is level-triggered and idempotent: every step re-reads the state in
// its own transaction, so it may run again at any time, from any server,
// and concurrently with itself. A job in any other state is left alone.
func (s *Service) ReconcileJob(ctx context.Context, id string) error {
	j, err := s.Store.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch j.State {
	case api.JobTerminating:
		return s.finishTermination(ctx, j)
	case api.JobDisabling:
		return s.finishDisable(ctx, j)
	case api.JobDeleting:
		return s.finishDelete(ctx, j)
	case api.JobEnabling:
		_, err := s.updateJob(ctx, id, Conditions{}, func(j *api.Job) error {
			if j.State != api.JobEnabling {
				return nil
			}
			return lifecycle.ApplyJob(j, lifecycle.Enabled, s.Now())
		})
		return err
	}
	return nil
}

// ReconcileJobs runs ReconcileJob on every job in a transitional state.
// The scheduler's loop calls it on every tick.
func (s *Service) ReconcileJobs(ctx context.Context) error {
	var errs []error
	for _, st := range []api.JobState{api.JobTerminating, api.JobDisabling, api.JobDeleting, api.JobEnabling} {
		tok := ""
		for {
			jobs, next, err := s.Store.ListJobs(ctx, store.Page{Token: tok, State: string(st)})
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			for _, j := range jobs {
				if err := s.ReconcileJob(ctx, j.ID); err != nil {
					errs = append(errs, fmt.Errorf("job %s (%s): %w", j.ID, st, err))
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

func (s *Service) finishTermination(ctx context.Context, j *api.Job) error {
	if err := s.endRunningTasks(ctx, j.ID, "Task was ended because its job was terminated"); err != nil {
		return err
	}
	if waiting, err := s.releasesOutstanding(ctx, j); err != nil || waiting {
		return err // the job stays terminating; the next pass looks again
	}
	if err := s.releaseAutoPool(ctx, j); err != nil {
		return err
	}
	_, err := s.updateJob(ctx, j.ID, Conditions{}, func(j *api.Job) error {
		if j.State != api.JobTerminating {
			return nil
		}
		return lifecycle.ApplyJob(j, lifecycle.Terminated, s.Now())
	})
	return err
}

func (s *Service) finishDelete(ctx context.Context, j *api.Job) error {
	if err := s.endRunningTasks(ctx, j.ID, "Task was ended because its job was deleted"); err != nil {
		return err
	}
	if waiting, err := s.releasesOutstanding(ctx, j); err != nil || waiting {
		return err // the job stays deleting; the next pass looks again
	}
	if err := s.releaseAutoPool(ctx, j); err != nil {
		return err
	}
	if err := s.forEachTask(ctx, j.ID, "", func(r *store.TaskRow) error {
		s.removeTaskDir(ctx, j, r.Task)
		return nil
	}); err != nil {
		return err
	}
	if err := s.Store.DeleteJob(ctx, j.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// releaseWaitDefault bounds how long a terminating or deleting job waits
// for its release tasks when the release task sets no maxWallClockTime:
// Azure's default for release tasks.
const releaseWaitDefault = 15 * time.Minute

// releasesOutstanding reports whether a terminating or deleting job must
// still wait for its release task on some node: as on Azure, the release
// task runs on every node that ran the job's preparation task, after the
// job's tasks there have ended, and the job completes (or is deleted) only
// when they have run. Nodes that are gone or unreachable are not waited
// for, nor is any node once the release task's maxWallClockTime has passed
// since the job began to end.
func (s *Service) releasesOutstanding(ctx context.Context, j *api.Job) (bool, error) {
	if j.JobReleaseTask == nil || j.JobPreparationTask == nil {
		return false, nil
	}
	limit := releaseWaitDefault
	if d := j.JobReleaseTask.MaxWallClockTime; d != nil && *d != api.Infinite {
		limit = d.Std()
	}
	if j.StateTransitionTime != nil && s.Now().Sub(*j.StateTransitionTime) > limit {
		return false, nil
	}
	runs, err := s.Store.PrepReleaseStatus(ctx, j.ID)
	if err != nil {
		return false, err
	}
	for _, r := range runs {
		if r.JobPreparationTaskExecutionInfo == nil {
			continue
		}
		if ri := r.JobReleaseTaskExecutionInfo; ri != nil && ri.State == api.PrepTaskCompleted {
			continue
		}
		n, err := s.Store.GetNode(ctx, r.PoolID, r.NodeID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		switch n.Node.State {
		case api.NodeUnknown, api.NodeOffline, api.NodeUnusable, api.NodeLeavingPool:
			continue
		}
		return true, nil
	}
	return false, nil
}

// DeleteJob deletes a job and all its tasks, killing running ones and
// removing their directories. The job moves to deleting in one
// transaction; the rest is reconcile work.
func (s *Service) DeleteJob(ctx context.Context, id string, cond Conditions) error {
	if _, err := s.updateJob(ctx, id, cond, func(j *api.Job) error {
		if j.State == api.JobDeleting {
			return nil
		}
		return lifecycle.ApplyJob(j, lifecycle.Delete, s.Now())
	}); err != nil {
		return err
	}
	return s.reconcileNow(ctx, id)
}

// DisableJob stops scheduling a job's tasks; running tasks are requeued,
// terminated or left to finish as opt says. The job moves to disabling,
// with opt, in one transaction; the rest is reconcile work.
func (s *Service) DisableJob(ctx context.Context, id string, opt api.DisableJobOption, cond Conditions) error {
	switch opt {
	case api.DisableRequeue, api.DisableTerminate, api.DisableWait:
	case "":
		return AsError(api.Missing("disableTasks"))
	default:
		return AsError(api.Invalid("disableTasks", string(opt), "disableTasks must be requeue, terminate or wait."))
	}
	if _, err := s.updateJob(ctx, id, cond, func(j *api.Job) error {
		if j.State != api.JobActive {
			return errorf(api.CodeJobNotActive, "The job must be active to be disabled; job %s is %s.", id, j.State)
		}
		return beginDisable(j, opt, s.Now())
	}); err != nil {
		return err
	}
	return s.reconcileNow(ctx, id)
}

// beginDisable records that j is disabling with opt.
func beginDisable(j *api.Job, opt api.DisableJobOption, now time.Time) error {
	if err := lifecycle.ApplyJob(j, lifecycle.Disable, now); err != nil {
		return err
	}
	j.Pending = &api.JobPending{DisableTasks: opt}
	return nil
}

func (s *Service) finishDisable(ctx context.Context, j *api.Job) error {
	opt := api.DisableRequeue
	if j.Pending != nil && j.Pending.DisableTasks != "" {
		opt = j.Pending.DisableTasks
	}
	err := s.updateRunning(ctx, j.ID, func(r *store.TaskRow) (bool, error) {
		switch opt {
		case api.DisableRequeue:
			return true, lifecycle.ApplyTask(r, lifecycle.Requeue, lifecycle.Change{Now: s.Now()})
		case api.DisableTerminate:
			return true, lifecycle.ApplyTask(r, lifecycle.Terminate, lifecycle.Change{Now: s.Now(), Reason: "Task was ended because its job was disabled"})
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	_, err = s.updateJob(ctx, j.ID, Conditions{}, func(j *api.Job) error {
		if j.State != api.JobDisabling {
			return nil
		}
		return lifecycle.ApplyJob(j, lifecycle.Disabled, s.Now())
	})
	return err
}

// DisableJobInternal disables a job on behalf of a task's exit options
// (jobAction disable), requeueing its running tasks.
func (s *Service) DisableJobInternal(ctx context.Context, id string) error {
	changed := false
	if _, err := s.updateJob(ctx, id, Conditions{}, func(j *api.Job) error {
		if j.State != api.JobActive {
			return nil
		}
		changed = true
		return beginDisable(j, api.DisableRequeue, s.Now())
	}); err != nil || !changed {
		return err
	}
	return s.reconcileNow(ctx, id)
}

// TerminateJobInternal terminates a job on behalf of the scheduler (task
// failure, all tasks complete, job manager completion).
func (s *Service) TerminateJobInternal(ctx context.Context, id, reason string) error {
	changed := false
	if _, err := s.updateJob(ctx, id, Conditions{}, func(j *api.Job) error {
		switch j.State {
		case api.JobActive, api.JobDisabled, api.JobDisabling, api.JobEnabling:
			changed = true
			return beginTerminate(j, reason, s.Now())
		}
		return nil
	}); err != nil || !changed {
		return err
	}
	return s.reconcileNow(ctx, id)
}

// EnableJob lets a disabled job's tasks be scheduled again.
func (s *Service) EnableJob(ctx context.Context, id string, cond Conditions) error {
	_, err := s.updateJob(ctx, id, cond, func(j *api.Job) error {
		if j.State != api.JobDisabled {
			return errorf(api.CodeJobNotActive, "Only a disabled job can be enabled; job %s is %s.", id, j.State)
		}
		now := s.Now()
		if err := lifecycle.ApplyJob(j, lifecycle.Enable, now); err != nil {
			return err
		}
		return lifecycle.ApplyJob(j, lifecycle.Enabled, now)
	})
	if err != nil {
		return err
	}
	s.kick(ctx)
	return nil
}

// TaskCounts counts a job's tasks and slots by state.
func (s *Service) TaskCounts(ctx context.Context, id string) (api.TaskCountsResult, error) {
	if _, err := s.Store.GetJob(ctx, id); err != nil {
		return api.TaskCountsResult{}, mapStoreErr(err, api.CodeJobNotFound, "job", id)
	}
	return s.Store.TaskStateCounts(ctx, id)
}
