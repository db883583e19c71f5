package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// clock is a settable time source for the service.
type clock struct{ t time.Time }

func (c *clock) now() time.Time         { return c.t }
func (c *clock) add(d time.Duration)    { c.t = c.t.Add(d) }
func dur(d time.Duration) *api.Duration { v := api.Duration(d); return &v }

func newScheduleService(t *testing.T) (*service.Service, *clock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	svc.Now = c.now
	if err := st.CreatePool(context.Background(), &api.Pool{ID: "p1", State: api.PoolActive}); err != nil {
		t.Fatal(err)
	}
	return svc, c
}

func schedule(sc api.Schedule) *api.JobSchedule {
	return &api.JobSchedule{ID: "nightly", Schedule: &sc,
		JobSpecification: &api.JobSpecification{PoolInfo: &api.PoolInformation{PoolID: "p1"}}}
}

// jobIDs lists the IDs of the schedule's jobs, sorted.
func jobIDs(t *testing.T, svc *service.Service) []string {
	t.Helper()
	jobs, _, err := svc.ListScheduleJobs(context.Background(), "nightly", store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	sort.Strings(ids)
	return ids
}

func completeJob(t *testing.T, svc *service.Service, id string) {
	t.Helper()
	if _, err := svc.Store.UpdateJob(context.Background(), id, func(j *api.Job) error {
		j.State = api.JobCompleted
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func sched(t *testing.T, svc *service.Service) *api.JobSchedule {
	t.Helper()
	js, err := svc.Store.GetJobSchedule(context.Background(), "nightly")
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestJobScheduleTiming drives schedules through an injected clock: each
// step moves the clock, runs a reconcile pass, and checks which jobs exist.
func TestJobScheduleTiming(t *testing.T) {
	type step struct {
		advance  time.Duration
		complete string // a job to complete before the pass
		jobs     []string
		state    api.JobScheduleState
	}
	cases := []struct {
		name  string
		sc    api.Schedule
		steps []step
	}{
		{
			name: "recurrence makes a job each interval once the previous one is done",
			sc:   api.Schedule{RecurrenceInterval: dur(time.Hour)},
			steps: []step{
				{jobs: []string{"nightly:job-1"}, state: api.JobScheduleActive},
				{advance: 30 * time.Minute, jobs: []string{"nightly:job-1"}},
				{advance: 30 * time.Minute, complete: "nightly:job-1", jobs: []string{"nightly:job-1", "nightly:job-2"}},
				{advance: time.Hour, complete: "nightly:job-2", jobs: []string{"nightly:job-1", "nightly:job-2", "nightly:job-3"}},
			},
		},
		{
			name: "an active previous job delays the next past its due time",
			sc:   api.Schedule{RecurrenceInterval: dur(time.Hour)},
			steps: []step{
				{jobs: []string{"nightly:job-1"}},
				{advance: 90 * time.Minute, jobs: []string{"nightly:job-1"}},
				{complete: "nightly:job-1", jobs: []string{"nightly:job-1", "nightly:job-2"}},
			},
		},
		{
			name: "a recurrence missed beyond the start window is skipped",
			sc:   api.Schedule{RecurrenceInterval: dur(time.Hour), StartWindow: dur(10 * time.Minute)},
			steps: []step{
				{jobs: []string{"nightly:job-1"}},
				{advance: 71 * time.Minute, jobs: []string{"nightly:job-1"}}, // due at 1h, window passed at 1h10
				{complete: "nightly:job-1", jobs: []string{"nightly:job-1"}}, // 1h11: the 1h run is lost
				{advance: 48 * time.Minute, jobs: []string{"nightly:job-1"}},
				{advance: time.Minute, jobs: []string{"nightly:job-1", "nightly:job-2"}}, // the 2h run
			},
		},
		{
			name: "doNotRunUntil holds the first job back",
			sc:   api.Schedule{DoNotRunUntil: api.T(time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC))},
			steps: []step{
				{jobs: nil, state: api.JobScheduleActive},
				{advance: 119 * time.Minute, jobs: nil},
				{advance: time.Minute, jobs: []string{"nightly:job-1"}},
				{complete: "nightly:job-1", jobs: []string{"nightly:job-1"}, state: api.JobScheduleCompleted},
			},
		},
		{
			name: "without a recurrence one job, then the schedule completes",
			sc:   api.Schedule{},
			steps: []step{
				{jobs: []string{"nightly:job-1"}, state: api.JobScheduleActive},
				{advance: 24 * time.Hour, jobs: []string{"nightly:job-1"}, state: api.JobScheduleActive},
				{complete: "nightly:job-1", jobs: []string{"nightly:job-1"}, state: api.JobScheduleCompleted},
			},
		},
		{
			name: "doNotRunAfter ends the recurrences",
			sc: api.Schedule{RecurrenceInterval: dur(time.Hour),
				DoNotRunAfter: api.T(time.Date(2026, 11, 24, 13, 30, 0, 0, time.UTC))},
			steps: []step{
				{jobs: []string{"nightly:job-1"}},
				{advance: time.Hour, complete: "nightly:job-1", jobs: []string{"nightly:job-1", "nightly:job-2"}},
				{advance: time.Hour, complete: "nightly:job-2", jobs: []string{"nightly:job-1", "nightly:job-2"}, state: api.JobScheduleCompleted},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc, c := newScheduleService(t)
			if err := svc.AddJobSchedule(ctx, schedule(tc.sc)); err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				c.add(s.advance)
				if s.complete != "" {
					completeJob(t, svc, s.complete)
				}
				if err := svc.ReconcileJobSchedules(ctx); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := jobIDs(t, svc); !equal(got, s.jobs) {
					t.Fatalf("step %d (at +%v): jobs %v, want %v", i, c.t.Sub(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)), got, s.jobs)
				}
				if s.state != "" {
					if js := sched(t, svc); js.State != s.state {
						t.Fatalf("step %d: schedule %s, want %s", i, js.State, s.state)
					}
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A pass that made a job but died before recording it finds the job there
// and records it: the job is made once.
func TestJobScheduleResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	svc, _ := newScheduleService(t)
	// Made directly in the store, so that no pass runs.
	js := schedule(api.Schedule{RecurrenceInterval: dur(time.Hour)})
	js.State = api.JobScheduleActive
	js.ExecutionInfo = &api.JobScheduleExecutionInformation{NextRunTime: api.T(svc.Now())}
	if err := svc.Store.CreateJobSchedule(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddJob(ctx, &api.Job{ID: "x", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Store.CreateJob(ctx, js.JobSpecification.Job("nightly:job-1")); err != nil {
		t.Fatal(err)
	}
	if err := svc.ReconcileJobSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	got := sched(t, svc)
	if got.ExecutionInfo.RecentJob == nil || got.ExecutionInfo.RecentJob.ID != "nightly:job-1" || !got.ExecutionInfo.NextRunTime.After(svc.Now()) {
		t.Fatalf("after the resumed pass: %+v", got.ExecutionInfo)
	}
	if ids := jobIDs(t, svc); !equal(ids, []string{"nightly:job-1"}) {
		t.Fatalf("jobs %v", ids)
	}
}

func TestJobScheduleTerminateAndDelete(t *testing.T) {
	ctx := context.Background()
	svc, _ := newScheduleService(t)
	if err := svc.AddJobSchedule(ctx, schedule(api.Schedule{RecurrenceInterval: dur(time.Hour)})); err != nil {
		t.Fatal(err)
	}
	if err := svc.TerminateJobSchedule(ctx, "nightly", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	js := sched(t, svc)
	if js.State != api.JobScheduleCompleted || js.ExecutionInfo.NextRunTime != nil || js.ExecutionInfo.EndTime == nil {
		t.Fatalf("terminated schedule: %s %+v", js.State, js.ExecutionInfo)
	}
	j, err := svc.Store.GetJob(ctx, "nightly:job-1")
	if err != nil || j.State != api.JobCompleted || j.ExecutionInfo.TerminateReason != "TerminateJobSchedule" {
		t.Fatalf("its job: %+v, %v", j, err)
	}
	err = svc.DisableJobSchedule(ctx, "nightly", service.Conditions{})
	var se *service.Error
	if !errors.As(err, &se) || se.Code != api.CodeJobScheduleCompleted {
		t.Fatalf("disable a completed schedule: %v", err)
	}

	if err := svc.DeleteJobSchedule(ctx, "nightly", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.GetJobSchedule(ctx, "nightly"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schedule after delete: %v", err)
	}
	if _, err := svc.Store.GetJob(ctx, "nightly:job-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("its job after delete: %v", err)
	}
}

func TestJobScheduleDisableEnable(t *testing.T) {
	ctx := context.Background()
	svc, c := newScheduleService(t)
	if err := svc.AddJobSchedule(ctx, schedule(api.Schedule{RecurrenceInterval: dur(time.Hour)})); err != nil {
		t.Fatal(err)
	}
	if err := svc.DisableJobSchedule(ctx, "nightly", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	completeJob(t, svc, "nightly:job-1")
	c.add(time.Hour)
	if err := svc.ReconcileJobSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := jobIDs(t, svc); len(ids) != 1 {
		t.Fatalf("a disabled schedule made jobs: %v", ids)
	}
	if err := svc.EnableJobSchedule(ctx, "nightly", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if ids := jobIDs(t, svc); len(ids) != 2 {
		t.Fatalf("an enabled, overdue schedule made %v", ids)
	}
}

func TestJobScheduleValidation(t *testing.T) {
	cases := []struct {
		name     string
		js       *api.JobSchedule
		code     string
		property string
	}{
		{"no schedule", &api.JobSchedule{ID: "s", JobSpecification: &api.JobSpecification{PoolInfo: &api.PoolInformation{PoolID: "p1"}}},
			api.CodeMissingRequiredProperty, "schedule"},
		{"no job specification", &api.JobSchedule{ID: "s", Schedule: &api.Schedule{}},
			api.CodeMissingRequiredProperty, "jobSpecification"},
		{"no pool", &api.JobSchedule{ID: "s", Schedule: &api.Schedule{}, JobSpecification: &api.JobSpecification{}},
			api.CodeMissingRequiredProperty, "jobSpecification.poolInfo"},
		{"recurrence under a minute", &api.JobSchedule{ID: "s", Schedule: &api.Schedule{RecurrenceInterval: dur(30 * time.Second)},
			JobSpecification: &api.JobSpecification{PoolInfo: &api.PoolInformation{PoolID: "p1"}}},
			api.CodeInvalidPropertyValue, "schedule.recurrenceInterval"},
		{"bad id", &api.JobSchedule{ID: "a:b", Schedule: &api.Schedule{},
			JobSpecification: &api.JobSpecification{PoolInfo: &api.PoolInformation{PoolID: "p1"}}},
			api.CodeInvalidPropertyValue, "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newScheduleService(t)
			err := svc.AddJobSchedule(context.Background(), tc.js)
			var se *service.Error
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			found := false
			for _, v := range se.Values {
				found = found || v.Key == "PropertyName" && v.Value == tc.property
			}
			if !found {
				t.Fatalf("error names %+v, want property %s", se.Values, tc.property)
			}
			if _, _, err := svc.Store.ListJobSchedules(context.Background(), store.Page{}); err != nil {
				t.Fatal(err)
			}
			if list, _, _ := svc.Store.ListJobSchedules(context.Background(), store.Page{}); len(list) != 0 {
				t.Fatalf("a refused schedule was stored: %+v", list)
			}
		})
	}
}

// A schedule's jobs with the jobschedule lifetime share one auto pool, made
// with the first job and deleted with the schedule.
func TestJobScheduleSharedAutoPool(t *testing.T) {
	ctx := context.Background()
	svc, c := newScheduleService(t)
	js := schedule(api.Schedule{RecurrenceInterval: dur(time.Hour)})
	js.JobSpecification.PoolInfo = &api.PoolInformation{AutoPoolSpecification: []byte(
		`{"autoPoolIdPrefix":"nightly","poolLifetimeOption":"jobschedule","pool":{"vmSize":"x","targetDedicatedNodes":0}}`)}
	if err := svc.AddJobSchedule(ctx, js); err != nil {
		t.Fatal(err)
	}
	completeJob(t, svc, "nightly:job-1")
	c.add(time.Hour)
	if err := svc.ReconcileJobSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	j1, _ := svc.Store.GetJob(ctx, "nightly:job-1")
	j2, err := svc.Store.GetJob(ctx, "nightly:job-2")
	if err != nil {
		t.Fatal(err)
	}
	pool := j1.ExecutionInfo.PoolID
	if pool == "" || j2.ExecutionInfo.PoolID != pool || j1.RunsOn() != pool {
		t.Fatalf("jobs run on %q and %q", pool, j2.ExecutionInfo.PoolID)
	}
	if _, err := svc.Store.GetPool(ctx, pool); err != nil {
		t.Fatalf("shared auto pool: %v", err)
	}
	if err := svc.DeleteJobSchedule(ctx, "nightly", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.GetPool(ctx, pool); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("auto pool after the schedule was deleted: %v", err)
	}
}
