package lifecycle

import "github.com/openbatch/openbatch/api"

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
