package scheduler

import (
	"testing"

	"github.com/openbatch/openbatch/api"
)

// A heartbeat stores what the agent reports, except for the states the
// server holds: deallocated, deallocating until the node runs nothing, and
// leavingpool until the node is removed.
func TestHeldState(t *testing.T) {
	for _, tc := range []struct {
		stored, reported api.NodeState
		running          int
		want             api.NodeState
	}{
		{api.NodeIdle, api.NodeRunning, 1, api.NodeRunning},
		{api.NodeRunning, api.NodeIdle, 0, api.NodeIdle},
		{api.NodeUnknown, api.NodeIdle, 0, api.NodeIdle},
		{api.NodeDeallocated, api.NodeIdle, 0, api.NodeDeallocated},
		{api.NodeDeallocating, api.NodeRunning, 1, api.NodeDeallocating},
		{api.NodeDeallocating, api.NodeIdle, 0, api.NodeDeallocated},
		{api.NodeLeavingPool, api.NodeRunning, 1, api.NodeLeavingPool},
		{api.NodeLeavingPool, api.NodeIdle, 0, api.NodeLeavingPool},
	} {
		if got := heldState(tc.stored, tc.reported, tc.running); got != tc.want {
			t.Errorf("heldState(%s, %s, %d) = %s, want %s", tc.stored, tc.reported, tc.running, got, tc.want)
		}
	}
}
