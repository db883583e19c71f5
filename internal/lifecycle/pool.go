package lifecycle

import (
	"time"

	"github.com/openbatch/openbatch/api"
)

// A pool's allocationState, as Azure's: steady while nothing changes the
// number of its nodes; resizing from a change of its targets (create,
// resize, removenodes, an autoscale run) until its current counts reach
// them, the resize fails or its resizeTimeout passes; stopping from a
// stopresize until the next settle, which makes it steady. Every edge is
// written here; callers persist the pool in the transaction that changed
// it.

// CodeAllocationTimedOut is the resize error of a resize that did not
// reach its targets within the pool's resizeTimeout (Azure's code, with
// its lower-case "o").
const CodeAllocationTimedOut = "AllocationTimedout"

// DefaultResizeTimeout is Azure's default resizeTimeout.
const DefaultResizeTimeout = 15 * time.Minute

// PoolSteady reports whether a pool's allocation is steady: Azure resizes
// a pool, or removes nodes from it, only then (else 409 PoolBeingResized).
func PoolSteady(p *api.Pool) bool {
	return p.AllocationState == "" || p.AllocationState == api.AllocationSteady
}

// StartResize moves a pool whose targets were just set to resizing. The
// resize's errors replace the last one's. The caller settles the pool
// afterwards (a target it already has needs no nodes).
func StartResize(p *api.Pool, now time.Time) {
	p.ResizeErrors = nil
	setAllocation(p, api.AllocationResizing, now)
}

// StopResize stops a pool's resize: the pool keeps the nodes it has, its
// targets become its current counts, and it is stopping until the next
// SettleAllocation. A pool that is not resizing is left alone; it reports
// whether the pool changed.
func StopResize(p *api.Pool, now time.Time) bool {
	if p.AllocationState != api.AllocationResizing {
		return false
	}
	p.TargetDedicatedNodes = api.I32(count(p.CurrentDedicatedNodes))
	p.TargetLowPriorityNodes = api.I32(count(p.CurrentLowPriorityNodes))
	setAllocation(p, api.AllocationStopping, now)
	return true
}

// SettleAllocation ends a pool's resize when it is over: a stopping pool
// becomes steady; a resizing one becomes steady when its current counts
// equal its targets, when it has resize errors (the node work gave up or
// cannot act: quota, allocation failure, no provider), or when its
// resizeTimeout has passed since the resize began (adding an
// AllocationTimedout error). It reports whether the pool changed.
func SettleAllocation(p *api.Pool, now time.Time) bool {
	switch p.AllocationState {
	case api.AllocationStopping:
	case api.AllocationResizing:
		if !TargetsReached(p) && len(p.ResizeErrors) == 0 {
			timeout := DefaultResizeTimeout
			if p.ResizeTimeout != nil && p.ResizeTimeout.Std() > 0 {
				timeout = p.ResizeTimeout.Std()
			}
			began := now
			if p.AllocationStateTransitionTime != nil {
				began = *p.AllocationStateTransitionTime
			}
			if now.Sub(began) < timeout {
				return false
			}
			p.ResizeErrors = append(p.ResizeErrors, api.ResizeError{Code: CodeAllocationTimedOut,
				Message: "Desired number of nodes could not be allocated as the resize timeout was reached"})
		}
	default:
		return false
	}
	setAllocation(p, api.AllocationSteady, now)
	return true
}

// TargetsReached reports whether a pool's current node counts equal its
// targets.
func TargetsReached(p *api.Pool) bool {
	return count(p.CurrentDedicatedNodes) == count(p.TargetDedicatedNodes) &&
		count(p.CurrentLowPriorityNodes) == count(p.TargetLowPriorityNodes)
}

func setAllocation(p *api.Pool, to api.AllocationState, now time.Time) {
	p.AllocationState = to
	p.AllocationStateTransitionTime = api.T(now)
}

func count(v *int32) int32 {
	if v == nil {
		return 0
	}
	return max(*v, 0)
}
