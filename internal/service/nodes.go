package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// DisableScheduling stops new tasks going to a node; its running tasks are
// requeued (default), terminated, or left to finish (taskcompletion).
func (s *Service) DisableScheduling(ctx context.Context, poolID, nodeID string, opt string) error {
	opt = strings.ToLower(opt)
	switch opt {
	case "":
		opt = "requeue"
	case "requeue", "terminate", "taskcompletion":
	default:
		return AsError(api.Invalid("nodeDisableSchedulingOption", opt, "nodeDisableSchedulingOption must be requeue, terminate or taskcompletion."))
	}
	if err := s.setScheduling(ctx, poolID, nodeID, api.SchedulingDisabled); err != nil {
		return err
	}
	if opt == "taskcompletion" {
		return nil
	}
	if err := s.endNodeTasks(ctx, nodeID, opt == "requeue", "Task was ended because scheduling was disabled on its node"); err != nil {
		return err
	}
	s.kick(ctx)
	return nil
}

// endNodeTasks requeues (requeue) or terminates (otherwise, with reason) the
// tasks running on a node.
func (s *Service) endNodeTasks(ctx context.Context, nodeID string, requeue bool, reason string) error {
	rows, err := s.Store.TasksOnNode(ctx, nodeID)
	if err != nil {
		return err
	}
	for _, r := range rows {
		_, err := s.Store.UpdateTask(ctx, r.JobID, r.Task.ID, func(row *store.TaskRow) error {
			if row.NodeID != nodeID {
				return nil
			}
			if requeue {
				return lifecycle.ApplyTask(row, lifecycle.Requeue, lifecycle.Change{Now: s.Now()})
			}
			return lifecycle.ApplyTask(row, lifecycle.Terminate, lifecycle.Change{Now: s.Now(), Reason: reason})
		})
		if err != nil {
			return err
		}
		if !requeue {
			s.taskCompleted(ctx, r.JobID, r.Task.ID)
		}
	}
	return nil
}

// EnableScheduling lets tasks be scheduled on a node again.
func (s *Service) EnableScheduling(ctx context.Context, poolID, nodeID string) error {
	if err := s.setScheduling(ctx, poolID, nodeID, api.SchedulingEnabled); err != nil {
		return err
	}
	s.kick(ctx)
	return nil
}

func (s *Service) setScheduling(ctx context.Context, poolID, nodeID string, st api.SchedulingState) error {
	if _, err := s.Store.GetPool(ctx, poolID); err != nil {
		return mapStoreErr(err, api.CodePoolNotFound, "pool", poolID)
	}
	_, err := s.Store.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		if n.Node.SchedulingState == st {
			return errorf(api.CodeNodeAlreadyInTargetState, "The node's scheduling is already %s: %s.", st, nodeID)
		}
		n.Node.SchedulingState = st
		return nil
	})
	if err != nil {
		return mapStoreErr(err, api.CodeNodeNotFound, "node", nodeID)
	}
	s.kick(ctx)
	return nil
}

