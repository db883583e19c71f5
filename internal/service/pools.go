package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// MaxTaskSlotsPerNode is the largest taskSlotsPerNode a pool may ask for.
const MaxTaskSlotsPerNode = 256

func validateStartTask(property string, st *api.StartTask) error {
	if st == nil {
		return nil
	}
	if st.CommandLine == "" {
		return api.Missing(property + ".commandLine")
	}
	if err := validateCommandLine(property+".commandLine", st.CommandLine); err != nil {
		return err
	}
	if err := validateListLen(property+".resourceFiles", len(st.ResourceFiles), api.MaxResourceFiles); err != nil {
		return err
	}
	if st.MaxTaskRetryCount != nil && *st.MaxTaskRetryCount < -1 {
		return api.Invalid(property+".maxTaskRetryCount", fmt.Sprint(*st.MaxTaskRetryCount), "maxTaskRetryCount must be -1 (unlimited) or at least 0.")
	}
	if err := validateEnv(property+".environmentSettings", st.EnvironmentSettings); err != nil {
		return err
	}
	return validateUserIdentity(property+".userIdentity", st.UserIdentity)
}

func (s *Service) validatePool(p *api.Pool) error {
	if err := ValidateID("id", p.ID); err != nil {
		return err
	}
	if p.VMSize == "" {
		return api.Missing("vmSize")
	}
	if err := validateDisplayName("displayName", p.DisplayName); err != nil {
		return err
	}
	autoscale := p.EnableAutoScale != nil && *p.EnableAutoScale
	if !autoscale && p.TargetDedicatedNodes == nil && p.TargetLowPriorityNodes == nil {
		return api.Missing("targetDedicatedNodes")
	}
	if err := s.validatePoolAutoScale(p); err != nil {
		return err
	}
	if err := s.validateTargetNodes(p.ID, p.TargetDedicatedNodes, p.TargetLowPriorityNodes); err != nil {
		return err
	}
	if err := validateMetadata("metadata", p.Metadata); err != nil {
		return err
	}
	if p.TaskSlotsPerNode != nil && (*p.TaskSlotsPerNode < 1 || *p.TaskSlotsPerNode > MaxTaskSlotsPerNode) {
		return api.Invalid("taskSlotsPerNode", fmt.Sprint(*p.TaskSlotsPerNode), fmt.Sprintf("taskSlotsPerNode must be between 1 and %d.", MaxTaskSlotsPerNode))
	}
	if tp := p.TaskSchedulingPolicy; tp != nil && tp.NodeFillType != api.FillSpread && tp.NodeFillType != api.FillPack {
		return api.Invalid("taskSchedulingPolicy.nodeFillType", string(tp.NodeFillType), "nodeFillType must be spread or pack.")
	}
	if tp := p.TaskSchedulingPolicy; tp != nil {
		switch tp.JobDefaultOrder {
		case "", api.JobOrderNone, api.JobOrderCreationTime:
		default:
			return api.Invalid("taskSchedulingPolicy.jobDefaultOrder", string(tp.JobDefaultOrder), "jobDefaultOrder must be none or creationtime.")
		}
	}
	if err := validateDuration("resizeTimeout", p.ResizeTimeout); err != nil {
		return err
	}
	return validateStartTask("startTask", p.StartTask)
}

// TargetNodes is a pool's target node count (dedicated plus low-priority).
func TargetNodes(p *api.Pool) int {
	n := 0
	if p.TargetDedicatedNodes != nil {
		n += int(*p.TargetDedicatedNodes)
	}
	if p.TargetLowPriorityNodes != nil {
		n += int(*p.TargetLowPriorityNodes)
	}
	return n
}

