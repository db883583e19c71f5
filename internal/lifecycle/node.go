package lifecycle

import (
	"time"

	"github.com/openbatch/openbatch/api"
)

// SetNodeState moves a node to state to with the side effects of that
// edge, and reports whether the state changed: the transition time; a new
// lastBootTime for a deallocated node that starts again; no running tasks
// counted for a node that went unknown (its tasks are requeued).
func SetNodeState(n *api.ComputeNode, to api.NodeState, now time.Time) bool {
	from := n.State
	if from == to {
		return false
	}
	n.State = to
	n.StateTransitionTime = api.T(now)
	switch {
	case from == api.NodeDeallocated:
		n.LastBootTime = api.T(now)
	case to == api.NodeUnknown:
		n.RunningTasksCount = 0
	}
	return true
}

// NodeRestartRefusal returns the Batch error code with which a reboot or
// reimage of a node in state is refused, or "" when it is allowed. Azure
// reboots and reimages only idle and running nodes; a node that is already
// being created, started, rebooted or reimaged, or is unusable, gets the
// code naming that, any other state OperationInvalidForCurrentState.
func NodeRestartRefusal(state api.NodeState) string {
	switch state {
	case api.NodeIdle, api.NodeRunning:
		return ""
	case api.NodeCreating:
		return api.CodeNodeBeingCreated
	case api.NodeStarting, api.NodeWaitingForStartTask:
		return api.CodeNodeBeingStarted
	case api.NodeRebooting:
		return api.CodeNodeBeingRebooted
	case api.NodeReimaging:
		return api.CodeNodeBeingReimaged
	case api.NodeUnusable:
		return api.CodeNodeStateUnusable
	}
	return api.CodeOperationInvalidForCurrentState
}
