package lifecycle

import (
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

func TestPoolAllocation(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	pool := func(st api.AllocationState, cur, target int32) *api.Pool {
		return &api.Pool{ID: "p", AllocationState: st, AllocationStateTransitionTime: api.T(t0),
			CurrentDedicatedNodes: api.I32(cur), TargetDedicatedNodes: api.I32(target),
			CurrentLowPriorityNodes: api.I32(0), TargetLowPriorityNodes: api.I32(0), ResizeTimeout: api.D(10 * time.Minute)}
	}
	for _, tc := range []struct {
		name      string
		p         *api.Pool
		at        time.Duration // after t0
		changed   bool
		want      api.AllocationState
		errorCode string
	}{
		{"steady stays", pool(api.AllocationSteady, 0, 3), time.Hour, false, api.AllocationSteady, ""},
		{"resizing short of target", pool(api.AllocationResizing, 1, 3), time.Minute, false, api.AllocationResizing, ""},
		{"resizing reached", pool(api.AllocationResizing, 3, 3), time.Minute, true, api.AllocationSteady, ""},
		{"shrink reached", pool(api.AllocationResizing, 0, 0), time.Second, true, api.AllocationSteady, ""},
		{"resizing with an error", func() *api.Pool {
			p := pool(api.AllocationResizing, 0, 3)
			p.ResizeErrors = []api.ResizeError{{Code: "AllocationFailed"}}
			return p
		}(), time.Second, true, api.AllocationSteady, "AllocationFailed"},
		{"timeout not yet", pool(api.AllocationResizing, 1, 3), 10*time.Minute - time.Second, false, api.AllocationResizing, ""},
		{"timed out", pool(api.AllocationResizing, 1, 3), 10 * time.Minute, true, api.AllocationSteady, CodeAllocationTimedOut},
		{"default timeout", func() *api.Pool { p := pool(api.AllocationResizing, 1, 3); p.ResizeTimeout = nil; return p }(),
			DefaultResizeTimeout, true, api.AllocationSteady, CodeAllocationTimedOut},
		{"stopping settles", pool(api.AllocationStopping, 1, 1), time.Second, true, api.AllocationSteady, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.at)
			if got := SettleAllocation(tc.p, now); got != tc.changed {
				t.Fatalf("changed = %v, want %v", got, tc.changed)
			}
			if tc.p.AllocationState != tc.want {
				t.Fatalf("allocationState %s, want %s", tc.p.AllocationState, tc.want)
			}
			if tc.changed && !tc.p.AllocationStateTransitionTime.Equal(now) {
				t.Fatalf("transition time %v, want %v", tc.p.AllocationStateTransitionTime, now)
			}
			code := ""
			if len(tc.p.ResizeErrors) > 0 {
				code = tc.p.ResizeErrors[len(tc.p.ResizeErrors)-1].Code
			}
			if code != tc.errorCode {
				t.Fatalf("resize errors %+v, want code %q", tc.p.ResizeErrors, tc.errorCode)
			}
		})
	}
}

func TestStartAndStopResize(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	p := &api.Pool{AllocationState: api.AllocationSteady, CurrentDedicatedNodes: api.I32(2), CurrentLowPriorityNodes: api.I32(1),
		TargetDedicatedNodes: api.I32(2), TargetLowPriorityNodes: api.I32(1), ResizeErrors: []api.ResizeError{{Code: "Old"}}}
	if !PoolSteady(p) || StopResize(p, t0) {
		t.Fatal("stopresize of a steady pool changed it")
	}
	p.TargetDedicatedNodes = api.I32(5)
	StartResize(p, t0)
	if PoolSteady(p) || p.AllocationState != api.AllocationResizing || p.ResizeErrors != nil {
		t.Fatalf("after StartResize: %s %+v", p.AllocationState, p.ResizeErrors)
	}
	if !StopResize(p, t0.Add(time.Second)) || p.AllocationState != api.AllocationStopping || PoolSteady(p) {
		t.Fatalf("after StopResize: %s", p.AllocationState)
	}
	if *p.TargetDedicatedNodes != 2 || *p.TargetLowPriorityNodes != 1 {
		t.Fatalf("targets after stop %d/%d, want the current 2/1", *p.TargetDedicatedNodes, *p.TargetLowPriorityNodes)
	}
	if !SettleAllocation(p, t0.Add(2*time.Second)) || !PoolSteady(p) {
		t.Fatalf("stopping did not settle: %s", p.AllocationState)
	}
}
