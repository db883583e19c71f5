package lifecycle

import (
	"time"

	"github.com/openbatch/openbatch/api"
)

// MoveSchedule moves a job schedule to state to at now, keeping the state
// it leaves as its previous state (previousState and
// previousStateTransitionTime, as Azure reports them). A move to the state
// it is in changes nothing. Which moves are allowed (a completed schedule
// is never enabled again, say) is the caller's to decide: Azure answers
// each refusal with its own error code.
func MoveSchedule(js *api.JobSchedule, to api.JobScheduleState, now time.Time) {
	if js.State == to {
		return
	}
	js.PreviousState, js.PreviousStateTransitionTime = js.State, js.StateTransitionTime
	js.State, js.StateTransitionTime = to, api.T(now)
}

// StartPoolDelete moves a pool to deleting at now; a pool deleting already
// keeps its transition time. The deletion's work (its nodes, jobs'
// references) follows in the reconcile loop.
func StartPoolDelete(p *api.Pool, now time.Time) {
	if p.State == api.PoolDeleting {
		return
	}
	p.State, p.StateTransitionTime = api.PoolDeleting, api.T(now)
}
