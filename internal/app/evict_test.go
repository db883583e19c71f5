package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/testenv"
)

// TestUploadOnEviction stops a running task in each way the service can,
// through the REST API of `openbatch dev` with Azurite as storage, and
// checks what reached the container: a task killed by maxWallClockTime,
// terminated by task or job terminate, or whose node is removed (requeue
// or terminate) has its taskfailure and taskcompletion outputs stored (never its
// tasksuccess ones), and keeps what the eviction says; with
// OPENBATCH_UPLOAD_ON_EVICT=false nothing is uploaded on eviction.
func TestUploadOnEviction(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with Azurite")
	}
	az := testenv.SharedAzurite(t)
	tests := []struct {
		name   string
		optOut bool
		// stop stops the task (nil: its maxWallClockTime does).
		stop func(ctx context.Context, t *testing.T, c *client.Client, task *api.Task)
		// check checks the task afterwards.
		check func(t *testing.T, task *api.Task)
		// upload is whether outputs are expected in storage.
		upload bool
		// gone: the node, and with it the task's files, is gone.
		gone bool
	}{
		{name: "wall clock", upload: true, check: ended(api.ServerError)},
		{name: "task terminate", upload: true, check: ended(api.UserError),
			stop: func(ctx context.Context, t *testing.T, c *client.Client, task *api.Task) {
				do(ctx, t, c, "/jobs/j1/tasks/"+task.ID+"/terminate", nil)
			}},
		{name: "job terminate", upload: true, check: ended(api.UserError),
			stop: func(ctx context.Context, t *testing.T, c *client.Client, task *api.Task) {
				do(ctx, t, c, "/jobs/j1/terminate", map[string]string{"terminateReason": "enough"})
			}},
		{name: "remove node requeue", upload: true, gone: true,
			stop: func(ctx context.Context, t *testing.T, c *client.Client, task *api.Task) {
				waitSteady(t, c, "p1")
				do(ctx, t, c, "/pools/p1/removenodes", api.NodeRemove{NodeList: []string{task.NodeInfo.NodeID}, NodeDeallocationOption: "requeue"})
			},
			check: func(t *testing.T, task *api.Task) {
				if task.State != api.TaskActive || task.ExecutionInfo == nil || task.ExecutionInfo.RequeueCount != 1 {
					t.Errorf("task after its node was removed: %s %+v, want active and requeued once", task.State, task.ExecutionInfo)
				}
			}},
		{name: "remove node terminate", upload: true, gone: true, check: ended(api.UserError),
			stop: func(ctx context.Context, t *testing.T, c *client.Client, task *api.Task) {
				waitSteady(t, c, "p1")
				do(ctx, t, c, "/pools/p1/removenodes", api.NodeRemove{NodeList: []string{task.NodeInfo.NodeID}, NodeDeallocationOption: "terminate"})
			}},
		{name: "task terminate opted out", optOut: true, check: ended(api.UserError),
			stop: func(ctx context.Context, t *testing.T, c *client.Client, task *api.Task) {
				do(ctx, t, c, "/jobs/j1/tasks/"+task.ID+"/terminate", nil)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			container := az.NewContainer(t)
			sas := az.ContainerSAS(t, container, "w", time.Now().Add(time.Hour))
			_, c := startDev(t)
			mustPoolJob(t, c, 1, 1, nil)
			ctx := ctxT(t, 3*time.Minute)
			task := &api.Task{ID: "evicted",
				CommandLine: `/bin/sh -c 'echo partial > out.txt; echo started; sleep 120'`,
				OutputFiles: []api.OutputFile{
					outFile("out.txt", sas, "success.txt", api.UploadOnSuccess),
					outFile("out.txt", sas, "failure.txt", api.UploadOnFailure),
					outFile("../stdout.txt", sas, "stdout.txt", api.UploadOnCompletion),
				}}
			if tt.optOut {
				task.EnvironmentSettings = []api.EnvironmentSetting{{Name: "OPENBATCH_UPLOAD_ON_EVICT", Value: "false"}}
			}
			if tt.stop == nil {
				task.Constraints = &api.TaskConstraints{MaxWallClockTime: api.D(3 * time.Second)}
			}
			if err := c.AddTask(ctx, "j1", task); err != nil {
				t.Fatal(err)
			}
			// Running, with its output written.
			for {
				out, err := c.GetTaskFile(ctx, "j1", task.ID, "stdout.txt")
				if err == nil && strings.Contains(string(out), "started") {
					break
				}
				if ctx.Err() != nil {
					t.Fatal("the task never started")
				}
				time.Sleep(50 * time.Millisecond)
			}
			running, err := c.GetTask(ctx, "j1", task.ID)
			if err != nil || running.NodeInfo == nil {
				t.Fatalf("running task: %+v, %v", running, err)
			}
			if tt.stop != nil {
				tt.stop(ctx, t, c, running)
			}
			want := []string{}
			if tt.upload {
				want = []string{"failure.txt", "stdout.txt"}
			}
			if tt.upload {
				waitBlobs(ctx, t, az, container, want)
			} else {
				// The node's only slot frees when the evicted run, and any
				// upload it makes, is over: a task after it runs then.
				if err := c.AddJob(ctx, &api.Job{ID: "j2", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
					t.Fatal(err)
				}
				if err := c.AddTask(ctx, "j2", &api.Task{ID: "after", CommandLine: "/bin/true"}); err != nil {
					t.Fatal(err)
				}
				if _, err := c.WaitTask(ctx, "j2", "after"); err != nil {
					t.Fatal(err)
				}
			}
			if got := az.Blobs(t, container); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("blobs %v, want %v", got, want)
			}
			if tt.upload {
				if data, _ := az.Download(t, container, "failure.txt"); string(data) != "partial\n" {
					t.Errorf("failure.txt = %q", data)
				}
			}
			after, err := c.GetTask(ctx, "j1", task.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, after)
			}
			if tt.upload && !tt.gone {
				log, err := c.GetTaskFile(ctx, "j1", task.ID, "fileuploadout.txt")
				if err != nil || !strings.Contains(string(log), "Upload on eviction") {
					t.Errorf("fileuploadout.txt does not say the upload was on eviction: %v\n%s", err, log)
				}
			}
		})
	}
}

// ended checks that a task completed as an eviction says: failure,
// TaskEnded of category cat, whatever the upload did.
func ended(cat api.ErrorCategory) func(t *testing.T, task *api.Task) {
	return func(t *testing.T, task *api.Task) {
		t.Helper()
		ei := task.ExecutionInfo
		if task.State != api.TaskCompleted || ei == nil || ei.Result != api.ResultFailure || ei.FailureInfo == nil ||
			ei.FailureInfo.Code != api.FailureTaskEnded || ei.FailureInfo.Category != cat {
			t.Errorf("task after eviction: %s %+v, want completed with failure TaskEnded (%s)", task.State, ei, cat)
		}
	}
}

// do sends a POST that must be accepted.
func do(ctx context.Context, t *testing.T, c *client.Client, path string, body any) {
	t.Helper()
	if _, err := c.Do(ctx, "POST", path, body, nil); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
}

// waitBlobs waits until container holds at least want.
func waitBlobs(ctx context.Context, t *testing.T, az *testenv.Azurite, container string, want []string) {
	t.Helper()
	for {
		got := az.Blobs(t, container)
		have := map[string]bool{}
		for _, b := range got {
			have[b] = true
		}
		all := true
		for _, w := range want {
			all = all && have[w]
		}
		if all {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("blobs %v, waited for %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
