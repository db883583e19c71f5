package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// The autoscale part (issue #14 item 5): one `openbatch server` (SQLite)
// whose pool's nodes come from the process node provider (one `openbatch
// agent` child process per node), scaled by Azure's sample pending-tasks
// formula with maxNumberofVMs raised from 25 to the node count. The pool
// starts at 0 nodes; the part adds the tasks, records the pool over time,
// and reports time from add to running, time to reach the full pool,
// time back to 0 after the work, and the memory of server and agents.

// autoscaleFormula is Azure's "pending tasks" sample formula
// (https://learn.microsoft.com/azure/batch/batch-automatic-scaling), the
// one internal/autoscale's tests evaluate, with %d for maxNumberofVMs.
const autoscaleFormula = `startingNumberOfVMs = 1;
maxNumberofVMs = %d;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`

// autoscaleSample is one point of the timeline (bench/out/autoscale-timeline.json).
type autoscaleSample struct {
	T         float64        `json:"t"` // seconds since the first task was added
	Target    int32          `json:"target"`
	Current   int32          `json:"current"`
	States    map[string]int `json:"states"`
	Running   int32          `json:"running"`
	Active    int32          `json:"active"`
	Completed int32          `json:"completed"`
	ServerMB  float64        `json:"serverMB"`
	AgentsMB  float64        `json:"agentsMB"`
	Agents    int            `json:"agents"`
}

