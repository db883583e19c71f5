package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// The completion rules: what a task's completion means for its job and
// its dependents. They run after a node's report (the scheduler calls
// AfterCompletion), after a user terminates or deletes a task, and from the
// scheduler's periodic sweep (ResolveDependencies, CheckAllComplete).

// taskCompleted runs the completion rules for a task that completed outside
// a node report (terminate, delete).
func (s *Service) taskCompleted(ctx context.Context, jobID, taskID string) {
	job, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return
	}
	row, err := s.Store.GetTask(ctx, jobID, taskID)
	if err != nil {
		// Deleted: dependents may now be unblocked or stay blocked; re-check.
		s.ResolveDependencies(ctx, job)
		s.CheckAllComplete(ctx, job)
		return
	}
	s.AfterCompletion(ctx, job, row.Task, optionsOf(row.Task))
}

// jobChanged re-checks a job's dependencies and onAllTasksComplete.
func (s *Service) jobChanged(ctx context.Context, jobID string) {
	job, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return
	}
	s.ResolveDependencies(ctx, job)
	s.CheckAllComplete(ctx, job)
}

// AfterCompletion applies the job-level rules after task t of job completed
// with exit options opts: the job manager's killJobOnCompletion, the
// task's jobAction (under onTaskFailure performexitoptionsjobaction),
// dependents to release, and onAllTasksComplete. The scheduler calls it
// after a node's report; the service after terminate and delete.
func (s *Service) AfterCompletion(ctx context.Context, job *api.Job, t *api.Task, opts api.ExitOptions) {
	failed := t.ExecutionInfo != nil && t.ExecutionInfo.FailureInfo != nil
	if m := job.JobManagerTask; m != nil && strings.EqualFold(m.ID, t.ID) && m.KillJobOnCompletion != nil && *m.KillJobOnCompletion {
		s.terminateJob(ctx, job.ID, "JMComplete")
		return
	}
	if failed && job.OnTaskFailure == api.OnTaskFailurePerformExitOptionsJobAction {
		switch opts.JobAction {
		case api.JobActionTerminate:
			s.terminateJob(ctx, job.ID, "TaskFailed")
			return
		case api.JobActionDisable:
			if err := s.DisableJobInternal(ctx, job.ID); err != nil {
				s.Log.Error("disable job after task failure", "job", job.ID, "err", err)
			}
		}
	}
	if job.UsesTaskDependencies != nil && *job.UsesTaskDependencies {
		s.ResolveDependencies(ctx, job)
	}
	s.CheckAllComplete(ctx, job)
}

func (s *Service) terminateJob(ctx context.Context, jobID, reason string) {
	if err := s.TerminateJobInternal(ctx, jobID, reason); err != nil {
		s.Log.Error("terminate job", "job", jobID, "reason", reason, "err", err)
	}
}

// CheckAllComplete terminates a job whose onAllTasksComplete is
// terminatejob once no task is active or running.
func (s *Service) CheckAllComplete(ctx context.Context, job *api.Job) {
	if job.OnAllTasksComplete != api.OnAllTasksCompleteTerminateJob || job.State != api.JobActive {
		return
	}
	c, err := s.Store.TaskStateCounts(ctx, job.ID)
	if err != nil {
		return
	}
	if c.TaskCounts.Active == 0 && c.TaskCounts.Running == 0 {
		s.terminateJob(ctx, job.ID, "AllTasksComplete")
	}
}

// optionsOf recomputes the exit options of a completed task from its
// stored outcome.
func optionsOf(t *api.Task) api.ExitOptions {
	o := lifecycle.Outcome{}
	if ei := t.ExecutionInfo; ei != nil {
		o.ExitCode, o.FailureInfo = ei.ExitCode, ei.FailureInfo
		if ei.FailureInfo != nil {
			o.Kind = kindOf(ei.FailureInfo.Code)
		}
	}
	return lifecycle.ExitOptions(t.ExitConditions, o)
}

