package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/provider"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/testenv"
)

// TestProcessProviderAutoscale is the fast variant of the scale-out
// benchmark (obbench's autoscale part): a pool of the process node
// provider (each node an `openbatch agent` child process) with a
// pending-tasks formula grows from 0 to 5 nodes while tasks wait, runs
// every task, and shrinks back to 0 nodes and 0 agent processes. The
// tasks block on a release file, so the pool's growth does not depend on
// how fast this machine starts agents.
func TestProcessProviderAutoscale(t *testing.T) {
	if testing.Short() {
		t.Skip("process provider end-to-end test skipped in -short mode")
	}
	const nodes, tasks = 5, 10
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Node roots and the release file must be reachable by the tasks'
	// user (the agents run tasks as an unprivileged user when root).
	dir, err := os.MkdirTemp("", "obprocess-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "nodes")
	cfg, err := provider.ParseConfig([]byte(fmt.Sprintf(`{
  "pools": [{"poolId": "grow", "provider": "procs"}],
  "providers": {"procs": {"type": "process", "process": {"agent": %q, "rootDir": %q, "maxNodes": %d, "drainGrace": "2s"}}}
}`, openbatchBin, roots, nodes)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	srv, err := app.Start(ctx, app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NodeProviders: cfg,
		AutoScale: service.AutoScaleConfig{SamplePeriod: time.Second, MinInterval: time.Second},
		Log:       slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tail(logs.String(), 8<<10))
		}
	}()
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	formula := fmt.Sprintf("$pending = $PendingTasks.GetSample(1);\n"+
		"$TargetDedicatedNodes = len($pending) == 0 ? 0 : min(%d, max($pending));\n"+
		"$NodeDeallocationOption = taskcompletion;", nodes)
	if err := c.AddPool(ctx, &api.Pool{ID: "grow", VMSize: "standard_d1_v2", EnableAutoScale: api.B(true),
		AutoScaleFormula: formula, AutoScaleEvaluationInterval: api.D(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddJob(ctx, &api.Job{ID: "j", PoolInfo: &api.PoolInformation{PoolID: "grow"}}); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(dir, "release")
	ts := make([]*api.Task, 0, tasks)
	for i := range tasks {
		ts = append(ts, &api.Task{ID: fmt.Sprintf("t%d", i),
			CommandLine: fmt.Sprintf("/bin/sh -c 'while [ ! -e %s ]; do sleep 0.2; done'", release)})
	}
	r, err := c.AddTasks(ctx, "j", ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Value {
		if v.Error != nil {
			t.Fatalf("add %s: %s", v.TaskID, v.Error.Code)
		}
	}

	poolNodes := func() (*api.Pool, []api.ComputeNode, string) {
		p, err := c.GetPool(ctx, "grow")
		if err != nil {
			return nil, nil, err.Error()
		}
		ns, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/grow/nodes")
		if err != nil {
			return nil, nil, err.Error()
		}
		return p, ns, fmt.Sprintf("target %v current %v, %d nodes, resize errors %v", deref32(p.TargetDedicatedNodes),
			deref32(p.CurrentDedicatedNodes), len(ns), p.ResizeErrors)
	}
	seen := map[string]bool{}
	waitCond(ctx, t, fmt.Sprintf("%d nodes up", nodes), func() (bool, string) {
		p, ns, desc := poolNodes()
		up := 0
		for _, n := range ns {
			if n.State == api.NodeIdle || n.State == api.NodeRunning {
				up++
				seen[n.ID] = true
			}
		}
		return p != nil && deref32(p.TargetDedicatedNodes) == nodes && up == nodes, desc
	})
	for id := range seen {
		// Each node is an agent with its own root named by its node ID.
		if _, err := os.Stat(filepath.Join(roots, id)); err != nil {
			t.Errorf("node %s: root: %v", id, err)
		}
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitCond(ctx, t, "every task completed", func() (bool, string) {
		tc, err := c.TaskCounts(ctx, "j")
		if err != nil {
			return false, err.Error()
		}
		return tc.TaskCounts.Completed == tasks, fmt.Sprintf("%+v", tc.TaskCounts)
	})
	all, err := c.ListTasks(ctx, "j", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range all {
		if tk.ExecutionInfo == nil || tk.ExecutionInfo.Result != api.ResultSuccess {
			t.Errorf("task %s: %+v", tk.ID, tk.ExecutionInfo)
		}
	}
	waitCond(ctx, t, "shrink to 0 nodes", func() (bool, string) {
		p, ns, desc := poolNodes()
		return p != nil && deref32(p.TargetDedicatedNodes) == 0 && deref32(p.CurrentDedicatedNodes) == 0 && len(ns) == 0, desc
	})
	// The drained nodes' agents have exited: no process runs with a node
	// root of this test on its command line.
	waitCond(ctx, t, "agents exited", func() (bool, string) {
		n := processesMentioning(roots)
		return n == 0, fmt.Sprintf("%d agent processes left", n)
	})
}

func deref32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// processesMentioning counts the processes whose command line contains s.
func processesMentioning(s string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			n++
		}
	}
	return n
}
