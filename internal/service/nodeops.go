package service

import (
	"context"
	"net/http"
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
			return errorf(http.StatusConflict, code, "The node %s is %s; only idle or running nodes can be %s.", nodeID, n.Node.State, done)
		}
		n.Node.LastBootTime = api.T(now)
		return nil
	})
	if err != nil {
		return mapStoreErr(err, api.CodeNodeNotFound, "node", nodeID)
	}
	s.Hooks.NodeChanged(nodeID)
	switch opt {
	case "requeue":
		err = s.endNodeTasks(ctx, nodeID, true, "")
	case "terminate":
		err = s.endNodeTasks(ctx, nodeID, false, "Task was ended because its node was "+done)
	}
	if err != nil {
		return err
	}
	s.Hooks.Kick()
	return nil
}
