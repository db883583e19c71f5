package service

import (
	"context"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// RestartKind is a node operation that restarts the node: reboot or
// reimage.
type RestartKind string

// Restart kinds.
const (
	Reboot  RestartKind = "reboot"
	Reimage RestartKind = "reimage"
)

// RestartNode reboots or reimages a node the way openbatch can: an
// openbatch node is an agent process, not a virtual machine, so there is
// nothing to power-cycle or re-install. What a client can observe of
// Azure's operation is reproduced: opt (nodeRebootOption /
// nodeReimageOption: requeue (default), terminate, taskcompletion,
// retaineddata) decides the fate of the node's running tasks, and the
// node's lastBootTime moves to now. With taskcompletion and retaineddata
// the running tasks simply finish, since no restart follows that could
// interrupt them. Only idle and running nodes may be restarted
// (lifecycle.NodeRestartRefusal). See docs/compatibility.md, "Node reboot
// and reimage".
func (s *Service) RestartNode(ctx context.Context, poolID, nodeID string, kind RestartKind, opt string) error {
	prop, done := "nodeRebootOption", "rebooted"
	if kind == Reimage {
		prop, done = "nodeReimageOption", "reimaged"
	}
	opt = strings.ToLower(opt)
	switch opt {
	case "":
		opt = "requeue"
	case "requeue", "terminate", "taskcompletion", "retaineddata":
	default:
		return AsError(api.Invalid(prop, opt, prop+" must be requeue, terminate, taskcompletion or retaineddata."))
	}
	if _, err := s.Store.GetPool(ctx, poolID); err != nil {
		return mapStoreErr(err, api.CodePoolNotFound, "pool", poolID)
	}
	now := s.Now()
	_, err := s.Store.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		if code := lifecycle.NodeRestartRefusal(n.Node.State); code != "" {
			return errorf(code, "The node %s is %s; only idle or running nodes can be %s.", nodeID, n.Node.State, done)
		}
		n.Node.LastBootTime = api.T(now)
		return nil
	})
	if err != nil {
		return mapStoreErr(err, api.CodeNodeNotFound, "node", nodeID)
	}
	s.kick(ctx)
	switch opt {
	case "requeue":
		err = s.endNodeTasks(ctx, nodeID, true, "")
	case "terminate":
		err = s.endNodeTasks(ctx, nodeID, false, "Task was ended because its node was "+done)
	}
	if err != nil {
		return err
	}
	s.kick(ctx)
	return nil
}

// nodeTaskOption checks a node operation's option for the node's running
// tasks (requeue, the default, terminate, taskcompletion, retaineddata).
func nodeTaskOption(prop, opt string) (string, error) {
	opt = strings.ToLower(opt)
	switch opt {
	case "":
		return "requeue", nil
	case "requeue", "terminate", "taskcompletion", "retaineddata":
		return opt, nil
	}
	return "", AsError(api.Invalid(prop, opt, prop+" must be requeue, terminate, taskcompletion or retaineddata."))
}

// DeallocateNode deallocates a node the way openbatch can: the agent keeps
// running, but the node takes no tasks until it is started again. Its
// running tasks are requeued or terminated as opt says; with
// taskcompletion or retaineddata they finish first, the node being
// deallocating until then (the scheduler moves it on when it reports no
// run). Only idle and running nodes may be deallocated.
func (s *Service) DeallocateNode(ctx context.Context, poolID, nodeID, opt string) error {
	opt, err := nodeTaskOption("nodeDeallocateOption", opt)
	if err != nil {
		return err
	}
	if _, err := s.Store.GetPool(ctx, poolID); err != nil {
		return mapStoreErr(err, api.CodePoolNotFound, "pool", poolID)
	}
	now := s.Now()
	_, err = s.Store.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		if code := lifecycle.NodeRestartRefusal(n.Node.State); code != "" {
			return errorf(code, "The node %s is %s; only idle or running nodes can be deallocated.", nodeID, n.Node.State)
		}
		to := api.NodeDeallocated
		if opt == "taskcompletion" || opt == "retaineddata" {
			to = api.NodeDeallocating
		}
		lifecycle.SetNodeState(n.Node, to, now)
		return nil
	})
	if err != nil {
		return mapStoreErr(err, api.CodeNodeNotFound, "node", nodeID)
	}
	s.kick(ctx)
	switch opt {
	case "requeue":
		err = s.endNodeTasks(ctx, nodeID, true, "")
	case "terminate":
		err = s.endNodeTasks(ctx, nodeID, false, "Task was ended because its node was deallocated")
	}
	if err != nil {
		return err
	}
	s.kick(ctx)
	return nil
}

// StartNode starts a deallocated node: it takes tasks again, with a new
// lastBootTime.
func (s *Service) StartNode(ctx context.Context, poolID, nodeID string) error {
	if _, err := s.Store.GetPool(ctx, poolID); err != nil {
		return mapStoreErr(err, api.CodePoolNotFound, "pool", poolID)
	}
	now := s.Now()
	_, err := s.Store.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		if n.Node.State != api.NodeDeallocated {
			return errorf(api.CodeOperationInvalidForCurrentState,
				"The node %s is %s; only a deallocated node can be started.", nodeID, n.Node.State)
		}
		lifecycle.SetNodeState(n.Node, api.NodeIdle, now)
		return nil
	})
	if err != nil {
		return mapStoreErr(err, api.CodeNodeNotFound, "node", nodeID)
	}
	s.kick(ctx)
	return nil
}
