package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// MaxTasksPerCollection is the most tasks one addtaskcollection may carry.
const MaxTasksPerCollection = 100

// defaultRetention is how long a task directory is kept after completion.
const defaultRetention = api.Duration(7 * 24 * 3600 * 1e9)

// jobForTasks loads a job and checks that tasks may be added to it.
func (s *Service) jobForTasks(ctx context.Context, jobID string) (*api.Job, error) {
	job, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return nil, mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	switch job.State {
	case api.JobCompleted:
		return nil, errorf(api.CodeJobCompleted, "The specified job is already in a completed state: %s.", jobID)
	case api.JobTerminating:
		return nil, errorf(api.CodeJobBeingTerminated, "The specified job is being terminated: %s.", jobID)
	case api.JobDeleting:
		return nil, errorf(api.CodeJobBeingDeleted, "The specified job has been marked for deletion and is being reclaimed: %s.", jobID)
	}
	return job, nil
}

// validateTask checks a task add body against its job, returning an error
// for the first problem found.
func (s *Service) validateTask(t *api.Task, job *api.Job) error {
	if err := ValidateID("id", t.ID); err != nil {
		return err
	}
	if t.CommandLine == "" {
		return api.Missing("commandLine")
	}
	if err := validateDisplayName("displayName", t.DisplayName); err != nil {
		return err
	}
	if err := validateTaskLimits(t); err != nil {
		return err
	}
	if t.RequiredSlots != nil && *t.RequiredSlots < 1 {
		return api.Invalid("requiredSlots", fmt.Sprint(*t.RequiredSlots), "requiredSlots must be at least 1.")
	}
	if err := validateTaskConstraints("constraints", t.Constraints); err != nil {
		return err
	}
	if err := validateEnv("environmentSettings", t.EnvironmentSettings); err != nil {
		return err
	}
	if err := validateUserIdentity("userIdentity", t.UserIdentity); err != nil {
		return err
	}
	if err := validateExitConditions("exitConditions", t.ExitConditions, job); err != nil {
		return err
	}
	if err := validateDependsOn("dependsOn", t.DependsOn, job); err != nil {
		return err
	}
	if m := t.MultiInstanceSettings; m != nil {
		if m.CoordinationCommandLine == "" {
			return api.Missing("multiInstanceSettings.coordinationCommandLine")
		}
		if t.RequiredSlots != nil && *t.RequiredSlots != 1 {
			return api.Invalid("requiredSlots", fmt.Sprint(*t.RequiredSlots), "A multi-instance task must have requiredSlots 1.")
		}
	}
	if s.ValidateResourceFiles != nil {
		if err := s.ValidateResourceFiles(t.ResourceFiles); err != nil {
			return err
		}
	}
	if s.ValidateOutputFiles != nil {
		if err := s.ValidateOutputFiles(t.OutputFiles); err != nil {
			return err
		}
	}
	return nil
}

// newTask fills the service-set fields and defaults of a task being added.
func (s *Service) newTask(t *api.Task, job *api.Job) {
	now := s.Now()
	t.URL, t.Stats = "", nil
	lifecycle.NewTask(t, now)
	if t.Constraints == nil {
		t.Constraints = &api.TaskConstraints{}
	}
	if t.Constraints.MaxWallClockTime == nil {
		inf := api.Infinite
		t.Constraints.MaxWallClockTime = &inf
	}
	if t.Constraints.RetentionTime == nil {
		r := defaultRetention
		t.Constraints.RetentionTime = &r
	}
	if t.Constraints.MaxTaskRetryCount == nil {
		t.Constraints.MaxTaskRetryCount = api.I32(lifecycle.MaxRetries(&api.Task{}, job))
	}
	if t.UserIdentity == nil {
		t.UserIdentity = &api.UserIdentity{AutoUser: &api.AutoUserSpecification{Scope: api.ScopePool, ElevationLevel: api.ElevationNonAdmin}}
	} else if a := t.UserIdentity.AutoUser; a != nil {
		if a.Scope == "" {
			a.Scope = api.ScopePool
		}
		if a.ElevationLevel == "" {
			a.ElevationLevel = api.ElevationNonAdmin
		}
	}
	if t.RequiredSlots == nil {
		t.RequiredSlots = api.I32(1)
	}
}

