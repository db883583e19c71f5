package lifecycle

import (
	"testing"

	"github.com/openbatch/openbatch/api"
)

func TestNodeRestartRefusal(t *testing.T) {
	for _, tc := range []struct {
		state api.NodeState
		want  string
	}{
		{api.NodeIdle, ""},
		{api.NodeRunning, ""},
		{api.NodeCreating, api.CodeNodeBeingCreated},
		{api.NodeStarting, api.CodeNodeBeingStarted},
		{api.NodeWaitingForStartTask, api.CodeNodeBeingStarted},
		{api.NodeRebooting, api.CodeNodeBeingRebooted},
		{api.NodeReimaging, api.CodeNodeBeingReimaged},
		{api.NodeUnusable, api.CodeNodeStateUnusable},
		{api.NodeOffline, api.CodeOperationInvalidForCurrentState},
		{api.NodeStartTaskFailed, api.CodeOperationInvalidForCurrentState},
		{api.NodeUnknown, api.CodeOperationInvalidForCurrentState},
		{api.NodeLeavingPool, api.CodeOperationInvalidForCurrentState},
	} {
		if got := NodeRestartRefusal(tc.state); got != tc.want {
			t.Errorf("NodeRestartRefusal(%s) = %q, want %q", tc.state, got, tc.want)
		}
	}
}
