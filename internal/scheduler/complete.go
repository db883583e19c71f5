package scheduler

import (
	"context"
	"errors"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/store"
)

// Complete applies a run's outcome: retry, or complete with the result and
// exit options, then the job-level rules.
func (s *Scheduler) Complete(ctx context.Context, rep nodeproto.Report) error {
	job, err := s.store.GetJob(ctx, rep.Lease.JobID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nodeproto.ErrStaleLease
		}
		return err
	}
	now := s.now()
	var decision lifecycle.Decision
	row, err := s.store.UpdateTask(ctx, rep.Lease.JobID, rep.Lease.TaskID, func(r *store.TaskRow) error {
		if r.Epoch != rep.Lease.Epoch || r.NodeID != rep.NodeID || r.Task.State != api.TaskRunning {
			return nodeproto.ErrStaleLease
		}
		decision = lifecycle.Decide(r.Task, job, lifecycle.Outcome{ExitCode: rep.ExitCode, FailureInfo: rep.FailureInfo, Kind: lifecycle.FailureKind(rep.Kind)})
		if rep.Stats != nil {
			r.Task.Stats = rep.Stats
		}
		c := lifecycle.Change{Now: now, ExitCode: rep.ExitCode, StartTime: rep.StartTime, EndTime: rep.EndTime}
		if decision.Retry {
			return lifecycle.ApplyTask(r, lifecycle.Retry, c)
		}
		c.Result, c.FailureInfo = decision.Result, decision.FailureInfo
		return lifecycle.ApplyTask(r, lifecycle.Finish, c)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nodeproto.ErrStaleLease
		}
		return err
	}
	if decision.Retry {
		s.Kick()
		return nil
	}
	s.svc.AfterCompletion(ctx, job, row.Task, decision.Options)
	s.Kick()
	return nil
}

// PrepRelease records a job preparation or release task run on a node.
func (s *Scheduler) PrepRelease(ctx context.Context, rep nodeproto.PrepReleaseReport) error {
	cur := &api.JobPreparationAndReleaseTaskExecutionInformation{PoolID: rep.PoolID, NodeID: rep.NodeID}
	if all, err := s.store.PrepReleaseStatus(ctx, rep.JobID); err == nil {
		for i := range all {
			if all[i].NodeID == rep.NodeID {
				cur = &all[i]
			}
		}
	}
	if rep.Prep != nil {
		cur.JobPreparationTaskExecutionInfo = rep.Prep
	}
	if rep.Release != nil {
		cur.JobReleaseTaskExecutionInfo = rep.Release
	}
	return s.store.PutPrepRelease(ctx, rep.JobID, cur)
}