func (s *Service) checkReservedTaskID(t *api.Task, job *api.Job) error {
	if p := job.JobPreparationTask; p != nil && equalFold(t.ID, prepID(p)) {
		return errorf(api.CodeTaskIDSameAsJobPreparationTask, "The task ID %s is the same as the job preparation task's ID.", t.ID)
	}
	if r := job.JobReleaseTask; r != nil && equalFold(t.ID, releaseID(r)) {
		return errorf(api.CodeTaskIDSameAsJobReleaseTask, "The task ID %s is the same as the job release task's ID.", t.ID)
	}
	return nil
}

func prepID(p *api.JobPreparationTask) string {
	if p.ID != "" {
		return p.ID
	}
	return "jobpreparation"
}

func releaseID(r *api.JobReleaseTask) string {
	if r.ID != "" {
		return r.ID
	}
	return "jobrelease"
}

// AddTask adds one task to a job.
func (s *Service) AddTask(ctx context.Context, jobID string, t *api.Task) error {
	job, err := s.jobForTasks(ctx, jobID)
	if err != nil {
		return err
	}
	if err := s.validateTask(t, job); err != nil {
		return AsError(err)
	}
	if err := s.checkReservedTaskID(t, job); err != nil {
		return err
	}
	s.newTask(t, job)
	errs, err := s.Store.CreateTasks(ctx, jobID, []*api.Task{t})
	if err != nil {
		return s.addErr(ctx, err, jobID)
	}
	if errs[0] != nil {
		return mapStoreErr(errs[0], api.CodeTaskNotFound, "task", t.ID)
	}
	if lifecycle.HasDependencies(t) {
		s.jobChanged(ctx, jobID)
	}
	s.kick(ctx)
	return nil
}

// TaskAddOutcome is the per-task result of AddTasks: the stored task or an
// error.
type TaskAddOutcome struct {
	Task *api.Task
	Err  error
}

// AddTasks adds up to MaxTasksPerCollection tasks in one transaction; each
// task succeeds or fails on its own.
func (s *Service) AddTasks(ctx context.Context, jobID string, tasks []*api.Task, decodeErrs []error) ([]TaskAddOutcome, error) {
	job, err := s.jobForTasks(ctx, jobID)
	if err != nil {
		return nil, err
	}
	out := make([]TaskAddOutcome, len(tasks))
	var valid []*api.Task
	var idx []int
	seen := map[string]bool{}
	for i, t := range tasks {
		out[i].Task = t
		if decodeErrs != nil && decodeErrs[i] != nil {
			out[i].Err = decodeErrs[i]
			continue
		}
		if err := s.validateTask(t, job); err != nil {
			out[i].Err = AsError(err)
			continue
		}
		if err := s.checkReservedTaskID(t, job); err != nil {
			out[i].Err = err
			continue
		}
		if seen[lower(t.ID)] {
			out[i].Err = errorf(api.CodeTaskExists, "The specified task already exists: %s.", t.ID)
			continue
		}
		seen[lower(t.ID)] = true
		s.newTask(t, job)
		valid = append(valid, t)
		idx = append(idx, i)
	}
	if len(valid) > 0 {
		errs, err := s.Store.CreateTasks(ctx, jobID, valid)
		if err != nil {
			return nil, s.addErr(ctx, err, jobID)
		}
		deps := false
		for k, e := range errs {
			if e != nil {
				out[idx[k]].Err = mapStoreErr(e, api.CodeTaskNotFound, "task", valid[k].ID)
			}
			deps = deps || lifecycle.HasDependencies(valid[k])
		}
		if deps {
			s.jobChanged(ctx, jobID)
		}
		s.kick(ctx)
	}
	return out, nil
}

