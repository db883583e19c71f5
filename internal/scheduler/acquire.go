package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// maxWait caps how long Acquire holds a call with no work.
const maxWait = 30 * time.Second

// Acquire records a heartbeat and hands out work.
func (s *Scheduler) Acquire(ctx context.Context, st nodeproto.NodeStatus) (*nodeproto.Work, error) {
	deadline := time.Now().Add(min(st.Wait, maxWait, s.cfg.HeartbeatInterval))
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
		if work.Cancel, err = s.cancels(ctx, st); err != nil {
			return nil, err
		}
		if err := s.requeueOrphans(ctx, st); err != nil {
			return nil, err
		}
		if work.Releases, err = s.releases(ctx, st.NodeID); err != nil {
			return nil, err
		}
		if st.FreeSlots > 0 && schedulable(node.Node) {
			if work.Assignments, err = s.assign(ctx, node, st); err != nil {
				return nil, err
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

func schedulable(n *api.ComputeNode) bool {
	if n.SchedulingState == api.SchedulingDisabled {
		return false
	}
	return n.State == api.NodeIdle || n.State == api.NodeRunning
}

// heartbeat updates the node's liveness and state; it returns nil if the
// node no longer exists (removed from its pool).
func (s *Scheduler) heartbeat(ctx context.Context, st nodeproto.NodeStatus) (*store.Node, error) {
	now := s.now()
	n, err := s.store.UpdateNode(ctx, st.PoolID, st.NodeID, func(n *store.Node) error {
		n.LastHeartbeat = now
		state := st.State
		if state == "" {
			state = api.NodeIdle
		}
		if (state == api.NodeIdle || state == api.NodeRunning) && len(st.Running) > 0 {
			state = api.NodeRunning
		} else if state == api.NodeRunning && len(st.Running) == 0 {
			state = api.NodeIdle
		}
		if n.Node.State != state {
			n.Node.State = state
			n.Node.StateTransitionTime = api.T(now)
		}
		n.Node.RunningTasksCount = int32(len(st.Running))
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
	return n, nil
}

// cancels returns the leases a node runs that are no longer its own.
func (s *Scheduler) cancels(ctx context.Context, st nodeproto.NodeStatus) ([]nodeproto.Lease, error) {
	var out []nodeproto.Lease
	for _, l := range st.Running {
		row, err := s.store.GetTask(ctx, l.JobID, l.TaskID)
		if errors.Is(err, store.ErrNotFound) {
			out = append(out, l)
			continue
		}
		if err != nil {
			return nil, err
		}
		if row.Epoch != l.Epoch || row.NodeID != st.NodeID {
			out = append(out, l)
		}
	}
	return out, nil
}

// requeueOrphans returns to the queue the tasks the store says a node holds
// but the node does not list as running: the node lost them (it restarted,
// stopped them after losing contact, or never received the assignment).
// A node lists each run until its report is acknowledged, so a finished
// task is never mistaken for a lost one.
func (s *Scheduler) requeueOrphans(ctx context.Context, st nodeproto.NodeStatus) error {
	rows, err := s.store.TasksOnNode(ctx, st.NodeID)
	if err != nil {
		return err
	}
	held := map[string]int64{}
	for _, l := range st.Running {
		held[strings.ToLower(l.JobID)+"/"+strings.ToLower(l.TaskID)] = l.Epoch
	}
	for _, r := range rows {
		if epoch, ok := held[strings.ToLower(r.JobID)+"/"+strings.ToLower(r.Task.ID)]; ok && epoch == r.Epoch {
			continue
		}
		_, err := s.store.UpdateTask(ctx, r.JobID, r.Task.ID, func(row *store.TaskRow) error {
			if row.NodeID != st.NodeID || row.Epoch != r.Epoch {
				return errNoChange
			}
			if err := service.RequeueRow(row, s.now()); err != nil {
				return err
			}
			row.Task.ETag = s.svc.NewETag()
			row.Task.LastModified = api.T(s.now())
			return nil
		})
		if errors.Is(err, errNoChange) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		s.log.Warn("requeued a task its node no longer runs", "job", r.JobID, "task", r.Task.ID, "node", st.NodeID)
	}
	return nil
}

// assign leases runnable tasks of the node's pool to it.
func (s *Scheduler) assign(ctx context.Context, node *store.Node, st nodeproto.NodeStatus) ([]nodeproto.Assignment, error) {
	pool, err := s.store.GetPool(ctx, st.PoolID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	free := st.FreeSlots
	spread := pool.TaskSchedulingPolicy == nil || pool.TaskSchedulingPolicy.NodeFillType != api.FillPack
	var loads map[string]int32
	if spread {
		if loads, err = s.peerLoads(ctx, node); err != nil {
			return nil, err
		}
	}
	candidates, err := s.store.RunnableTasks(ctx, st.PoolID, free*4+16)
	if err != nil {
		return nil, err
	}
	poolSlots := int32(1)
	if pool.TaskSlotsPerNode != nil {
		poolSlots = *pool.TaskSlotsPerNode
	}
	jobs := map[string]*jobState{}
	var out []nodeproto.Assignment
	for _, c := range candidates {
		if free <= 0 {
			break
		}
		if spread && !leastLoaded(node.Node.ID, loads) {
			break // another live node has fewer tasks: leave this one to it
		}
		need := taskSlotsOf(c.Task)
		if need > poolSlots || int(need) > free {
			continue
		}
		js, err := s.jobState(ctx, jobs, c.JobID)
		if err != nil || js == nil {
			continue
		}
		if js.job.MaxParallelTasks != nil && *js.job.MaxParallelTasks > 0 && js.running >= *js.job.MaxParallelTasks {
			continue
		}
		a, ok, err := s.lease(ctx, c, js.job, node)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		js.running++
		free -= int(need)
		if loads != nil {
			loads[node.Node.ID] += need
		}
		out = append(out, a)
	}
	return out, nil
}

type jobState struct {
	job     *api.Job
	running int32
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
	nodes, err := s.store.ListNodes(ctx, self.PoolID)
	if err != nil {
		return nil, err
	}
	loads := map[string]int32{}
	for _, n := range nodes {
		live := n.Node.ID == self.Node.ID || s.now().Sub(n.LastHeartbeat) < 2*s.cfg.HeartbeatInterval
		if !live || !schedulable(n.Node) {
			continue
		}
		rows, err := s.store.TasksOnNode(ctx, n.Node.ID)
		if err != nil {
			return nil, err
		}
		var used int32
		for _, r := range rows {
			used += taskSlotsOf(r.Task)
		}
		loads[n.Node.ID] = used
	}
	return loads, nil
}

func taskSlotsOf(t *api.Task) int32 {
	if t.RequiredSlots != nil && *t.RequiredSlots > 0 {
		return *t.RequiredSlots
	}
	return 1
}

// leastLoaded reports whether self has no more slots in use than any other
// node in loads (spread fill: work goes to the least busy node first).
func leastLoaded(self string, loads map[string]int32) bool {
	mine := loads[self]
	for id, l := range loads {
		if id != self && l < mine {
			return false
		}
	}
	return true
}

// lease moves one task to running on node, bumping its epoch.
func (s *Scheduler) lease(ctx context.Context, c *store.TaskRow, job *api.Job, node *store.Node) (nodeproto.Assignment, bool, error) {
	now := s.now()
	row, err := s.store.UpdateTask(ctx, c.JobID, c.Task.ID, func(r *store.TaskRow) error {
		if r.Task.State != api.TaskActive || r.Waiting {
			return errNoChange // taken by another node meanwhile
		}
		if err := lifecycle.ApplyTask(r.Task, lifecycle.Start, now); err != nil {
			return err
		}
		if r.Task.ExecutionInfo == nil {
			r.Task.ExecutionInfo = &api.TaskExecutionInformation{}
		}
		ei := r.Task.ExecutionInfo
		ei.StartTime = api.T(now)
		ei.EndTime, ei.ExitCode, ei.FailureInfo, ei.Result = nil, nil, nil, ""
		r.Task.NodeInfo = &api.ComputeNodeInformation{AffinityID: "TVM:" + node.Node.ID, PoolID: node.PoolID, NodeID: node.Node.ID,
			TaskRootDirectory: "workitems/" + job.ID + "/job-1/" + r.Task.ID}
		r.Epoch++
		r.NodeID = node.Node.ID
		r.Task.ETag = s.svc.NewETag()
		r.Task.LastModified = api.T(now)
		return nil
	})
	if errors.Is(err, errNoChange) || errors.Is(err, store.ErrNotFound) {
		return nodeproto.Assignment{}, false, nil
	}
	if err != nil {
		return nodeproto.Assignment{}, false, err
	}
	a := nodeproto.Assignment{
		Lease:              nodeproto.Lease{JobID: job.ID, TaskID: row.Task.ID, Epoch: row.Epoch},
		Task:               *row.Task,
		JobEnvironment:     job.CommonEnvironmentSettings,
		JobPreparationTask: job.JobPreparationTask,
		JobReleaseTask:     job.JobReleaseTask,
	}
	if job.Priority != nil {
		a.JobPriority = *job.Priority
	}
	return a, true, nil
}

// releases lists the job release tasks due on a node.
func (s *Scheduler) releases(ctx context.Context, nodeID string) ([]nodeproto.Release, error) {
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
