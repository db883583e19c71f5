package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/store"
)

// maxWait caps how long Acquire holds a call with no work.
const maxWait = 30 * time.Second

// Acquire records a heartbeat and hands out work.
func (s *Scheduler) Acquire(ctx context.Context, st nodeproto.NodeStatus) (*nodeproto.Work, error) {
	deadline := time.Now().Add(min(st.Wait, maxWait, s.cfg.HeartbeatInterval))
	// st is the node's state when it called; leases taken for it after
	// that (by its reports' Completed answers) are not in st.Running.
	called := s.now()
	for {
		wake := s.wakeChan()
		node, err := s.heartbeat(ctx, st)
		if err != nil {
			return nil, err
		}
		work := &nodeproto.Work{}
		if node == nil {
			work.Leave = true
			return work, nil
		}
		if work.Cancel, err = s.reconcile(ctx, st, called); err != nil {
			return nil, err
		}
		if work.Requeued, err = s.requeued(ctx, work.Cancel); err != nil {
			return nil, err
		}
		if removedByAgent(node) {
			work.Remove = true
			return work, nil
		}
		if work.Releases, err = s.releases(ctx, st.NodeID); err != nil {
			return nil, err
		}
		if st.FreeSlots > 0 && schedulable(node.Node) {
			// Leases taken before an error are the node's: hand them
			// out rather than leave them to be requeued.
			if work.Assignments, _, err = s.assign(ctx, node, st, nil); err != nil {
				if len(work.Assignments) == 0 {
					return nil, err
				}
				s.log.Warn("assign work", "node", st.NodeID, "leased", len(work.Assignments), "err", err)
				return work, nil
			}
		}
		if len(work.Assignments) > 0 || len(work.Cancel) > 0 || len(work.Releases) > 0 || time.Now().After(deadline) {
			return work, nil
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
			t.Stop()
			return work, nil
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// removedByAgent reports whether node is leaving its pool through its
// agent (drained with requeue or terminate, see service.DrainNode): the
// agent stops its tasks, uploads their failure outputs and leaves. A node
// drained with taskcompletion or retaineddata lets its tasks finish.
func removedByAgent(node *store.Node) bool {
	if node.Node.State != api.NodeLeavingPool {
		return false
	}
	switch node.DrainOption {
	case "taskcompletion", "retaineddata":
		return false
	}
	return true
}

// takesWork is what a lease checks of the node as stored, under its
// lock: the plan read it from the cache.
func takesWork(n *store.Node) bool { return !removedByAgent(n) && schedulable(n.Node) }

func schedulable(n *api.ComputeNode) bool {
	if n.SchedulingState == api.SchedulingDisabled {
		return false
	}
	return n.State == api.NodeIdle || n.State == api.NodeRunning
}

// heartbeat records that a node called and stores its state when it
// changed. Liveness is kept in memory (and written to the store only every
// few intervals); the node's running/idle distinction and running counts are
// derived from its leases when it is read, so a poll usually costs no write.
// It returns nil if the node no longer exists (removed from its pool).
func (s *Scheduler) heartbeat(ctx context.Context, st nodeproto.NodeStatus) (*store.Node, error) {
	now := s.now()
	s.markSeen(st.NodeID, now)
	state := st.State
	if state == "" || state == api.NodeRunning {
		state = api.NodeIdle // stored as idle; "running" is derived from leases
	}
	n, err := s.cachedNode(ctx, st.PoolID, st.NodeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heartbeat of node %s: %w", st.NodeID, err)
	}
	state = heldState(n.Node.State, state, len(st.Running))
	changed := n.Node.State != state ||
		st.StartTaskInfo != nil && !sameStartTaskInfo(n.Node.StartTaskInfo, st.StartTaskInfo) ||
		now.Sub(n.LastHeartbeat) > s.cfg.HeartbeatTimeout/3
	if !changed {
		return n, nil
	}
	n, err = s.store.UpdateNode(ctx, st.PoolID, st.NodeID, func(n *store.Node) error {
		n.LastHeartbeat = now
		// Again on the row as locked: a deallocate may have come since the
		// node was read.
		state := heldState(n.Node.State, state, len(st.Running))
		lifecycle.SetNodeState(n.Node, state, now)
		if st.StartTaskInfo != nil {
			n.Node.StartTaskInfo = st.StartTaskInfo
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heartbeat of node %s: %w", st.NodeID, err)
	}
	s.cacheNode(n)
	return n, nil
}

// heldState is the state a heartbeat stores for a node whose stored state
// is stored and whose agent reports reported while running runs: states
// the server holds stay — a deallocated node stays deallocated whatever
// its agent says, and a deallocating one becomes deallocated once it runs
// nothing (start makes it idle again); a node leaving its pool (drained to
// shrink it) stays leavingpool until it is removed.
func heldState(stored, reported api.NodeState, running int) api.NodeState {
	switch stored {
	case api.NodeDeallocated, api.NodeLeavingPool:
		return stored
	case api.NodeDeallocating:
		if running == 0 {
			return api.NodeDeallocated
		}
		return api.NodeDeallocating
	}
	return reported
}

// nodeCacheTTL bounds how stale a polling node's view of itself may be:
// scheduling disabled or a node removed takes effect within this time.
const nodeCacheTTL = time.Second

type cachedNode struct {
	n  *store.Node
	at time.Time
}

// cachedNode reads a node, from a short-lived cache: nodes poll often and a
// node's record changes rarely.
func (s *Scheduler) cachedNode(ctx context.Context, poolID, nodeID string) (*store.Node, error) {
	s.mu.Lock()
	c, ok := s.nodes[nodeID]
	s.mu.Unlock()
	if ok && time.Since(c.at) < nodeCacheTTL && strings.EqualFold(c.n.PoolID, poolID) {
		return c.n, nil
	}
	n, err := s.store.GetNode(ctx, poolID, nodeID)
	if err != nil {
		return nil, err
	}
	s.cacheNode(n)
	return n, nil
}

func (s *Scheduler) cacheNode(n *store.Node) {
	s.mu.Lock()
	s.nodes[n.Node.ID] = cachedNode{n: n, at: time.Now()}
	s.mu.Unlock()
}

type cachedPool struct {
	p     *api.Pool
	nodes []*store.Node
	at    time.Time
}

// cachedPool reads a pool for scheduling, from a short-lived cache: the
// settings scheduling uses (slots per node, fill type) never change.
func (s *Scheduler) cachedPool(ctx context.Context, poolID string) (*api.Pool, error) {
	key := strings.ToLower(poolID)
	s.mu.Lock()
	c, ok := s.pools[key]
	s.mu.Unlock()
	if ok && c.p != nil && time.Since(c.at) < nodeCacheTTL {
		return c.p, nil
	}
	p, err := s.store.GetPool(ctx, poolID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c = s.pools[key]
	c.p, c.at = p, time.Now()
	s.pools[key] = c
	s.mu.Unlock()
	return p, nil
}

// cachedPoolNodes lists a pool's nodes for spread scheduling, from a
// short-lived cache (dropped when a node registers, leaves or changes).
func (s *Scheduler) cachedPoolNodes(ctx context.Context, poolID string) ([]*store.Node, error) {
	key := strings.ToLower(poolID)
	s.mu.Lock()
	c, ok := s.pools[key]
	s.mu.Unlock()
	if ok && c.nodes != nil && time.Since(c.at) < nodeCacheTTL {
		return c.nodes, nil
	}
	nodes, err := s.store.ListNodes(ctx, poolID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c = s.pools[key]
	c.nodes, c.at = nodes, time.Now()
	s.pools[key] = c
	s.mu.Unlock()
	return nodes, nil
}

func sameStartTaskInfo(a, b *api.StartTaskInformation) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.State == b.State && a.Result == b.Result && a.RetryCount == b.RetryCount && a.StartTime.Equal(b.StartTime)
}

// leaseAnswerMargin is how long a lease is left alone by reconcile after
// it was taken: a node's poll that started before a lease was taken for it
// (in the answer to one of its reports, possibly by another server whose
// clock differs by less than this) does not list it yet. A lease whose
// answer was lost is requeued on the node's first poll after the margin.
const leaseAnswerMargin = 2 * time.Second

// reconcile compares the leases a node says it runs (st.Running, as of
// called) with the ones the store says it holds. Leases the node runs but
// no longer holds (completed, terminated, requeued, deleted) are returned
// for it to cancel, unless their runs are over (st.Ended: the report and
// this poll crossed). Leases it holds but does not run (it restarted,
// stopped them after losing contact, or never received the assignment)
// are requeued, except those taken too recently for st to list them
// (leaseAnswerMargin). A node lists each run until its report is
// acknowledged, so a finished task is never mistaken for a lost one.
func (s *Scheduler) reconcile(ctx context.Context, st nodeproto.NodeStatus, called time.Time) ([]nodeproto.Lease, error) {
	held, err := s.store.LeasesOnNode(ctx, st.NodeID)
	if err != nil {
		return nil, err
	}
	key := func(job, task string) string { return strings.ToLower(job) + "/" + strings.ToLower(task) }
	heldEpoch := make(map[string]int64, len(held))
	for _, l := range held {
		heldEpoch[key(l.JobID, l.TaskID)] = l.Epoch
	}
	ended := make(map[nodeproto.Lease]bool, len(st.Ended))
	for _, l := range st.Ended {
		ended[l] = true
	}
	runs := make(map[string]int64, len(st.Running))
	var cancel []nodeproto.Lease
	for _, l := range st.Running {
		runs[key(l.JobID, l.TaskID)] = l.Epoch
		if e, ok := heldEpoch[key(l.JobID, l.TaskID)]; (!ok || e != l.Epoch) && !ended[l] {
			cancel = append(cancel, l)
		}
	}
	for _, l := range held {
		if e, ok := runs[key(l.JobID, l.TaskID)]; ok && e == l.Epoch {
			continue
		}
		_, err := s.store.UpdateTask(ctx, l.JobID, l.TaskID, func(row *store.TaskRow) error {
			if row.NodeID != st.NodeID || row.Epoch != l.Epoch {
				return errNoChange
			}
			if ei := row.Task.ExecutionInfo; ei != nil && ei.StartTime != nil && ei.StartTime.After(called.Add(-leaseAnswerMargin)) {
				return errNoChange
			}
			return lifecycle.ApplyTask(row, lifecycle.Requeue, lifecycle.Change{Now: s.now()})
		})
		if errors.Is(err, errNoChange) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.log.Warn("requeued a task its node no longer runs", "job", l.JobID, "task", l.TaskID, "node", st.NodeID)
	}
	return cancel, nil
}

// requeued returns the leases of cancel whose task is not completed: it
// went back to the queue (node reboot, deallocate or removal with requeue)
// and may run again at once, so the node must not upload for the old run
// (see nodeproto.Work.Requeued). A completed (terminated) or deleted task
// runs no more: its node uploads on eviction.
func (s *Scheduler) requeued(ctx context.Context, cancel []nodeproto.Lease) ([]nodeproto.Lease, error) {
	var out []nodeproto.Lease
	for _, l := range cancel {
		state, err := s.store.TaskState(ctx, l.JobID, l.TaskID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("state of cancelled task %s/%s: %w", l.JobID, l.TaskID, err)
		}
		if state != api.TaskCompleted {
			out = append(out, l)
		}
	}
	return out, nil
}

// maxPlans bounds how often one assign plans again when others took its
// candidates meanwhile.
const maxPlans = 3

// assign leases runnable tasks of the node's pool to it.
//
// known, if set, is a job the caller has just read (a report's): the
// plan uses it rather than reading it again, unless it limits its running
// tasks (their count is read with it). deferred reports that the pool
// packs and work this node could have taken was left to fuller nodes.
func (s *Scheduler) assign(ctx context.Context, node *store.Node, st nodeproto.NodeStatus, known *api.Job) (out []nodeproto.Assignment, deferred bool, err error) {
	pool, err := s.cachedPool(ctx, st.PoolID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, nil
		}
		return nil, false, err
	}
	p := plan{node: node, free: int32(st.FreeSlots), poolSlots: 1, jobs: map[string]*jobState{},
		spread: pool.TaskSchedulingPolicy == nil || pool.TaskSchedulingPolicy.NodeFillType != api.FillPack}
	if pool.TaskSlotsPerNode != nil {
		p.poolSlots = *pool.TaskSlotsPerNode
	}
	if known != nil && known.State == api.JobActive && (known.MaxParallelTasks == nil || *known.MaxParallelTasks <= 0) {
		p.jobs[strings.ToLower(known.ID)] = &jobState{job: known}
	}
	for range maxPlans {
		leased, again, def, err := s.leaseOnce(ctx, &p, st.PoolID)
		out = append(out, leased...)
		deferred = def
		if err != nil || !again {
			return out, deferred, err
		}
	}
	return out, deferred, nil
}

// plan is what one assign knows across its tries.
type plan struct {
	node      *store.Node
	free      int32 // the node's free slots not leased yet
	poolSlots int32
	spread    bool
	jobs      map[string]*jobState // by lower-case ID; nil: gone
}

// leaseOnce reads the work in sight and leases the node's share of it in
// one transaction (store.LeaseTasks), which checks the node's slots and
// the jobs' maxParallelTasks again: what the plan read before it is only
// a hint. again reports that others took candidates meanwhile and the
// node got less than its share: a fresh read may find more.
func (s *Scheduler) leaseOnce(ctx context.Context, p *plan, poolID string) (out []nodeproto.Assignment, again, deferred bool, err error) {
	if p.free <= 0 {
		return nil, false, false, nil
	}
	loads, err := s.peerLoads(ctx, p.node)
	if err != nil {
		return nil, false, false, err
	}
	candidates, err := s.store.RunnableTasks(ctx, poolID, int(p.free)+8)
	if err != nil {
		return nil, false, false, err
	}
	want := p.free
	if p.spread {
		// Spread: a node takes tasks up to its fair share of the work in
		// sight (slots in use on the pool's live nodes plus the
		// candidates), so that the nodes fill evenly whichever polls first.
		total := int32(0)
		for _, l := range loads {
			total += l
		}
		for _, c := range candidates {
			total += c.Slots
		}
		n := int32(max(len(loads), 1))
		want = min(want, (total+n-1)/n-loads[p.node.Node.ID])
	} else {
		// Pack: the work in sight goes to the fullest live nodes with room
		// first (ties by node ID), so that nodes polling at once do not
		// split it: this node takes only what those before it cannot hold.
		share := packShareOf(p.node.Node.ID, loads, candidates, p.poolSlots)
		inSight := int32(0)
		for _, c := range candidates {
			inSight += c.Slots
		}
		deferred = share < inSight
		want = min(want, share)
	}
	if want <= 0 {
		return nil, false, deferred, nil
	}
	limits := map[string]int32{}
	var batch []store.Candidate
	for _, c := range candidates {
		if c.Slots > p.poolSlots || c.Slots > p.free {
			continue
		}
		js, err := s.jobState(ctx, p.jobs, c.JobID)
		if err != nil {
			return nil, false, deferred, err
		}
		if js == nil {
			continue
		}
		if m := js.maxParallel(); m > 0 {
			if js.running >= m {
				continue
			}
			limits[c.JobID] = m
		}
		batch = append(batch, c)
	}
	// Every poll plans from the same queue head, so concurrent polls
	// would all try the same first tasks and all but one fail (3.6
	// attempts per lease with 8 slots polling; see BENCHMARKS.md).
	// Spreading, a task another poll of this process is leasing right now
	// is put off to the end of the batch instead, and taken then only if
	// this node still has room (that lease may have failed). Packing, it
	// is not: a node that skipped ahead of the one filling up would take
	// work pack leaves to that node.
	if p.spread {
		var marked []store.Candidate
		batch, marked = s.orderByLeasing(batch, want)
		defer s.endLeasing(marked)
	}
	now := s.now()
	node := p.node
	rows, stale, err := s.store.LeaseTasks(ctx, store.LeaseBatch{NodeID: node.Node.ID, NodeSlots: p.poolSlots, Free: p.free, Want: want,
		MaxParallel: limits, Candidates: batch, NodeTakes: takesWork}, func(r *store.TaskRow) error {
		js := p.jobs[r.JobID]
		if js == nil {
			// Only the plan's candidates are leased, and their jobs were
			// read; a row of another job is a store bug, not a lease.
			return fmt.Errorf("lease of task %s of job %s, which the plan did not read", r.Task.ID, r.JobID)
		}
		job := js.job
		return lifecycle.ApplyTask(r, lifecycle.Start, lifecycle.Change{Now: now,
			Node: &api.ComputeNodeInformation{AffinityID: "TVM:" + node.Node.ID, PoolID: node.PoolID, NodeID: node.Node.ID,
				TaskRootDirectory: nodeproto.TaskRootDirectory(job.ID, r.Task.ID)}})
	})
	if err != nil {
		return nil, false, deferred, err
	}
	taken := int32(0)
	for _, r := range rows {
		js := p.jobs[r.JobID]
		js.running++
		taken += store.TaskSlots(r.Task)
		job := js.job
		out = append(out, nodeproto.Assignment{
			Lease:              nodeproto.Lease{JobID: job.ID, TaskID: r.Task.ID, Epoch: r.Epoch},
			Task:               *r.Task,
			JobEnvironment:     job.CommonEnvironmentSettings,
			JobPreparationTask: job.JobPreparationTask,
			JobReleaseTask:     job.JobReleaseTask,
		})
	}
	p.free -= taken
	return out, stale > 0 && taken < want && p.free > 0, deferred, nil
}

// packShareOf is how many of the candidates' slots node self takes under
// pack: those of the candidates the live nodes ranked before it (more
// loaded, or as loaded with a smaller ID) cannot hold, filling each in
// turn first-fit in queue order. loads holds the used slots of the pool's
// live nodes, self included.
func packShareOf(self string, loads map[string]int32, candidates []store.Candidate, poolSlots int32) int32 {
	mine := loads[self]
	type peer struct {
		id   string
		used int32
	}
	var before []peer
	for id, used := range loads {
		if id != self && used < poolSlots && (used > mine || (used == mine && id < self)) {
			before = append(before, peer{id, used})
		}
	}
	slices.SortFunc(before, func(a, b peer) int {
		if a.used != b.used {
			return cmp.Compare(b.used, a.used)
		}
		return strings.Compare(a.id, b.id)
	})
	left := make([]int32, 0, len(candidates))
	for _, c := range candidates {
		left = append(left, c.Slots)
	}
	for _, p := range before {
		room := poolSlots - p.used
		left = slices.DeleteFunc(left, func(need int32) bool {
			if need <= room {
				room -= need
				return true
			}
			return false
		})
	}
	share := int32(0)
	for _, need := range left {
		share += need
	}
	return share
}

// orderByLeasing orders cs for a batch that wants want slots: those
// another poll of this process is leasing go last, and the first of the
// others, up to want slots, are recorded as being leased by this one
// (marked, until endLeasing).
func (s *Scheduler) orderByLeasing(cs []store.Candidate, want int32) (order, marked []store.Candidate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var later []store.Candidate
	planned := int32(0)
	for _, c := range cs {
		if _, busy := s.leasing[c]; busy {
			later = append(later, c)
			continue
		}
		if planned < want {
			s.leasing[c] = struct{}{}
			marked = append(marked, c)
			planned += c.Slots
		}
		order = append(order, c)
	}
	return append(order, later...), marked
}

// endLeasing ends the leases under way that orderByLeasing marked.
func (s *Scheduler) endLeasing(cs []store.Candidate) {
	s.mu.Lock()
	for _, c := range cs {
		delete(s.leasing, c)
	}
	s.mu.Unlock()
}

type jobState struct {
	job     *api.Job
	running int32 // leased tasks, read only when the job limits them
}

// maxParallel is the job's maxParallelTasks; <= 0: no limit.
func (js *jobState) maxParallel() int32 {
	if js.job.MaxParallelTasks == nil {
		return 0
	}
	return *js.job.MaxParallelTasks
}

func (s *Scheduler) jobState(ctx context.Context, cache map[string]*jobState, jobLower string) (*jobState, error) {
	if js, ok := cache[jobLower]; ok {
		return js, nil
	}
	j, err := s.store.GetJob(ctx, jobLower)
	if errors.Is(err, store.ErrNotFound) {
		cache[jobLower] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	js := &jobState{job: j}
	if j.MaxParallelTasks != nil && *j.MaxParallelTasks > 0 {
		counts, err := s.store.TaskStateCounts(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		js.running = counts.TaskCounts.Running
	}
	cache[jobLower] = js
	return js, nil
}

// peerLoads returns the slots in use on each live, schedulable node of
// self's pool (self included), from the leases in the store. A node that has
// not called for two heartbeat intervals is left out, so a dying node does
// not hold back the others.
func (s *Scheduler) peerLoads(ctx context.Context, self *store.Node) (map[string]int32, error) {
	nodes, err := s.cachedPoolNodes(ctx, self.PoolID)
	if err != nil {
		return nil, err
	}
	var live []string
	for _, n := range nodes {
		if n.Node.ID == self.Node.ID || s.now().Sub(s.lastSeen(n)) < 2*s.cfg.HeartbeatInterval && schedulable(n.Node) {
			live = append(live, n.Node.ID)
		}
	}
	loads, err := s.store.NodeLoads(ctx, live)
	if err != nil {
		return nil, err
	}
	slots := make(map[string]int32, len(loads))
	for id, l := range loads {
		slots[id] = l.Slots
	}
	return slots, nil
}

// releases lists the job release tasks due on a node. It asks the store at
// most once per nodeCacheTTL per node: release tasks are not urgent, and
// nodes poll after every task.
func (s *Scheduler) releases(ctx context.Context, nodeID string) ([]nodeproto.Release, error) {
	s.mu.Lock()
	last := s.releaseCheck[nodeID]
	due := time.Since(last) >= nodeCacheTTL
	if due {
		s.releaseCheck[nodeID] = time.Now()
	}
	s.mu.Unlock()
	if !due {
		return nil, nil
	}
	jobs, err := s.store.PendingReleases(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	var out []nodeproto.Release
	for _, j := range jobs {
		r := nodeproto.Release{JobID: j.ID, Task: *j.JobReleaseTask, JobEnvironment: j.CommonEnvironmentSettings}
		if j.JobPreparationTask != nil {
			r.JobPreparationTaskID = j.JobPreparationTask.ID
		}
		out = append(out, r)
	}
	return out, nil
}