func kindOf(code string) lifecycle.FailureKind {
	switch {
	case strings.HasPrefix(code, "FileUpload"):
		return lifecycle.FileUpload
	case code == api.FailureTaskEnded:
		return lifecycle.Ended
	case code == api.FailureExitCode:
		return lifecycle.NoFailure
	}
	return lifecycle.PreProcessing
}

// depState says whether one dependency lets a task run.
type depState int

const (
	depPending depState = iota
	depSatisfied
	depBlocked
)

// depOf says whether the task in row (nil if it does not exist) lets a
// dependent run.
func depOf(row *store.TaskRow) depState {
	if row == nil || row.Task.State != api.TaskCompleted {
		return depPending
	}
	if optionsOf(row.Task).DependencyAction == api.DependencyBlock {
		return depBlocked
	}
	return depSatisfied
}

// ResolveDependencies releases a job's waiting tasks whose dependencies
// are all satisfied. A dependency on a task ID that does not exist keeps the
// task waiting; IDs in a range that do not exist are ignored. The tasks
// depended on are read with one set query for all waiting tasks, not one
// read per ID.
func (s *Service) ResolveDependencies(ctx context.Context, job *api.Job) {
	waiting, err := s.Store.WaitingTasks(ctx, job.ID)
	if err != nil {
		s.Log.Error("list waiting tasks", "job", job.ID, "err", err)
		return
	}
	seen := map[string]bool{}
	var ids []string
	for _, w := range waiting {
		for _, id := range dependencyIDs(w.Task.DependsOn) {
			if k := strings.ToLower(id); !seen[k] {
				seen[k] = true
				ids = append(ids, id)
			}
		}
	}
	deps, err := s.Store.TasksByID(ctx, job.ID, ids)
	if err != nil {
		s.Log.Error("read dependencies", "job", job.ID, "err", err)
		return
	}
	released := false
	for _, w := range waiting {
		if !dependenciesSatisfied(w.Task.DependsOn, deps) {
			continue
		}
		_, err := s.Store.UpdateTask(ctx, job.ID, w.Task.ID, func(r *store.TaskRow) error {
			r.Waiting = false
			return nil
		})
		if err == nil {
			released = true
		}
	}
	if released {
		s.kick(ctx)
	}
}

// dependencyIDs lists the task IDs d names, ranges expanded. Ranges are
// walked with an int64 counter, so a range ending at the largest int32
// terminates; a task whose ranges cover more than
// api.MaxTaskDependencyRangeIDs IDs (refused at add since the limit was
// introduced, possible only in older data) contributes none of its range IDs
// and stays waiting.
func dependencyIDs(d *api.TaskDependencies) []string {
	if d == nil {
		return nil
	}
	ids := append([]string(nil), d.TaskIDs...)
	if api.TaskIDRangesSpan(d.TaskIDRanges) > api.MaxTaskDependencyRangeIDs {
		return ids
	}
	for _, r := range d.TaskIDRanges {
		for i := int64(r.Start); i <= int64(r.End); i++ {
			ids = append(ids, strconv.FormatInt(i, 10))
		}
	}
	return ids
}

// dependenciesSatisfied says whether every dependency in d is met, given
// the tasks depended on keyed by lower-case ID.
func dependenciesSatisfied(d *api.TaskDependencies, deps map[string]*store.TaskRow) bool {
	if d == nil {
		return true
	}
	for _, id := range d.TaskIDs {
		if depOf(deps[strings.ToLower(id)]) != depSatisfied {
			return false
		}
	}
	if api.TaskIDRangesSpan(d.TaskIDRanges) > api.MaxTaskDependencyRangeIDs {
		return false
	}
	for _, r := range d.TaskIDRanges {
		for i := int64(r.Start); i <= int64(r.End); i++ {
			if row, ok := deps[strconv.FormatInt(i, 10)]; ok && depOf(row) != depSatisfied {
				return false
			}
		}
	}
	return true
}