// RemoveNodes removes up to 100 named nodes from a pool and lowers its
// target accordingly. In one transaction the pool's targets go down by
// the named nodes of each kind (dedicated, low-priority) and the nodes are
// drained (leavingpool, with the option recorded): a client that
// disconnects midway leaves either nothing changed or the whole removal,
// which the node work (the Provisioner's passes) finishes: each drained
// node leaves once it runs nothing, its running tasks requeued,
// terminated or left to finish as nodeDeallocationOption says, and its
// instance is ended by its provider. A node already leaving is not counted
// again.
func (s *Service) RemoveNodes(ctx context.Context, poolID string, body *api.NodeRemove) error {
	if len(body.NodeList) == 0 {
		return AsError(api.Missing("nodeList"))
	}
	if len(body.NodeList) > 100 {
		return AsError(api.Invalid("nodeList", fmt.Sprint(len(body.NodeList)), "At most 100 nodes can be removed in one call."))
	}
	opt, err := nodeTaskOption("nodeDeallocationOption", body.NodeDeallocationOption)
	if err != nil {
		return err
	}
	if s.Provisioner == nil {
		return errorf(api.CodeOperationInvalidForCurrentState, "This server cannot remove nodes.")
	}
	ids := slices.Compact(slices.Sorted(slices.Values(body.NodeList)))
	now := s.Now()
	// The nodes as found, by ID: the transaction may run more than once
	// (a retried deadlock), so what it learns is kept idempotently.
	found := map[string]*api.ComputeNode{}
	p, err := s.Store.UpdatePoolNodes(ctx, poolID, ids, func(n *store.Node) error {
		before := *n.Node
		found[n.Node.ID] = &before
		if n.Node.State != api.NodeLeavingPool {
			lifecycle.SetNodeState(n.Node, api.NodeLeavingPool, now)
			n.DrainOption = opt
		}
		return nil
	}, func(p *api.Pool) error {
		if p.State == api.PoolDeleting {
			return errorf(api.CodePoolBeingDeleted, "The specified pool has been marked for deletion and is being reclaimed: %s.", poolID)
		}
		if err := s.checkSteady(p); err != nil {
			return err
		}
		var ded, low int32
		for _, id := range ids {
			switch n := found[id]; {
			case n.State == api.NodeLeavingPool:
			case n.IsDedicated:
				ded++
			default:
				low++
			}
		}
		lower := func(t *int32, by int32) *int32 {
			v := int32(0)
			if t != nil {
				v = *t
			}
			return api.I32(max(v-by, 0))
		}
		p.TargetDedicatedNodes = lower(p.TargetDedicatedNodes, ded)
		p.TargetLowPriorityNodes = lower(p.TargetLowPriorityNodes, low)
		s.startResize(p)
		p.ETag = lifecycle.NextETag(p.ETag, now)
		p.LastModified = api.T(now)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		if _, perr := s.Store.GetPool(ctx, poolID); perr != nil {
			return mapStoreErr(perr, api.CodePoolNotFound, "pool", poolID)
		}
		for _, id := range ids {
			if _, nerr := s.Store.GetNode(ctx, poolID, id); nerr != nil {
				return mapStoreErr(nerr, api.CodeNodeNotFound, "node", id)
			}
		}
	}
	if err != nil {
		return err
	}
	if opt == "terminate" {
		for _, id := range ids {
			if found[id].State != api.NodeLeavingPool {
				if err := s.endNodeTasks(ctx, id, false, nodeRemovedReason); err != nil {
					s.Log.Warn("terminate the tasks of a removed node: left to the node work", "node", id, "err", err)
				}
			}
		}
	}
	s.kick(ctx)
	s.reconcileNodesNow(ctx, p, opt)
	return nil
}

// nodeRemovedReason is the failure message of a task terminated because
// its node was removed (nodeDeallocationOption terminate).
const nodeRemovedReason = "Task was ended because its node was removed from the pool"

// DrainNode moves a node to leavingpool: it takes no new task, and what
// becomes of its running tasks opt says. requeue (or ""): the node keeps
// their leases while its agent, told to on its next poll
// (nodeproto.Work.Remove), stops them, uploads their failure outputs
// (upload on eviction) and leaves; leaving requeues them (a silent
// agent's node is removed, and they are requeued, after the heartbeat
// timeout). Holding the leases until then keeps a retry from running while
// the old run still uploads. terminate: they complete as terminated at
// once, and the agent, told to stop them, still uploads their failure
// outputs before it leaves. taskcompletion, retaineddata: they finish.
// The pool's Provisioner removes the node once it runs nothing (see
// provider.Manager). Draining a node that is already leaving, or gone, is
// no error.
func (s *Service) DrainNode(ctx context.Context, poolID, nodeID, opt string) error {
	opt, err := nodeTaskOption("nodeDeallocationOption", opt)
	if err != nil {
		return err
	}
	now := s.Now()
	n, err := s.Store.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		if n.Node.State == api.NodeLeavingPool {
			return errAlreadyLeaving
		}
		lifecycle.SetNodeState(n.Node, api.NodeLeavingPool, now)
		n.DrainOption = opt
		return nil
	})
	if errors.Is(err, errAlreadyLeaving) {
		// Draining again finishes what a drain with terminate began: its
		// tasks end (the node work calls this for such nodes, so a drain
		// whose request stopped short still ends them).
		if n, err = s.Store.GetNode(ctx, poolID, nodeID); err == nil && n.DrainOption == "terminate" {
			return s.endNodeTasks(ctx, nodeID, false, nodeRemovedReason)
		}
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drain node %s: %w", nodeID, err)
	}
	if n.DrainOption == "terminate" {
		if err := s.endNodeTasks(ctx, nodeID, false, nodeRemovedReason); err != nil {
			return err
		}
	}
	s.kick(ctx)
	return nil
}

var errAlreadyLeaving = errors.New("node already leaving its pool")

// NodeCounts counts every pool's nodes by state.
func (s *Service) NodeCounts(ctx context.Context) ([]api.PoolNodeCounts, error) {
	var out []api.PoolNodeCounts
	tok := ""
	for {
		pools, next, err := s.Store.ListPools(ctx, store.Page{Token: tok})
		if err != nil {
			return nil, err
		}
		for _, p := range pools {
			nodes, err := s.Store.ListNodes(ctx, p.ID)
			if err != nil {
				return nil, err
			}
			if err := s.withLoads(ctx, nodes); err != nil {
				return nil, err
			}
			pc := api.PoolNodeCounts{PoolID: p.ID, Dedicated: &api.NodeCounts{}, LowPriority: &api.NodeCounts{}}
			for _, n := range nodes {
				c := pc.Dedicated
				if !n.Node.IsDedicated {
					c = pc.LowPriority
				}
				c.Total++
				switch n.Node.State {
				case api.NodeCreating:
					c.Creating++
				case api.NodeIdle:
					c.Idle++
				case api.NodeOffline:
					c.Offline++
				case api.NodeRebooting:
					c.Rebooting++
				case api.NodeReimaging:
					c.Reimaging++
				case api.NodeRunning:
					c.Running++
				case api.NodeStarting:
					c.Starting++
				case api.NodeStartTaskFailed:
					c.StartTaskFailed++
				case api.NodeLeavingPool:
					c.LeavingPool++
				case api.NodeUnknown:
					c.Unknown++
				case api.NodeUnusable:
					c.Unusable++
				case api.NodeWaitingForStartTask:
					c.WaitingForStartTask++
				}
			}
			out = append(out, pc)
		}
		if next == "" {
			return out, nil
		}
		tok = next
	}
}

// SupportedImages lists the images pools may name. openbatch nodes run on
// the machine the agent runs on, so every image is accepted; the list names
// the Ubuntu images Azure offers, for clients that pick one from it.
func SupportedImages() []api.ImageInformation {
	img := func(offer, sku, agent string) api.ImageInformation {
		ref, _ := json.Marshal(map[string]string{"publisher": "canonical", "offer": offer, "sku": sku, "version": "latest"})
		return api.ImageInformation{NodeAgentSKUID: agent, ImageReference: ref, OSType: "linux", VerificationType: "verified"}
	}
	return []api.ImageInformation{
		img("0001-com-ubuntu-server-jammy", "22_04-lts", "batch.node.ubuntu 22.04"),
		img("0001-com-ubuntu-server-focal", "20_04-lts", "batch.node.ubuntu 20.04"),
	}
}
