package lifecycle

import (
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

func TestMoveSchedule(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	for _, tc := range []struct {
		name     string
		from, to api.JobScheduleState
		wantPrev api.JobScheduleState
		wantAt   time.Time
	}{
		{"disable", api.JobScheduleActive, api.JobScheduleDisabled, api.JobScheduleActive, t1},
		{"terminate", api.JobScheduleDisabled, api.JobScheduleTerminating, api.JobScheduleDisabled, t1},
		{"same state changes nothing", api.JobScheduleActive, api.JobScheduleActive, "", t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := &api.JobSchedule{State: tc.from, StateTransitionTime: api.T(t0)}
			MoveSchedule(js, tc.to, t1)
			if js.State != tc.to || js.PreviousState != tc.wantPrev || !js.StateTransitionTime.Equal(tc.wantAt) {
				t.Fatalf("state %s (previous %s) at %v; want %s (previous %s) at %v", js.State, js.PreviousState, js.StateTransitionTime, tc.to, tc.wantPrev, tc.wantAt)
			}
			if tc.wantPrev != "" && !js.PreviousStateTransitionTime.Equal(t0) {
				t.Fatalf("previousStateTransitionTime %v, want %v", js.PreviousStateTransitionTime, t0)
			}
		})
	}
}

func TestStartPoolDelete(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	for _, tc := range []struct {
		name   string
		from   api.PoolState
		wantAt time.Time
	}{
		{"active pool", api.PoolActive, t1},
		{"deleting already keeps its time", api.PoolDeleting, t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &api.Pool{State: tc.from, StateTransitionTime: api.T(t0)}
			StartPoolDelete(p, t1)
			if p.State != api.PoolDeleting || !p.StateTransitionTime.Equal(tc.wantAt) {
				t.Fatalf("state %s at %v; want deleting at %v", p.State, p.StateTransitionTime, tc.wantAt)
			}
		})
	}
}
