package service_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// TestAutoScalePoolsOnItsInterval drives the reconcile loop's autoscale
// pass with an injected clock and Azure's own timings (samples every 30 s,
// a 5-minute interval) and Azure's pending-tasks sample formula: the pool
// starts with one node, grows to its pending tasks at the first evaluation
// with enough samples, is not re-evaluated before its interval by another
// server sharing the store, and shrinks to zero once the tasks are done.
func TestAutoScalePoolsOnItsInterval(t *testing.T) {
	ctx := context.Background()
	svc, st := newFlaky(t)
	now := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	svc.Now = func() time.Time { return now }
	svc.AutoScale.History = 4 * time.Minute
	other := service.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	other.Now = svc.Now
	other.AutoScale = svc.AutoScale

	formula := `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`
	if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "standard_d2s_v3", EnableAutoScale: api.B(true),
		AutoScaleFormula: formula, AutoScaleEvaluationInterval: api.D(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddJob(ctx, &api.Job{ID: "j", PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if err := svc.AddTask(ctx, "j", &api.Task{ID: id, CommandLine: "/bin/true"}); err != nil {
			t.Fatal(err)
		}
	}
	pool := func() *api.Pool {
		t.Helper()
		p, err := svc.Store.GetPool(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tick := func(s *service.Service, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			now = now.Add(30 * time.Second)
			if err := s.AutoScalePools(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := now
	if p := pool(); *p.TargetDedicatedNodes != 1 || !p.AutoScaleRun.Timestamp.Equal(start) {
		t.Fatalf("after add: target %d, run %+v; want 1 at %v", *p.TargetDedicatedNodes, p.AutoScaleRun, start)
	}
	tick(svc, 9)
	if p := pool(); *p.TargetDedicatedNodes != 1 || !p.AutoScaleRun.Timestamp.Equal(start) {
		t.Fatalf("before the interval: target %d, run %+v; want no new run", *p.TargetDedicatedNodes, p.AutoScaleRun)
	}
	tick(svc, 1)
	p := pool()
	if *p.TargetDedicatedNodes != 4 || !p.AutoScaleRun.Timestamp.Equal(start.Add(5*time.Minute)) ||
		!strings.HasPrefix(p.AutoScaleRun.Results, "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;") {
		t.Fatalf("at the interval: target %d, run %+v; want 4 pending tasks", *p.TargetDedicatedNodes, p.AutoScaleRun)
	}
	samples, err := svc.Store.AutoScaleSamples(ctx, "p", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 9 || samples[len(samples)-1].Values["$PendingTasks"] != 4 || samples[0].Values["$ActiveTasks"] != 4 {
		t.Fatalf("kept %d samples (%v); want the 9 of the last 4 minutes (both ends kept), each with 4 pending tasks", len(samples), samples)
	}

	// Another server takes over the loop: it samples but does not evaluate
	// before the interval has passed since the stored run.
	tick(other, 2)
	if p := pool(); !p.AutoScaleRun.Timestamp.Equal(start.Add(5 * time.Minute)) {
		t.Fatalf("another server evaluated early: %+v", p.AutoScaleRun)
	}

	for _, id := range []string{"a", "b", "c", "d"} {
		if _, err := svc.Store.UpdateTask(ctx, "j", id, func(r *store.TaskRow) error {
			r.Task.State = api.TaskCompleted
			r.Task.ExecutionInfo = &api.TaskExecutionInformation{Result: api.ResultSuccess, ExitCode: api.I32(0)}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	tick(other, 8)
	p = pool()
	if *p.TargetDedicatedNodes != 0 || !p.AutoScaleRun.Timestamp.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("after the tasks completed: target %d, run %+v; want 0 at the second interval", *p.TargetDedicatedNodes, p.AutoScaleRun)
	}
	samples, _ = svc.Store.AutoScaleSamples(ctx, "p", time.Time{})
	if last := samples[len(samples)-1].Values; last["$SucceededTasks"] != 4 || last["$PendingTasks"] != 0 {
		t.Fatalf("last sample = %v; want 4 succeeded, 0 pending", last)
	}

	// Disabled: no more samples or runs.
	if _, err := svc.DisableAutoScale(ctx, "p", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := svc.Store.AutoScaleSamples(ctx, "p", time.Time{})
	tick(svc, 12)
	after, _ := svc.Store.AutoScaleSamples(ctx, "p", time.Time{})
	if p := pool(); p.AutoScaleRun != nil || *p.TargetDedicatedNodes != 0 || len(after) != 0 && !after[len(after)-1].Time.Equal(before[len(before)-1].Time) {
		t.Fatalf("a disabled pool was sampled or evaluated: run %+v, samples %d -> %d", p.AutoScaleRun, len(before), len(after))
	}
}
