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
// exit options, then the job-level rules; then it leases tasks into the
// node's rep.Next free slots (nextWork).
//
// A completion that makes no work for other nodes (the common case: the
// run finished, nothing depended on it) wakes nobody: the reporting node
// gets its next tasks in the answer, and the other nodes' slots did not
// change. A retry (the task is runnable again) and a report that asks for
// nothing (rep.Next 0: a draining node, or an older agent whose waiting
// poll must be woken to see its freed slot) wake the nodes waiting for
// work as before; released dependents and job actions wake them through
// the service.
func (s *Scheduler) Complete(ctx context.Context, rep nodeproto.Report) (*nodeproto.Completed, error) {
	job, err := s.store.GetJob(ctx, rep.Lease.JobID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nodeproto.ErrStaleLease
		}
		return nil, err
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
			return nil, nodeproto.ErrStaleLease
		}
		return nil, err
	}
	if !decision.Retry {
		s.svc.AfterCompletion(ctx, job, row.Task, decision.Options)
	}
	if decision.Retry || rep.Next <= 0 {
		s.Kick()
	}
	return &nodeproto.Completed{Assignments: s.nextWork(ctx, rep, job)}, nil
}

// nextWork leases tasks into the rep.Next slots a reporting node offers,
// as its poll would. The report is committed whatever happens here: an
// error is logged and the node gets what was leased before it (the leases
// taken are the node's; one whose answer is lost is requeued by reconcile).
func (s *Scheduler) nextWork(ctx context.Context, rep nodeproto.Report, job *api.Job) []nodeproto.Assignment {
	if rep.Next <= 0 {
		return nil
	}
	node, err := s.cachedNode(ctx, rep.PoolID, rep.NodeID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("next work for a reporting node", "node", rep.NodeID, "err", err)
		}
		return nil
	}
	if removedByAgent(node) || !schedulable(node.Node) {
		return nil
	}
	out, deferred, err := s.assign(ctx, node, nodeproto.NodeStatus{PoolID: rep.PoolID, NodeID: rep.NodeID, FreeSlots: rep.Next}, job)
	if err != nil {
		s.log.Warn("next work for a reporting node", "node", rep.NodeID, "leased", len(out), "err", err)
	}
	if deferred {
		// Pack left work to fuller nodes: wake their polls, which a plain
		// completion does not.
		s.Kick()
	}
	return out
}

// PrepRelease records a job preparation or release task run on a node,
// beside the node's record of the other one.
func (s *Scheduler) PrepRelease(ctx context.Context, rep nodeproto.PrepReleaseReport) error {
	return s.store.UpdatePrepRelease(ctx, rep.JobID, rep.NodeID, func(cur *api.JobPreparationAndReleaseTaskExecutionInformation) error {
		cur.PoolID, cur.NodeID = rep.PoolID, rep.NodeID
		if rep.Prep != nil {
			cur.JobPreparationTaskExecutionInfo = rep.Prep
		}
		if rep.Release != nil {
			cur.JobReleaseTaskExecutionInfo = rep.Release
		}
		return nil
	})
}