// AddPool creates a pool and, where a provisioner exists, its nodes.
func (s *Service) AddPool(ctx context.Context, p *api.Pool) error {
	if err := s.validatePool(p); err != nil {
		return AsError(err)
	}
	now := s.Now()
	p.URL = ""
	p.ETag = lifecycle.NextETag("", now)
	p.CreationTime, p.LastModified, p.StateTransitionTime, p.AllocationStateTransitionTime = api.T(now), api.T(now), api.T(now), api.T(now)
	p.State, p.AllocationState = api.PoolActive, api.AllocationSteady
	p.CurrentDedicatedNodes, p.CurrentLowPriorityNodes = api.I32(0), api.I32(0)
	if p.TargetDedicatedNodes == nil {
		p.TargetDedicatedNodes = api.I32(0)
	}
	if p.TargetLowPriorityNodes == nil {
		p.TargetLowPriorityNodes = api.I32(0)
	}
	if p.TaskSlotsPerNode == nil {
		p.TaskSlotsPerNode = api.I32(1)
	}
	if p.TaskSchedulingPolicy == nil {
		p.TaskSchedulingPolicy = &api.TaskSchedulingPolicy{NodeFillType: api.FillSpread}
	}
	if p.ResizeTimeout == nil {
		p.ResizeTimeout = api.D(lifecycle.DefaultResizeTimeout)
	}
	if p.EnableAutoScale == nil {
		p.EnableAutoScale = api.B(false)
	}
	// A pool is made by resizing it from nothing (autoscale pools get
	// their targets from their first evaluation).
	if !*p.EnableAutoScale {
		s.startResize(p)
	}
	p.AutoScaleRun = nil
	if *p.EnableAutoScale && p.AutoScaleEvaluationInterval == nil {
		p.AutoScaleEvaluationInterval = api.D(DefaultAutoScaleInterval)
	}
	if p.EnableInterNodeCommunication == nil {
		p.EnableInterNodeCommunication = api.B(false)
	}
	if st := p.StartTask; st != nil && st.WaitForSuccess == nil {
		st.WaitForSuccess = api.B(true)
	}
	if err := s.Store.CreatePool(ctx, p); err != nil {
		return mapStoreErr(err, api.CodePoolNotFound, "pool", p.ID)
	}
	if *p.EnableAutoScale {
		// Azure evaluates the formula as the pool is made; the reconcile
		// loop retries if this fails.
		if err := s.autoScale(ctx, p); err != nil {
			s.Log.Error("first autoscale evaluation", "pool", p.ID, "err", err)
		}
		return nil
	}
	s.reconcileNodesNow(ctx, p, "")
	return nil
}

// reconcileNodesNow attempts at once the node work of a pool whose target
// a request (add, resize, removenodes) or an autoscale run just recorded;
// opt is the nodeDeallocationOption for nodes it drains ("" = requeue).
// What fails is left to the reconcile loop. Every change of a pool's
// targets ends here.
func (s *Service) reconcileNodesNow(ctx context.Context, p *api.Pool, opt string) {
	if s.Provisioner == nil {
		return
	}
	if err := s.Provisioner.ReconcileNodes(ctx, p, opt); err != nil && ctx.Err() == nil {
		s.Log.Warn("pool node work left to the reconcile loop", "pool", p.ID, "err", err)
	}
}

// GetPool reads a pool.
func (s *Service) GetPool(ctx context.Context, id string, cond Conditions) (*api.Pool, error) {
	p, err := s.Store.GetPool(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, api.CodePoolNotFound, "pool", id)
	}
	if err := cond.Check(p.ETag, p.LastModified, false); err != nil {
		return nil, err
	}
	return p, nil
}

// ListPools lists pools.
func (s *Service) ListPools(ctx context.Context, pg store.Page) ([]*api.Pool, string, error) {
	return s.Store.ListPools(ctx, pg)
}

