package lifecycle

import (
	"testing"
	"time"

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

func TestSetNodeState(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	for _, c := range []struct {
		from, to api.NodeState
		changed  bool
		boot     bool // lastBootTime becomes now
		zeroRun  bool // runningTasksCount becomes 0
	}{
		{api.NodeIdle, api.NodeRunning, true, false, false},
		{api.NodeRunning, api.NodeRunning, false, false, false},
		{api.NodeDeallocated, api.NodeIdle, true, true, false},
		{api.NodeRunning, api.NodeUnknown, true, false, true},
		{api.NodeRunning, api.NodeDeallocating, true, false, false},
	} {
		n := &api.ComputeNode{State: c.from, StateTransitionTime: api.T(t0), LastBootTime: api.T(t0), RunningTasksCount: 2}
		if got := SetNodeState(n, c.to, now); got != c.changed {
			t.Errorf("%s→%s changed = %v, want %v", c.from, c.to, got, c.changed)
		}
		wantTime := t0
		if c.changed {
			wantTime = now
		}
		if n.State != c.to || !n.StateTransitionTime.Equal(wantTime) {
			t.Errorf("%s→%s: state %s at %v", c.from, c.to, n.State, n.StateTransitionTime)
		}
		if n.LastBootTime.Equal(now) != c.boot {
			t.Errorf("%s→%s: lastBootTime %v", c.from, c.to, n.LastBootTime)
		}
		if (n.RunningTasksCount == 0) != c.zeroRun {
			t.Errorf("%s→%s: runningTasksCount %d", c.from, c.to, n.RunningTasksCount)
		}
	}
}
