package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

func autoPoolJob(id, lifetime string, keepAlive bool) map[string]any {
	return map[string]any{"id": id, "poolInfo": map[string]any{"autoPoolSpecification": map[string]any{
		"autoPoolIdPrefix": "hello", "poolLifetimeOption": lifetime, "keepAlive": keepAlive,
		"pool": map[string]any{"vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
			"virtualMachineConfiguration": map[string]any{"nodeAgentSKUId": "batch.node.ubuntu 20.04"}},
	}}}
}

// A job with an auto pool gets a pool of its own, runs its tasks there, and
// the pool goes with the job unless keepAlive.
func TestAutoPoolLivesWithItsJob(t *testing.T) {
	for _, keep := range []bool{false, true} {
		name := "removed with the job"
		if keep {
			name = "keepAlive"
		}
		t.Run(name, func(t *testing.T) {
			srv, c := startDev(t)
			ep := srv.Endpoint
			ctx := ctxT(t, 60*time.Second)
			wantStatus(t, "job add", send(t, ep, "POST", "/jobs", autoPoolJob("hello", "job", keep)), http.StatusCreated)
			j, err := c.GetJob(ctx, "hello")
			if err != nil {
				t.Fatal(err)
			}
			pool := j.ExecutionInfo.PoolID
			if !strings.HasPrefix(pool, "hello_") || j.PoolInfo.PoolID != "" || len(j.PoolInfo.AutoPoolSpecification) == 0 {
				t.Fatalf("job poolInfo %+v, executionInfo.poolId %q", j.PoolInfo, pool)
			}
			if p, err := c.GetPool(ctx, pool); err != nil || *p.TargetDedicatedNodes != 1 {
				t.Fatalf("auto pool %s: %+v, %v", pool, p, err)
			}
			addTaskOK(t, c, "hello", &api.Task{ID: "t1", CommandLine: `/bin/sh -c 'echo hello from $AZ_BATCH_POOL_ID'`})
			tk := waitTask(t, c, "hello", "t1")
			if tk.ExecutionInfo.Result != api.ResultSuccess || tk.NodeInfo == nil || tk.NodeInfo.PoolID != pool {
				t.Fatalf("task on the auto pool: %+v %+v", tk.ExecutionInfo, tk.NodeInfo)
			}
			out, err := c.GetTaskFile(ctx, "hello", "t1", "stdout.txt")
			if err != nil || strings.TrimSpace(string(out)) != "hello from "+pool {
				t.Fatalf("stdout %q, %v", out, err)
			}
			wantStatus(t, "terminate", send(t, ep, "POST", "/jobs/hello/terminate", nil), http.StatusAccepted)
			waitJobState(t, c, "hello", api.JobCompleted)
			for {
				_, err := c.GetPool(ctx, pool)
				gone := client.Code(err) == api.CodePoolNotFound
				if gone != keep {
					break
				}
				if keep {
					t.Fatalf("a keepAlive auto pool is gone")
				}
				if ctx.Err() != nil {
					t.Fatalf("the auto pool outlived its job: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestAutoPoolValidation(t *testing.T) {
	srv, _ := startDev(t)
	ep := srv.Endpoint
	bad := autoPoolJob("j1", "jobschedule", false)
	wantError(t, "jobschedule lifetime on a job", send(t, ep, "POST", "/jobs", bad), http.StatusBadRequest, api.CodeInvalidPropertyValue, "poolLifetimeOption")
	noPool := map[string]any{"id": "j1", "poolInfo": map[string]any{"autoPoolSpecification": map[string]any{"poolLifetimeOption": "job"}}}
	wantError(t, "no pool", send(t, ep, "POST", "/jobs", noPool), http.StatusBadRequest, api.CodeMissingRequiredProperty, "pool")
	wantError(t, "nothing was made", send(t, ep, "GET", "/jobs/j1", nil), http.StatusNotFound, api.CodeJobNotFound)
	if w := send(t, ep, "GET", "/pools", nil).JSON(t); len(w["value"].([]any)) != 0 {
		t.Fatalf("pools after refused jobs: %v", w)
	}
}