func (s *Service) updatePool(ctx context.Context, id string, cond Conditions, fn func(*api.Pool) error) (*api.Pool, error) {
	p, err := s.Store.UpdatePool(ctx, id, func(p *api.Pool) error {
		if err := cond.Check(p.ETag, p.LastModified, true); err != nil {
			return err
		}
		if p.State == api.PoolDeleting {
			return errorf(api.CodePoolBeingDeleted, "The specified pool has been marked for deletion and is being reclaimed: %s.", id)
		}
		if err := fn(p); err != nil {
			return err
		}
		p.ETag = lifecycle.NextETag(p.ETag, s.Now())
		p.LastModified = api.T(s.Now())
		return nil
	})
	if err != nil {
		return nil, mapStoreErr(err, api.CodePoolNotFound, "pool", id)
	}
	return p, nil
}

// PatchPool changes the given properties of a pool.
func (s *Service) PatchPool(ctx context.Context, id string, patch *api.PoolPatch, cond Conditions) (*api.Pool, error) {
	if err := validateStartTask("startTask", patch.StartTask); err != nil {
		return nil, AsError(err)
	}
	if patch.Metadata != nil {
		if err := validateMetadata("metadata", *patch.Metadata); err != nil {
			return nil, AsError(err)
		}
	}
	return s.updatePool(ctx, id, cond, func(p *api.Pool) error {
		if patch.StartTask != nil {
			p.StartTask = patch.StartTask
		}
		if patch.CertificateReferences != nil {
			p.CertificateReferences = patch.CertificateReferences
		}
		if patch.ApplicationPackageReferences != nil {
			p.ApplicationPackageReferences = *patch.ApplicationPackageReferences
		}
		if patch.Metadata != nil {
			p.Metadata = *patch.Metadata
		}
		if patch.TargetNodeCommunicationMode != "" {
			p.TargetNodeCommunicationMode = patch.TargetNodeCommunicationMode
		}
		return nil
	})
}

// UpdatePoolProperties replaces a pool's start task, references and
// metadata.
func (s *Service) UpdatePoolProperties(ctx context.Context, id string, u *api.PoolUpdateProperties, cond Conditions) error {
	if err := validateStartTask("startTask", u.StartTask); err != nil {
		return AsError(err)
	}
	if u.Metadata == nil {
		return AsError(api.Missing("metadata"))
	}
	if err := validateMetadata("metadata", u.Metadata); err != nil {
		return AsError(err)
	}
	_, err := s.updatePool(ctx, id, cond, func(p *api.Pool) error {
		p.StartTask = u.StartTask
		p.CertificateReferences = u.CertificateReferences
		p.ApplicationPackageReferences = u.ApplicationPackageReferences
		p.Metadata = u.Metadata
		if u.TargetNodeCommunicationMode != "" {
			p.TargetNodeCommunicationMode = u.TargetNodeCommunicationMode
		}
		return nil
	})
	return err
}

// ResizePool changes a pool's target node counts. Nodes removed to shrink
// the pool are drained as r.NodeDeallocationOption says.
func (s *Service) ResizePool(ctx context.Context, id string, r *api.PoolResize, cond Conditions) error {
	if err := s.validateTargetNodes(id, r.TargetDedicatedNodes, r.TargetLowPriorityNodes); err != nil {
		return AsError(err)
	}
	opt, err := nodeTaskOption("nodeDeallocationOption", r.NodeDeallocationOption)
	if err != nil {
		return err
	}
	p, err := s.updatePool(ctx, id, cond, func(p *api.Pool) error {
		if p.EnableAutoScale != nil && *p.EnableAutoScale {
			return errorf(api.CodeAutoScalingEnabled, "The pool has autoscaling enabled and cannot be resized manually: %s.", id)
		}
		if r.TargetDedicatedNodes != nil {
			p.TargetDedicatedNodes = r.TargetDedicatedNodes
		}
		if r.TargetLowPriorityNodes != nil {
			p.TargetLowPriorityNodes = r.TargetLowPriorityNodes
		}
		if r.ResizeTimeout != nil {
			p.ResizeTimeout = r.ResizeTimeout
		}
		// One of the two targets may come from the stored pool; check the
		// sum inside the update so nothing is written when it is too big.
		if err := s.validateTargetNodes(id, p.TargetDedicatedNodes, p.TargetLowPriorityNodes); err != nil {
			return err
		}
		// A request that is wrong in itself is told so (400) before it
		// is told to wait (409).
		if err := s.checkSteady(p); err != nil {
			return err
		}
		s.startResize(p)
		return nil
	})
	if err != nil {
		return err
	}
	s.reconcileNodesNow(ctx, p, opt)
	return nil
}