// GetTask reads a task, checking read conditions.
func (s *Service) GetTask(ctx context.Context, jobID, taskID string, cond Conditions) (*api.Task, error) {
	row, err := s.Store.GetTask(ctx, jobID, taskID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, jerr := s.Store.GetJob(ctx, jobID); jerr != nil {
				return nil, mapStoreErr(jerr, api.CodeJobNotFound, "job", jobID)
			}
		}
		return nil, mapStoreErr(err, api.CodeTaskNotFound, "task", taskID)
	}
	if err := cond.Check(row.Task.ETag, row.Task.LastModified, false); err != nil {
		return nil, err
	}
	return row.Task, nil
}

// ListTasks lists a job's tasks.
func (s *Service) ListTasks(ctx context.Context, jobID string, pg store.Page) ([]*api.Task, string, error) {
	if _, err := s.Store.GetJob(ctx, jobID); err != nil {
		return nil, "", mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	rows, next, err := s.Store.ListTasks(ctx, jobID, pg)
	if err != nil {
		return nil, "", err
	}
	out := make([]*api.Task, len(rows))
	for i, r := range rows {
		out[i] = r.Task
	}
	return out, next, nil
}

// updateTask runs fn on a task after checking write conditions, and bumps
// its ETag and Last-Modified.
func (s *Service) updateTask(ctx context.Context, jobID, taskID string, cond Conditions, fn func(*store.TaskRow) error) (*api.Task, error) {
	row, err := s.Store.UpdateTask(ctx, jobID, taskID, func(r *store.TaskRow) error {
		if err := cond.Check(r.Task.ETag, r.Task.LastModified, true); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		r.Task.ETag = lifecycle.NextETag(r.Task.ETag, s.Now())
		r.Task.LastModified = api.T(s.Now())
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, jerr := s.Store.GetJob(ctx, jobID); jerr != nil {
				return nil, mapStoreErr(jerr, api.CodeJobNotFound, "job", jobID)
			}
		}
		return nil, mapStoreErr(err, api.CodeTaskNotFound, "task", taskID)
	}
	return row.Task, nil
}

// UpdateTask replaces a task's constraints.
func (s *Service) UpdateTask(ctx context.Context, jobID, taskID string, upd *api.TaskUpdate, cond Conditions) (*api.Task, error) {
	if upd.Constraints != nil {
		if err := validateTaskConstraints("constraints", upd.Constraints); err != nil {
			return nil, AsError(err)
		}
	}
	job, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return nil, mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	return s.updateTask(ctx, jobID, taskID, cond, func(r *store.TaskRow) error {
		if r.Task.State == api.TaskCompleted {
			return errorf(api.CodeTaskCompleted, "The specified task is already completed: %s.", taskID)
		}
		c := upd.Constraints
		if c == nil {
			c = &api.TaskConstraints{}
		}
		nc := *c
		if nc.MaxWallClockTime == nil {
			inf := api.Infinite
			nc.MaxWallClockTime = &inf
		}
		if nc.RetentionTime == nil {
			r := defaultRetention
			nc.RetentionTime = &r
		}
		if nc.MaxTaskRetryCount == nil {
			nc.MaxTaskRetryCount = api.I32(lifecycle.MaxRetries(&api.Task{}, job))
		}
		r.Task.Constraints = &nc
		return nil
	})
}

// TerminateTask ends a task: an active task completes without running; a
// running one is killed on its node (its lease is revoked) and completes
// with failureInfo TaskEnded.
func (s *Service) TerminateTask(ctx context.Context, jobID, taskID string, cond Conditions) error {
	if _, err := s.Store.GetJob(ctx, jobID); err != nil {
		return mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	changed := false
	_, err := s.updateTask(ctx, jobID, taskID, cond, func(r *store.TaskRow) error {
		if r.Task.State == api.TaskCompleted {
			return nil // terminating a completed task is a no-op, as in Azure
		}
		changed = true
		return lifecycle.ApplyTask(r, lifecycle.Terminate, lifecycle.Change{Now: s.Now(), Reason: "Task was ended by user request"})
	})
	if err != nil {
		return err
	}
	if changed {
		s.taskCompleted(ctx, jobID, taskID)
		s.kick(ctx)
	}
	return nil
}

// DeleteTask removes a task; a running task is killed and its directory
// removed from the node regardless of retention.
func (s *Service) DeleteTask(ctx context.Context, jobID, taskID string, cond Conditions) error {
	job, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	row, err := s.Store.GetTask(ctx, jobID, taskID)
	if err != nil {
		return mapStoreErr(err, api.CodeTaskNotFound, "task", taskID)
	}
	if err := cond.Check(row.Task.ETag, row.Task.LastModified, true); err != nil {
		return err
	}
	if err := s.Store.DeleteTask(ctx, jobID, taskID); err != nil {
		return mapStoreErr(err, api.CodeTaskNotFound, "task", taskID)
	}
	s.removeTaskDir(ctx, job, row.Task)
	s.taskCompleted(ctx, jobID, taskID)
	s.kick(ctx)
	return nil
}

func (s *Service) removeTaskDir(ctx context.Context, job *api.Job, t *api.Task) {
	if s.TaskDirs == nil || t.NodeInfo == nil {
		return
	}
	if err := s.TaskDirs.RemoveTaskDir(ctx, t.NodeInfo.PoolID, t.NodeInfo.NodeID, job.ID, t.ID); err != nil {
		s.Log.Warn("remove task directory", "job", job.ID, "task", t.ID, "err", err)
	}
}

// ReactivateTask puts a failed, completed task back in the queue with its
// retry count reset.
func (s *Service) ReactivateTask(ctx context.Context, jobID, taskID string, cond Conditions) error {
	job, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	switch job.State {
	case api.JobCompleted:
		return errorf(api.CodeJobCompleted, "The job is completed; its tasks cannot be reactivated: %s.", jobID)
	case api.JobTerminating:
		return errorf(api.CodeJobBeingTerminated, "The job is being terminated: %s.", jobID)
	case api.JobDeleting:
		return errorf(api.CodeJobBeingDeleted, "The job is being deleted: %s.", jobID)
	}
	_, err = s.updateTask(ctx, jobID, taskID, cond, func(r *store.TaskRow) error {
		t := r.Task
		if t.State != api.TaskCompleted {
			return errorf(api.CodeTaskNotCompleted, "Only a completed task can be reactivated; task %s is %s.", taskID, t.State)
		}
		if t.ExecutionInfo != nil && t.ExecutionInfo.Result == api.ResultSuccess {
			return errorf(api.CodeTaskSucceeded, "The task completed successfully and cannot be reactivated: %s.", taskID)
		}
		return lifecycle.ApplyTask(r, lifecycle.Reactivate, lifecycle.Change{Now: s.Now()})
	})
	if err != nil {
		return err
	}
	s.jobChanged(ctx, jobID)
	s.kick(ctx)
	return nil
}

// Subtasks lists a task's subtasks: openbatch runs multi-instance tasks on
// one node, so the list is empty, as for any non-multi-instance task.
func (s *Service) Subtasks(ctx context.Context, jobID, taskID string) ([]api.SubtaskInformation, error) {
	if _, err := s.GetTask(ctx, jobID, taskID, Conditions{}); err != nil {
		return nil, err
	}
	return []api.SubtaskInformation{}, nil
}

func equalFold(a, b string) bool { return lower(a) == lower(b) }

func lower(s string) string { return strings.ToLower(s) }

// addErr turns the store's refusal of an add into the error a client
// sees. A job's task count over api.MaxTasksPerJob: Azure publishes no
// such limit or code; the state of the job is what refuses the operation.
// A job that stopped taking tasks after jobForTasks read it (terminated or
// deleted at the same moment): the code its state gives now.
func (s *Service) addErr(ctx context.Context, err error, jobID string) error {
	switch {
	case errors.Is(err, store.ErrJobTaskLimit):
		return errorf(api.CodeOperationInvalidForCurrentState,
			"Job %s would have more than %d tasks, the most openbatch keeps in one job; delete completed tasks or add them to another job.", jobID, api.MaxTasksPerJob)
	case errors.Is(err, store.ErrJobClosed):
		if _, jerr := s.jobForTasks(ctx, jobID); jerr != nil {
			return jerr
		}
		return errorf(api.CodeJobCompleted, "The specified job is already in a completed state: %s.", jobID)
	}
	return err
}
