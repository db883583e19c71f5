package scheduler

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// sweepEvery is how often the loop re-derives the follow-up work of task
// completions (released dependents, onAllTasksComplete) from the store.
// Completions do that work at once; the sweep finishes what a crash or a
// failed call left undone, so it can be slow.
const sweepEvery = 15 * time.Second

// leaderTTL is how long the leader lease outlives its last renewal; the
// leader renews it on every tick, so another server takes over within this
// time of the leader's death.
const leaderTTL = 5 * time.Second

// Run is the reconcile loop: until ctx ends it watches node heartbeats and
// job wall-clock limits, samples and evaluates autoscale formulas when
// due, finishes the work of jobs and pools in
// transitional states (terminating, disabling, deleting), and sweeps for
// completion follow-ups that were recorded but not carried out. Every step
// is idempotent and re-checked in its own transaction; among the servers
// sharing a database only the holder of the store's leader lease does this
// periodic work, and another takes it over when the holder dies. Run also
// carries wake-ups between servers (see Kick). It returns when ctx ends and
// every goroutine it started has stopped.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() { defer wg.Done(); s.sendWakeups(ctx) }()
	go func() { defer wg.Done(); s.receiveWakeups(ctx) }()

	s.graceAfterStart(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var ls loopState
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.tick(ctx, &ls)
	}
}

// loopState is what Run's passes remember between ticks.
type loopState struct {
	leading   bool
	lastSweep time.Time
	lastErr   string
	lastErrAt time.Time
}

// tick is one pass of Run: it renews or takes the leader lease and, if this
// scheduler leads, does the periodic work. It reports whether it led.
func (s *Scheduler) tick(ctx context.Context, ls *loopState) bool {
	lead, err := s.store.TryLead(ctx, "scheduler", s.id, leaderTTL)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("leader lease", "err", err)
		}
		// Unable to reach the database, this server cannot tell whether it
		// still leads, and nodes could not record their heartbeats through
		// any server: when it leads again, it gives every node a full
		// timeout (graceAfterStart) rather than requeueing the whole fleet
		// for a database outage.
		ls.leading = false
		return false
	}
	if lead != ls.leading {
		ls.leading = lead
		s.log.Info("periodic work", "leader", lead, "holder", s.id)
		if lead {
			// A new leader has not seen the nodes that polled other
			// servers, nor any node while the database was out of reach:
			// give every node a full timeout from now.
			s.graceAfterStart(ctx)
		}
	}
	if !lead {
		return false
	}
	s.checkNodes(ctx)
	sweep := time.Since(ls.lastSweep) >= sweepEvery
	if sweep {
		ls.lastSweep = time.Now()
	}
	s.checkJobs(ctx, sweep)
	err = errors.Join(s.svc.ReconcileJobs(ctx), s.svc.ReconcilePools(ctx), s.svc.ReconcileJobSchedules(ctx),
		s.svc.AutoScalePools(ctx))
	if sweep {
		err = errors.Join(err, s.svc.EnsureAutoPools(ctx))
	}
	if err != nil && ctx.Err() == nil && (err.Error() != ls.lastErr || time.Since(ls.lastErrAt) > time.Minute) {
		s.log.Warn("reconcile: work left for the next pass", "err", err)
		ls.lastErr, ls.lastErrAt = err.Error(), time.Now()
	}
	return true
}

// sendWakeups sends the store notification that Kick asked for, one at a
// time: kicks that come while one is being sent are folded into the next.
func (s *Scheduler) sendWakeups(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		}
		if err := s.store.Notify(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("notify other servers", "err", err)
		}
	}
}

// receiveWakeups acts on the store's wake-ups, which any server's
// scheduler or service sends after a change (this server's included): it
// drops the cached nodes and pools, which a node or pool change may have
// made stale, and wakes this server's waiting nodes.
func (s *Scheduler) receiveWakeups(ctx context.Context) {
	ch := s.store.Wakeups()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			s.dropCaches()
			s.wakeLocal()
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
		if n.Node.State == api.NodeLeavingPool {
			// Its agent never came to leave: remove it now.
			s.log.Warn("node being removed missed its heartbeats; removing it", "pool", p.ID, "node", n.Node.ID)
			if err := s.RemoveNode(ctx, p.ID, n.Node.ID); err != nil {
				s.log.Error("remove silent leaving node", "node", n.Node.ID, "err", err)
			}
			return
		}
		_, _ = s.store.UpdateNode(ctx, p.ID, n.Node.ID, func(n *store.Node) error {
			lifecycle.SetNodeState(n.Node, api.NodeUnknown, s.now())
			return nil
		})
		s.dropNodeCache(n.Node.ID)
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
					s.svc.ResolveDependencies(ctx, j)
				}
				s.svc.CheckAllComplete(ctx, j)
			}
			if j.Constraints == nil || j.Constraints.MaxWallClockTime == nil || *j.Constraints.MaxWallClockTime == api.Infinite || j.CreationTime == nil {
				continue
			}
			if s.now().Sub(*j.CreationTime) > j.Constraints.MaxWallClockTime.Std() {
				if err := s.svc.TerminateJobInternal(ctx, j.ID, "MaxWallClockTimeExpiry"); err != nil {
					s.log.Error("terminate job", "job", j.ID, "reason", "MaxWallClockTimeExpiry", "err", err)
				}
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
