package agent_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/testenv"
)

// TestDatabaseCrashAndRestart crashes the PostgreSQL two servers share
// (an immediate shutdown: every connection ends at once, crash recovery at
// the next start) while their agents run tasks, keeps it down for longer
// than the node heartbeat timeout, and starts it again, as a database
// failover or an operator's restart does. While it is down, the servers
// stay up and answer clients at once with a retryable Azure error; once it
// is back they serve again without a restart of their own, and every task
// whose add was acknowledged, before or after the outage, completes
// successfully; the nodes come back idle.
func TestDatabaseCrashAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL")
	}
	ctx := ctxT(t, 3*time.Minute)
	// Every commit the servers were told of survives the crash, as on a
	// production database (synchronous_commit on, its default).
	pg, err := testenv.StartPostgres(ctx, "synchronous_commit=on")
	testenv.Require(t, err)
	t.Cleanup(pg.Close)
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := startServerProc(t, "A", dsn)
	b := startServerProc(t, "B", dsn)
	key, _ := base64.StdEncoding.DecodeString(app.DevAccountKey)
	token := nodeproto.JoinToken(key)
	ca, cb := devClient(t, a.endpoint), devClient(t, b.endpoint)
	if err := ca.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0), TaskSlotsPerNode: api.I32(2)}); err != nil {
		t.Fatal(err)
	}
	if err := cb.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	agents := []*agentProc{
		startAgentAt(t, a.endpoint+","+b.endpoint, token, "p1", "node0", t.TempDir()),
		startAgentAt(t, b.endpoint+","+a.endpoint, token, "p1", "node1", t.TempDir()),
	}

	add := func(c *client.Client, id string) {
		t.Helper()
		if err := c.AddTask(ctx, "j1", &api.Task{ID: id, CommandLine: "/bin/sh -c 'sleep 0.5'"}); err != nil {
			t.Fatalf("add %s: %v", id, err)
		}
	}
	var ids []string
	for i := range 8 {
		id := fmt.Sprintf("before%d", i)
		add([]*client.Client{ca, cb}[i%2], id)
		ids = append(ids, id)
	}
	waitRunning(t, ctx, ca, "j1")
	// A leader watches the nodes when the database goes down.
	for !strings.Contains(a.logs.String()+b.logs.String(), `msg="periodic work" leader=true`) {
		if ctx.Err() != nil {
			t.Fatal("no server took the leader lease")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := pg.Crash(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// Down: each server answers at once, with an error a client retries.
	for _, c := range []*client.Client{ca, cb} {
		for _, call := range []func(context.Context) error{
			func(ctx context.Context) error { _, err := c.GetJob(ctx, "j1"); return err },
			func(ctx context.Context) error {
				return c.AddTask(ctx, "j1", &api.Task{ID: "during", CommandLine: "/bin/true"})
			},
		} {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := call(cctx)
			cancel()
			var ae *client.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Body.Code != api.CodeServerBusy {
				t.Fatalf("with the database down: %v, want 503 ServerBusy", err)
			}
			t.Logf("with the database down: %v", ae)
		}
	}
	// Longer than the heartbeat timeout: the nodes could not heartbeat.
	time.Sleep(max(0, 2*heartbeatTimeout-time.Since(down)))
	for _, s := range []*serverProc{a, b} {
		select {
		case <-s.exited:
			t.Fatal("a server exited while its database was down")
		default:
		}
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	// Back: the servers serve again on their own, and the work added
	// before and after the outage completes.
	for i := range 8 {
		id := fmt.Sprintf("after%d", i)
		c := []*client.Client{ca, cb}[i%2]
		for {
			err := c.AddTask(ctx, "j1", &api.Task{ID: id, CommandLine: "/bin/sh -c 'sleep 0.5'"})
			var ae *client.Error
			if errors.As(err, &ae) && ae.Status == http.StatusConflict && ae.Body.Code == "TaskExists" {
				err = nil // an earlier try that went through
			}
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("add %s after the restart: %v", id, err)
			}
			t.Logf("add %s after the restart: %v", id, err)
			time.Sleep(200 * time.Millisecond)
		}
		ids = append(ids, id)
	}
	for {
		tasks, err := client.ListAll[api.Task](ctx, ca, "/jobs/j1/tasks")
		if err == nil {
			done, byID := 0, map[string]api.Task{}
			for _, tk := range tasks {
				byID[tk.ID] = tk
			}
			for _, id := range ids {
				if tk, ok := byID[id]; ok && tk.State == api.TaskCompleted {
					if ei := tk.ExecutionInfo; ei == nil || ei.Result != api.ResultSuccess {
						t.Fatalf("task %s: %+v", id, ei)
					}
					done++
				}
			}
			if done == len(ids) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%d of %d tasks completed", done, len(ids))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitNodesIdle(t, ca, "p1", "node0", "node1")
	// The runs that ended while the database was down were reported once
	// it was back, not run again: the leader gave the nodes a full
	// heartbeat timeout after the outage instead of requeueing their
	// tasks.
	for _, ag := range agents {
		if l := ag.logs.String(); strings.Contains(l, "report refused") {
			t.Errorf("agent %s had a report refused after the outage", ag.nodeID)
		}
	}
}

// waitRunning waits until a task of job runs.
func waitRunning(t *testing.T, ctx context.Context, c *client.Client, job string) {
	t.Helper()
	for {
		tasks, err := client.ListAll[api.Task](ctx, c, "/jobs/"+job+"/tasks")
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if tk.State == api.TaskRunning {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no task started")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