func benchAutoscale(ctx context.Context, cfg *config, res *Results) error {
	nodes, tasks := cfg.asNodes, cfg.asTasks
	dir := filepath.Join(cfg.work, "autoscale")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	allowTraverse(dir)
	provFile := filepath.Join(dir, "providers.json")
	prov := fmt.Sprintf(`{"pools":[{"poolId":"scaleout","provider":"procs"}],
"providers":{"procs":{"type":"process","process":{"maxNodes":%d,"drainGrace":"1s","killAfter":"10s","agentArgs":["--log-level","warn"]}}}}`, nodes+10)
	if err := os.WriteFile(provFile, []byte(prov), 0o644); err != nil {
		return err
	}
	period := 5 * time.Second
	s, err := startServer(ctx, cfg.openbatch, dir, "", "--node-providers", provFile,
		"--autoscale-min-interval", period.String(), "--autoscale-sample-period", period.String())
	if err != nil {
		return err
	}
	defer s.Close()
	c := s.C
	if err := c.AddPool(ctx, &api.Pool{ID: "scaleout", VMSize: "standard_d1_v2", EnableAutoScale: api.B(true),
		AutoScaleFormula: fmt.Sprintf(autoscaleFormula, nodes), AutoScaleEvaluationInterval: api.D(period)}); err != nil {
		return fmt.Errorf("add pool: %w", err)
	}
	if err := c.AddJob(ctx, &api.Job{ID: "scaleout", PoolInfo: &api.PoolInformation{PoolID: "scaleout"}}); err != nil {
		return fmt.Errorf("add job: %w", err)
	}
	_ = resetPeak(s.Pid())
	logf("autoscale: adding %d tasks of %q to a pool of 0 nodes (at most %d)", tasks, cfg.asCommand, nodes)
	start := time.Now()
	for b := 0; b < tasks; b += 100 {
		ts := make([]*api.Task, 0, 100)
		for i := b; i < min(b+100, tasks); i++ {
			ts = append(ts, &api.Task{ID: fmt.Sprintf("t%05d", i), CommandLine: cfg.asCommand})
		}
		r, err := c.AddTasks(ctx, "scaleout", ts)
		if err != nil {
			return fmt.Errorf("add tasks: %w", err)
		}
		for _, v := range r.Value {
			if v.Error != nil {
				return fmt.Errorf("add %s: %s", v.TaskID, v.Error.Code)
			}
		}
	}
	var (
		timeline          []autoscaleSample
		full, done, empty time.Duration
		peakAgents        float64
		maxCurrent        int32
	)
	deadline := time.Now().Add(cfg.asTimeout)
	for empty == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("autoscale: not back to 0 nodes after %s (logs in %s)", cfg.asTimeout, dir)
		}
		time.Sleep(time.Second)
		p, err := c.GetPool(ctx, "scaleout")
		if err != nil {
			return err
		}
		ns, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/scaleout/nodes")
		if err != nil {
			return err
		}
		tc, err := c.TaskCounts(ctx, "scaleout")
		if err != nil {
			return err
		}
		agents, agentsMB := childrenRSS(s.Pid())
		smp := autoscaleSample{T: time.Since(start).Seconds(), Target: deref(p.TargetDedicatedNodes),
			Current: deref(p.CurrentDedicatedNodes), States: map[string]int{}, Running: tc.TaskCounts.Running,
			Active: tc.TaskCounts.Active, Completed: tc.TaskCounts.Completed, ServerMB: rssMB(s.Pid()),
			AgentsMB: agentsMB, Agents: agents}
		up := 0
		for _, n := range ns {
			smp.States[string(n.State)]++
			if n.State == api.NodeIdle || n.State == api.NodeRunning {
				up++
			}
		}
		timeline = append(timeline, smp)
		peakAgents = max(peakAgents, agentsMB)
		maxCurrent = max(maxCurrent, smp.Current)
		el := time.Since(start)
		if full == 0 && up >= nodes {
			full = el
			logf("autoscale: %d nodes up after %s", up, el.Round(time.Second))
		}
		if done == 0 && int(tc.TaskCounts.Completed) == tasks {
			done = el
			logf("autoscale: all %d tasks completed after %s", tasks, el.Round(time.Second))
		}
		if done != 0 && len(ns) == 0 && smp.Current == 0 && agents == 0 {
			empty = el
			logf("autoscale: pool back to 0 nodes after %s", el.Round(time.Second))
		}
		if len(timeline)%10 == 0 {
			logf("autoscale: t=%3.0fs target=%d current=%d nodes=%v tasks active/running/completed=%d/%d/%d agents=%d (%.0f MB) server=%.0f MB",
				smp.T, smp.Target, smp.Current, smp.States, smp.Active, smp.Running, smp.Completed, agents, agentsMB, smp.ServerMB)
		}
	}
	all, err := c.ListTasks(ctx, "scaleout", "")
	if err != nil {
		return err
	}
	var waits []float64
	failed := 0
	for _, t := range all {
		if t.ExecutionInfo == nil || t.ExecutionInfo.StartTime == nil || t.CreationTime == nil {
			continue
		}
		if t.ExecutionInfo.Result != api.ResultSuccess {
			failed++
		}
		waits = append(waits, t.ExecutionInfo.StartTime.Sub(*t.CreationTime).Seconds())
	}
	if len(waits) != tasks || failed > 0 {
		return fmt.Errorf("autoscale: %d of %d tasks ran, %d failed", len(waits), tasks, failed)
	}
	slices.Sort(waits)
	serverPeak := peakMB(s.Pid())
	set := fmt.Sprintf("%d tasks, ≤%d nodes", tasks, nodes)
	add := func(client, unit string, v float64) {
		res.add(Measure{Group: "autoscale", Set: set, Client: client, Unit: unit}, v)
	}
	add("pending→running p50", "s", pct(waits, 50))
	add("pending→running p95", "s", pct(waits, 95))
	add("pending→running max", "s", waits[len(waits)-1])
	if full > 0 {
		add(fmt.Sprintf("time to %d nodes up", nodes), "s", full.Seconds())
	}
	add("most nodes (currentDedicatedNodes)", "nodes", float64(maxCurrent))
	add("all tasks completed", "s", done.Seconds())
	add("back to 0 nodes after the work", "s", (empty - done).Seconds())
	add("server RSS peak", "MB", serverPeak)
	add("agents' total RSS peak", "MB", peakAgents)
	data, _ := json.MarshalIndent(timeline, "", " ")
	tl := filepath.Join(filepath.Dir(cfg.out), "autoscale-timeline.json")
	if err := os.WriteFile(tl, data, 0o644); err != nil {
		return err
	}
	logf("autoscale: timeline in %s", tl)
	return nil
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// pct is the p-th percentile of sorted v (nearest rank).
func pct(v []float64, p float64) float64 {
	i := int(float64(len(v))*p/100+0.5) - 1
	return v[max(0, min(i, len(v)-1))]
}

// childrenRSS counts the direct children of pid (the process provider's
// agents) and sums their resident memory in MB.
func childrenRSS(pid int) (int, float64) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	n, mb := 0, 0.0
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces) in parentheses.
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		n++
		mb += rssMB(child)
	}
	return n, mb
}
