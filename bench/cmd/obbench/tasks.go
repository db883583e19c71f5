package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// benchTasks runs N trivial tasks through openbatch dev (2 nodes × 4 slots)
// and through a bare loop of 8 goroutines exec'ing the same command,
// interleaved, and reports tasks per second.
func benchTasks(ctx context.Context, cfg *config, res *Results) error {
	dev, err := startDev(ctx, cfg.openbatch, filepath.Join(cfg.work, "dev-tasks"))
	if err != nil {
		return err
	}
	defer dev.Close()
	if _, err := dev.addPool(ctx, "tasks", 2, 4); err != nil {
		return err
	}
	n := cfg.tasks
	set := fmt.Sprintf("%d × /bin/true, 8 slots: throughput", n)
	bare := func() (time.Duration, error) { return bareExec(ctx, n, "") }
	ob := func(round int) (time.Duration, error) {
		job := fmt.Sprintf("tasks-r%d", round)
		if err := dev.C.AddJob(ctx, &api.Job{ID: job, PoolInfo: &api.PoolInformation{PoolID: "tasks"}}); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := addTasks(ctx, dev.C, job, 0, n, 4); err != nil {
			return 0, err
		}
		for {
			c, err := dev.C.TaskCounts(ctx, job)
			if err != nil {
				return 0, err
			}
			if int(c.TaskCounts.Completed) == n {
				el := time.Since(start)
				if int(c.TaskCounts.Succeeded) != n {
					return el, fmt.Errorf("%d of %d tasks succeeded", c.TaskCounts.Succeeded, n)
				}
				_, _ = dev.C.Do(ctx, http.MethodDelete, "/jobs/"+job, nil, nil)
				return el, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for round := range cfg.runs {
		for i := range 2 {
			if (round+i)%2 == 0 {
				el, err := bare()
				if err != nil {
					return err
				}
				res.add(Measure{Group: "tasks", Set: set, Client: "bare-exec", Unit: "tasks/s"}, float64(n)/el.Seconds())
				logf("round %d tasks bare-exec %d in %.2fs (%.0f/s)", round+1, n, el.Seconds(), float64(n)/el.Seconds())
			} else {
				el, err := ob(round)
				if err != nil {
					return err
				}
				res.add(Measure{Group: "tasks", Set: set, Client: "openbatch", Unit: "tasks/s"}, float64(n)/el.Seconds())
				logf("round %d tasks openbatch %d in %.2fs (%.0f/s)", round+1, n, el.Seconds(), float64(n)/el.Seconds())
			}
		}
	}
	return nil
}

// addTasks adds tasks [from, to) to job in addtaskcollection calls of 100,
// with par calls at once.
func addTasks(ctx context.Context, c *client.Client, job string, from, to, par int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for b := from; b < to; b += 100 {
		g.Go(func() error { _, err := addBatch(gctx, c, job, b, min(b+100, to)); return err })
	}
	return g.Wait()
}

func addBatch(ctx context.Context, c *client.Client, job string, from, to int) (time.Duration, error) {
	ts := make([]*api.Task, 0, to-from)
	for i := from; i < to; i++ {
		ts = append(ts, &api.Task{ID: fmt.Sprintf("t%07d", i), CommandLine: "/bin/true"})
	}
	start := time.Now()
	r, err := c.AddTasks(ctx, job, ts)
	el := time.Since(start)
	if err != nil {
		return el, err
	}
	for _, v := range r.Value {
		if v.Error != nil {
			return el, fmt.Errorf("add %s: %s", v.TaskID, v.Error.Code)
		}
	}
	return el, nil
}

// benchLatency fills one job of a pool without nodes (so every task stays
// active) and measures task add and list latency at the sizes of
// -latency-at, and the server's memory at the largest.
func benchLatency(ctx context.Context, cfg *config, res *Results) error {
	dev, err := startDev(ctx, cfg.openbatch, filepath.Join(cfg.work, "dev-latency"))
	if err != nil {
		return err
	}
	defer dev.Close()
	if _, err := dev.addPool(ctx, "idle", 0, 1); err != nil {
		return err
	}
	if err := dev.C.AddJob(ctx, &api.Job{ID: "lat", PoolInfo: &api.PoolInformation{PoolID: "idle"}}); err != nil {
		return err
	}
	have := 0
	fillStart := time.Now()
	for _, at := range cfg.latencyAt {
		window := min(20, at/100/2) * 100 // the last calls before the milestone are measured
		label := fmt.Sprintf("%dk", at/1000)
		if have < at-window {
			if err := addTasks(ctx, dev.C, "lat", have, at-window, 1); err != nil {
				return err
			}
			have = at - window
		}
		for have < at {
			el, err := addBatch(ctx, dev.C, "lat", have, min(have+100, at))
			if err != nil {
				return err
			}
			have = min(have+100, at)
			res.add(Measure{Group: "latency", Set: "add 100 tasks (addtaskcollection) at " + label, Client: "openbatch", Unit: "ms"}, ms(el))
		}
		logf("latency: job holds %d tasks (fill %.0f tasks/s)", have, float64(have)/time.Since(fillStart).Seconds())
		for range cfg.runs {
			t := time.Now()
			if _, err := dev.C.Do(ctx, http.MethodGet, "/jobs/lat/tasks?maxresults=1000", nil, nil); err != nil {
				return err
			}
			res.add(Measure{Group: "latency", Set: "list first page (1,000 tasks) at " + label, Client: "openbatch", Unit: "ms"}, ms(time.Since(t)))
			t = time.Now()
			all, err := dev.C.ListTasks(ctx, "lat", "")
			if err != nil {
				return err
			}
			if len(all) != at {
				return fmt.Errorf("listed %d tasks, want %d", len(all), at)
			}
			res.add(Measure{Group: "latency", Set: fmt.Sprintf("list all %s tasks (pages of 1,000)", label), Client: "openbatch", Unit: "ms"}, ms(time.Since(t)))
			t = time.Now()
			if _, err := dev.C.Do(ctx, http.MethodGet, "/jobs/lat/tasks?$filter=state%20eq%20'completed'&$select=id", nil, nil); err != nil {
				return err
			}
			res.add(Measure{Group: "latency", Set: "list $filter=state eq 'completed' (0 match) at " + label, Client: "openbatch", Unit: "ms"}, ms(time.Since(t)))
			t = time.Now()
			if _, err := dev.C.TaskCounts(ctx, "lat"); err != nil {
				return err
			}
			res.add(Measure{Group: "latency", Set: "taskcounts at " + label, Client: "openbatch", Unit: "ms"}, ms(time.Since(t)))
		}
	}
	last := fmt.Sprintf("%dk", cfg.latencyAt[len(cfg.latencyAt)-1]/1000)
	res.add(Measure{Group: "memory", Set: "server RSS holding " + last + " tasks (after listing)", Client: "openbatch", Unit: "MB"}, rssMB(dev.Pid()))
	res.add(Measure{Group: "memory", Set: "server peak RSS (VmHWM) filling and listing " + last + " tasks", Client: "openbatch", Unit: "MB"}, peakMB(dev.Pid()))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
