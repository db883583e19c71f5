package service_test

import (
	"context"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// TestChangesWakeThroughTheStore pins the one-way dependency: the service
// calls no scheduler; each change that may make work runnable, or that a
// scheduler caches, is signalled on the store's wake-ups, and the
// completion rules run in the service itself (a terminated task's job with
// onAllTasksComplete terminatejob ends without any scheduler).
func TestChangesWakeThroughTheStore(t *testing.T) {
	ctx := context.Background()
	svc, st := newFlaky(t)
	wake := st.Wakeups()
	if wake == nil {
		t.Fatal("the SQLite store has no wake-up channel")
	}
	drain := func() {
		for {
			select {
			case <-wake:
			default:
				return
			}
		}
	}
	woke := func(what string) {
		t.Helper()
		select {
		case <-wake:
		default:
			t.Fatalf("%s sent no wake-up through the store", what)
		}
	}
	withRunningTask(t, ctx, svc)
	drain()
	if err := svc.AddTask(ctx, "j1", &api.Task{ID: "t2", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	woke("adding a task")
	if err := svc.TerminateTask(ctx, "j1", "t2", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	woke("terminating a task")

	// j1 still runs t1: switching it to terminatejob leaves it active;
	// terminating t1 then completes it, with no scheduler anywhere.
	if _, err := svc.PatchJob(ctx, "j1", &api.JobPatch{OnAllTasksComplete: api.OnAllTasksCompleteTerminateJob}, service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if j, err := svc.GetJob(ctx, "j1", service.Conditions{}); err != nil || j.State != api.JobActive {
		t.Fatalf("job j1 with a running task: %v %v, want active", j, err)
	}
	if err := svc.TerminateTask(ctx, "j1", "t1", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	j, err := svc.GetJob(ctx, "j1", service.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.State != api.JobCompleted || j.ExecutionInfo == nil || j.ExecutionInfo.TerminateReason != "AllTasksComplete" {
		t.Fatalf("job j1 after its last task was terminated: %s %+v, want completed by AllTasksComplete", j.State, j.ExecutionInfo)
	}
}
