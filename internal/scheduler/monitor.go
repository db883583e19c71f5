package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// sweepEvery is how often the loop re-derives the follow-up work of task
// completions (released dependents, onAllTasksComplete) from the store.
// Completions do that work at once; the sweep finishes what a crash or a
// failed call left undone, so it can be slow.
const sweepEvery = 15 * time.Second

// Run is the reconcile loop: until ctx ends it watches node heartbeats and
// job wall-clock limits, finishes the work of jobs and pools in
// transitional states (terminating, disabling, deleting), and sweeps for
// completion follow-ups that were recorded but not carried out. Every step
// is idempotent and re-checked in its own transaction, so a restarted
// server, or several servers at once, pick up where another stopped.
func (s *Scheduler) Run(ctx context.Context) {
	s.graceAfterStart(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSweep time.Time
	var lastErr string
	var lastErrAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkNodes(ctx)
		sweep := time.Since(lastSweep) >= sweepEvery
		if sweep {
			lastSweep = time.Now()
		}
		s.checkJobs(ctx, sweep)
		err := errors.Join(s.svc.ReconcileJobs(ctx), s.svc.ReconcilePools(ctx))
		if err != nil && ctx.Err() == nil && (err.Error() != lastErr || time.Since(lastErrAt) > time.Minute) {
			s.log.Warn("reconcile: work left for the next pass", "err", err)
			lastErr, lastErrAt = err.Error(), time.Now()
		}
	}
}

// forEachNode calls fn for every node of every pool.
func (s *Scheduler) forEachNode(ctx context.Context, fn func(p *api.Pool, n *store.Node)) {
	tok := ""
	for {
		pools, next, err := s.store.ListPools(ctx, store.Page{Token: tok})
		if err != nil {
			return
		}
		for _, p := range pools {
			nodes, err := s.store.ListNodes(ctx, p.ID)
			if err != nil {
				continue
			}
			for _, n := range nodes {
				fn(p, n)
			}
		}
		if next == "" {
			return
		}
		tok = next
	}
}

// checkNodes marks silent nodes unknown and requeues their tasks.
func (s *Scheduler) checkNodes(ctx context.Context) {
	s.forEachNode(ctx, func(p *api.Pool, n *store.Node) {
		seen := s.lastSeen(n)
		if n.Node.State == api.NodeUnknown || s.now().Sub(seen) < s.cfg.HeartbeatTimeout {
			return
		}
		_, _ = s.store.UpdateNode(ctx, p.ID, n.Node.ID, func(n *store.Node) error {
			n.Node.State = api.NodeUnknown
			n.Node.StateTransitionTime = api.T(s.now())
			n.Node.RunningTasksCount = 0
			return nil
		})
		s.NodeChanged(n.Node.ID)
		s.log.Warn("node missed its heartbeats; requeueing its tasks", "pool", p.ID, "node", n.Node.ID,
			"silent_for", s.now().Sub(seen).Round(time.Second))
		s.requeueNode(ctx, n.Node.ID, "node lost")
	})
}

// checkJobs terminates jobs past their maxWallClockTime; with sweep set it
// also releases waiting tasks whose dependencies are met and applies
// onAllTasksComplete, for completions whose follow-up was lost.
func (s *Scheduler) checkJobs(ctx context.Context, sweep bool) {
	tok := ""
	for {
		jobs, next, err := s.store.ListJobs(ctx, store.Page{Token: tok, State: string(api.JobActive)})
		if err != nil {
			return
		}
		for _, j := range jobs {
			if sweep {
				if j.UsesTaskDependencies != nil && *j.UsesTaskDependencies {
					s.resolveDependencies(ctx, j)
				}
				s.checkAllComplete(ctx, j)
			}
			if j.Constraints == nil || j.Constraints.MaxWallClockTime == nil || *j.Constraints.MaxWallClockTime == api.Infinite || j.CreationTime == nil {
				continue
			}
			if s.now().Sub(*j.CreationTime) > j.Constraints.MaxWallClockTime.Std() {
				s.terminateJob(ctx, j.ID, "MaxWallClockTimeExpiry")
			}
		}
		if next == "" {
			return
		}
		tok = next
	}
}

// graceAfterStart gives every known node a full heartbeat timeout from
// now: while this server was down, its nodes could not call.
func (s *Scheduler) graceAfterStart(ctx context.Context) {
	now := s.now()
	s.forEachNode(ctx, func(_ *api.Pool, n *store.Node) {
		if s.lastSeen(n).Before(now) {
			s.markSeen(n.Node.ID, now)
		}
	})
}