// StopResizePool stops a pool's resize, as Azure's stopresize: the pool
// keeps the nodes it has now (its targets become its current counts) and
// goes through stopping to steady; nodes still starting are ended by the
// node work this starts. A pool that is not resizing is left as it is.
func (s *Service) StopResizePool(ctx context.Context, id string, cond Conditions) error {
	p, err := s.updatePool(ctx, id, cond, func(p *api.Pool) error {
		if !lifecycle.StopResize(p, s.Now()) {
			return nil
		}
		if s.Provisioner == nil {
			lifecycle.SettleAllocation(p, s.Now())
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.reconcileNodesNow(ctx, p, "")
	return nil
}

// checkSteady refuses to change the nodes of a pool whose allocation is
// not steady, as Azure does (409 PoolBeingResized).
func (s *Service) checkSteady(p *api.Pool) error {
	if lifecycle.PoolSteady(p) {
		return nil
	}
	return errorf(api.CodePoolBeingResized, "The specified pool is being resized (allocationState %s): wait until its allocationState is steady, or stop the resize with stopresize: %s.", p.AllocationState, p.ID)
}

// startResize records that p's targets changed: the pool is resizing until
// the node work (the Provisioner) brings its nodes to them. Without a
// Provisioner nothing acts on the targets and the pool stays steady.
func (s *Service) startResize(p *api.Pool) {
	if s.Provisioner == nil {
		p.ResizeErrors = nil // a new resize replaces the last one's errors
		return
	}
	lifecycle.StartResize(p, s.Now())
	lifecycle.SettleAllocation(p, s.Now())
}

// DeletePool deletes a pool and its nodes. The pool moves to deleting in
// one transaction; removing its nodes and the pool itself is reconcile
// work (see ReconcilePool), attempted at once and finished by the
// reconcile loop if this request stops short.
func (s *Service) DeletePool(ctx context.Context, id string, cond Conditions) error {
	if _, err := s.Store.UpdatePool(ctx, id, func(p *api.Pool) error {
		if err := cond.Check(p.ETag, p.LastModified, true); err != nil {
			return err
		}
		lifecycle.StartPoolDelete(p, s.Now())
		return nil
	}); err != nil {
		return mapStoreErr(err, api.CodePoolNotFound, "pool", id)
	}
	if err := s.ReconcilePool(ctx, id); err != nil && ctx.Err() == nil {
		s.Log.Warn("pool deletion left to the reconcile loop", "pool", id, "err", err)
	}
	return nil
}

// ReconcilePool finishes the deletion of a pool in state deleting: its
// nodes are removed, then the pool. It is idempotent and leaves pools in
// other states alone.
func (s *Service) ReconcilePool(ctx context.Context, id string) error {
	p, err := s.Store.GetPool(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || p.State != api.PoolDeleting {
		return err
	}
	if s.Provisioner != nil {
		if err := s.Provisioner.RemovePool(ctx, id); err != nil {
			return fmt.Errorf("remove the nodes of pool %s: %w", id, err)
		}
	}
	if err := s.Store.DeletePool(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// ReconcilePools runs ReconcilePool on every pool being deleted, and
// moves every other pool's nodes toward its target (Provisioner).
func (s *Service) ReconcilePools(ctx context.Context) error {
	var errs []error
	tok := ""
	for {
		pools, next, err := s.Store.ListPools(ctx, store.Page{Token: tok})
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, p := range pools {
			if p.State == api.PoolDeleting {
				err = s.ReconcilePool(ctx, p.ID)
			} else if s.Provisioner != nil {
				err = s.Provisioner.ReconcileNodes(ctx, p, "")
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("pool %s: %w", p.ID, err))
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		tok = next
	}
}

// ListNodes lists a pool's nodes, sorted by ID, as a client sees them
// (nodeView).
func (s *Service) ListNodes(ctx context.Context, poolID string) ([]NodeView, error) {
	if _, err := s.Store.GetPool(ctx, poolID); err != nil {
		return nil, mapStoreErr(err, api.CodePoolNotFound, "pool", poolID)
	}
	nodes, err := s.Store.ListNodes(ctx, poolID)
	if err != nil {
		return nil, err
	}
	if err := s.withLoads(ctx, nodes); err != nil {
		return nil, err
	}
	views := make([]NodeView, len(nodes))
	for i, n := range nodes {
		views[i] = nodeView(n)
	}
	return views, nil
}

// NodeView is a node as a client sees it: the API's ComputeNode, with its
// affinity ID, and the ID of its pool as stored (for its URL), but none of
// the server's bookkeeping (address, root, heartbeat, credential
// generation).
type NodeView struct {
	PoolID string
	Node   *api.ComputeNode
}

func nodeView(n *store.Node) NodeView {
	cn := *n.Node
	cn.AffinityID = "TVM:" + cn.ID
	return NodeView{PoolID: n.PoolID, Node: &cn}
}

// withLoads fills what a node runs and ran from the tasks table: running
// tasks and slots (an idle node that runs tasks shows as running), totals
// and recent tasks.
func (s *Service) withLoads(ctx context.Context, nodes []*store.Node) error {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.Node.ID
	}
	loads, err := s.Store.NodeLoads(ctx, ids)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		l := loads[n.Node.ID]
		n.Node.RunningTasksCount, n.Node.RunningTaskSlotsCount = l.Tasks, l.Slots
		if n.Node.State == api.NodeIdle && l.Tasks > 0 {
			n.Node.State = api.NodeRunning
		}
		h, err := s.Store.NodeHistory(ctx, n.Node.ID, maxRecentTasks)
		if err != nil {
			return err
		}
		n.Node.TotalTasksRun, n.Node.TotalTasksSucceeded = h.Completed, h.Succeeded
		n.Node.RecentTasks = make([]api.TaskInformation, 0, len(h.Recent))
		for _, r := range h.Recent {
			n.Node.RecentTasks = append(n.Node.RecentTasks, api.TaskInformation{JobID: r.JobID, TaskID: r.Task.ID,
				TaskState: r.Task.State, ExecutionInfo: r.Task.ExecutionInfo})
		}
	}
	return nil
}

// maxRecentTasks is how many recent tasks a node lists.
const maxRecentTasks = 20

// GetNode reads a node as a client sees it (nodeView).
func (s *Service) GetNode(ctx context.Context, poolID, nodeID string) (NodeView, error) {
	if _, err := s.Store.GetPool(ctx, poolID); err != nil {
		return NodeView{}, mapStoreErr(err, api.CodePoolNotFound, "pool", poolID)
	}
	n, err := s.Store.GetNode(ctx, poolID, nodeID)
	if err != nil {
		return NodeView{}, mapStoreErr(err, api.CodeNodeNotFound, "node", nodeID)
	}
	if err := s.withLoads(ctx, []*store.Node{n}); err != nil {
		return NodeView{}, err
	}
	return nodeView(n), nil
}

// PrepReleaseStatus lists the job preparation and release task runs of a
// job on each node.
func (s *Service) PrepReleaseStatus(ctx context.Context, jobID string) ([]api.JobPreparationAndReleaseTaskExecutionInformation, error) {
	j, err := s.Store.GetJob(ctx, jobID)
	if err != nil {
		return nil, mapStoreErr(err, api.CodeJobNotFound, "job", jobID)
	}
	if j.JobPreparationTask == nil {
		return nil, errorf(api.CodeJobPreparationTaskNotSpecified, "The job has no job preparation task: %s.", jobID)
	}
	return s.Store.PrepReleaseStatus(ctx, jobID)
}
