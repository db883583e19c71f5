package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// startDev starts an openbatch dev server on a free port in a temp dir.
func startDev(t *testing.T, mutate ...func(*Config)) (*Server, *client.Client) {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("OPENBATCH_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	var w io.Writer = os.Stderr
	// Everything the server logs, at every level, is also captured and
	// checked for secrets when the test ends.
	capture := &logCapture{}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LocalNodes: true, HeartbeatTimeout: 3 * time.Second,
		Log: slog.New(slog.NewMultiHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}),
			slog.NewTextHandler(capture, &slog.HandlerOptions{Level: slog.LevelDebug})))}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkLogs(t, capture, func() []string { return []string{DevAccountKey, cfg.AccountKey, srv.JoinToken} })
	})
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(srv.Endpoint, DevAccountName, DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustPoolJob(t *testing.T, c *client.Client, nodes, slots int32, job *api.Job) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(nodes), TaskSlotsPerNode: api.I32(slots)}); err != nil {
		t.Fatal(err)
	}
	if job == nil {
		job = &api.Job{}
	}
	if job.ID == "" {
		job.ID = "j1"
	}
	job.PoolInfo = &api.PoolInformation{PoolID: "p1"}
	if err := c.AddJob(ctx, job); err != nil {
		t.Fatal(err)
	}
}

func TestTaskRunsAndWritesStdout(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 1, nil)
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddTask(ctx, "j1", &api.Task{ID: "t1", CommandLine: `/bin/sh -c 'echo hello "$AZ_BATCH_TASK_ID"; exit 3'`,
		Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(1)}}); err != nil {
		t.Fatal(err)
	}
	task, err := c.WaitTask(ctx, "j1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	ei := task.ExecutionInfo
	if ei.ExitCode == nil || *ei.ExitCode != 3 || ei.Result != api.ResultFailure || ei.RetryCount != 1 ||
		ei.FailureInfo == nil || ei.FailureInfo.Code != api.FailureExitCode {
		t.Fatalf("executionInfo = %+v", ei)
	}
	out, err := c.GetTaskFile(ctx, "j1", "t1", "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "hello t1") {
		t.Fatalf("stdout = %q", out)
	}
}
