package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// TestAPIPersistenceAcrossRestart checks that pools, jobs and tasks (with
// their ETags, states and results) survive a restart on the same data
// directory, and that the restarted server keeps working.
func TestAPIPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Server, *client.Client) {
		t.Helper()
		cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, LocalNodes: true, HeartbeatTimeout: 3 * time.Second,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if os.Getenv("OPENBATCH_TEST_LOG") != "" {
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		srv, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(srv.Endpoint, DevAccountName, DevAccountKey)
		if err != nil {
			t.Fatal(err)
		}
		return srv, c
	}

	srv, c := start()
	setupPoolJob(t, c, 1, &api.Job{Priority: api.I32(42), Metadata: []api.MetadataItem{{Name: "k", Value: "v"}}})
	addTaskOK(t, c, "j1", &api.Task{ID: "done", CommandLine: "/bin/sh -c 'echo persisted; exit 4'", DisplayName: "the done task"})
	waitTask(t, c, "j1", "done")
	if err := c.AddJob(ctxT(t, 5*time.Second), &api.Job{ID: "j2", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "disable j2", send(t, srv.Endpoint, "POST", "/jobs/j2/disable", `{"disableTasks":"wait"}`), http.StatusAccepted)
	addTaskOK(t, c, "j2", &api.Task{ID: "waiting", CommandLine: "echo later", Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(2)}})

	snapshot := func(ep string) map[string]string {
		out := map[string]string{}
		for _, p := range []string{"/pools/p1", "/jobs/j1", "/jobs/j2", "/jobs/j1/tasks/done", "/jobs/j2/tasks/waiting"} {
			w := send(t, ep, "GET", p+"?$select="+selectFor(p), nil)
			wantStatus(t, "GET "+p, w, http.StatusOK)
			out[p] = strings.ReplaceAll(string(w.Body), ep, "ENDPOINT") + " ETag=" + w.Header.Get("ETag")
		}
		return out
	}
	before := snapshot(srv.Endpoint)
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	srv, c = start()
	defer srv.Close()
	after := snapshot(srv.Endpoint)
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed across the restart:\nbefore %s\nafter  %s", p, b, after[p])
		}
	}
	ep := srv.Endpoint
	task, err := c.GetTask(ctxT(t, 5*time.Second), "j1", "done")
	if err != nil {
		t.Fatal(err)
	}
	if task.State != api.TaskCompleted || task.ExecutionInfo.ExitCode == nil || *task.ExecutionInfo.ExitCode != 4 || task.DisplayName != "the done task" {
		t.Fatalf("done task after restart: %+v", task)
	}
	// The finished task's files are still served, and IDs still collide
	// case-insensitively.
	if w := send(t, ep, "GET", "/jobs/j1/tasks/done/files/stdout.txt", nil); w.Status != 200 || string(w.Body) != "persisted\n" {
		t.Errorf("stdout after restart: %d %q", w.Status, w.Body)
	}
	wantError(t, "duplicate after restart", send(t, ep, "POST", "/jobs/j1/tasks", `{"id":"DONE","commandLine":"echo"}`), 409, api.CodeTaskExists)
	wantError(t, "duplicate job after restart", send(t, ep, "POST", "/jobs", `{"id":"J2","poolInfo":{"poolId":"p1"}}`), 409, api.CodeJobExists)
	// The restarted server runs new work and the waiting task once enabled.
	addTaskOK(t, c, "j1", &api.Task{ID: "new", CommandLine: "/bin/sh -c 'exit 0'"})
	if task := waitTask(t, c, "j1", "new"); task.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("new task after restart: %+v", task.ExecutionInfo)
	}
	wantStatus(t, "enable j2", send(t, ep, "POST", "/jobs/j2/enable", nil), http.StatusAccepted)
	if task := waitTask(t, c, "j2", "waiting"); task.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("waiting task after restart: %+v", task.ExecutionInfo)
	}
	ids, _ := listIDs(t, ep, "/jobs")
	if strings.Join(ids, ",") != "j1,j2" {
		t.Fatalf("jobs after restart: %v", ids)
	}
}

// selectFor leaves out the properties that legitimately move on their own
// (node counts and allocation of a pool whose nodes restart).
func selectFor(path string) string {
	if strings.HasPrefix(path, "/pools/") {
		return "id,eTag,lastModified,creationTime,vmSize,targetDedicatedNodes,taskSlotsPerNode,metadata,state"
	}
	if strings.Contains(path, "/tasks/") {
		return "id,displayName,eTag,lastModified,creationTime,state,commandLine,constraints,executionInfo,requiredSlots,userIdentity"
	}
	return "id,eTag,lastModified,creationTime,state,priority,metadata,poolInfo,constraints,executionInfo,onAllTasksComplete"
}
