package metrics

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Bounds on what one scrape reads from the store, so that a scrape costs
// the same at 10 jobs and at 100k tasks: task counts come from the store's
// per-job counters, not from listing tasks.
const (
	// MaxScannedJobs is how many active jobs a scrape sums into the
	// per-pool task gauges (the first page of active jobs).
	MaxScannedJobs = 1000
	// MaxJobSeries is how many active jobs, the most recently created, get
	// their own openbatch_job_tasks series.
	MaxJobSeries = 20
	// MaxScannedPools is how many pools a scrape counts nodes of.
	MaxScannedPools = 1000
	// collectTimeout bounds the store reads of one scrape.
	collectTimeout = 5 * time.Second
)

var (
	poolTasksDesc = prometheus.NewDesc(Namespace+"_pool_tasks",
		"Tasks of the pool's active jobs by state (active includes preparing; completed tasks split into succeeded and failed).",
		[]string{"pool", "state"}, nil)
	jobTasksDesc = prometheus.NewDesc(Namespace+"_job_tasks",
		"Tasks by state of the most recently created active jobs (at most 20 jobs).",
		[]string{"job", "pool", "state"}, nil)
	nodesDesc = prometheus.NewDesc(Namespace+"_nodes",
		"Compute nodes by pool and state.", []string{"pool", "state"}, nil)
	activeJobsDesc = prometheus.NewDesc(Namespace+"_active_jobs",
		"Active jobs by pool (counted up to 1000).", []string{"pool"}, nil)
	collectOKDesc = prometheus.NewDesc(Namespace+"_state_collect_success",
		"1 if this scrape read the task and node counts from the store, 0 if the store failed (see the server log).", nil, nil)
)

// WatchState registers a collector that reads task and node counts from st
// at scrape time (bounded by MaxScannedJobs, MaxJobSeries and
// MaxScannedPools).
func (m *Metrics) WatchState(st store.Store, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	m.reg.MustRegister(&stateCollector{st: st, log: log})
}

type stateCollector struct {
	st  store.Store
	log *slog.Logger
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolTasksDesc, jobTasksDesc, nodesDesc, activeJobsDesc, collectOKDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	ok := 1.0
	if err := c.collectTasks(ctx, ch); err != nil {
		c.log.Warn("metrics: read task counts", "err", err)
		ok = 0
	}
	if err := c.collectNodes(ctx, ch); err != nil {
		c.log.Warn("metrics: read node counts", "err", err)
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(collectOKDesc, prometheus.GaugeValue, ok)
}

// taskStates are the states of the task gauges, read from api.TaskCounts.
var taskStates = []string{"active", "running", "succeeded", "failed"}

func countsOf(tc api.TaskCounts) []float64 {
	return []float64{float64(tc.Active), float64(tc.Running), float64(tc.Succeeded), float64(tc.Failed)}
}

func (c *stateCollector) collectTasks(ctx context.Context, ch chan<- prometheus.Metric) error {
	jobs, _, err := c.st.ListJobs(ctx, store.Page{Max: MaxScannedJobs, State: string(api.JobActive)})
	if err != nil {
		return err
	}
	// Newest first, so the per-job series are the jobs people watch now.
	slices.SortStableFunc(jobs, func(a, b *api.Job) int { return cmp.Compare(created(b), created(a)) })
	pools := map[string][]float64{}
	jobsPerPool := map[string]int{}
	for i, j := range jobs {
		counts, err := c.st.TaskStateCounts(ctx, j.ID)
		if err != nil {
			return err
		}
		pool := ""
		if j.PoolInfo != nil {
			pool = j.PoolInfo.PoolID
		}
		vals := countsOf(counts.TaskCounts)
		sum := pools[pool]
		if sum == nil {
			sum = make([]float64, len(taskStates))
			pools[pool] = sum
		}
		for k, v := range vals {
			sum[k] += v
		}
		jobsPerPool[pool]++
		if i < MaxJobSeries {
			for k, st := range taskStates {
				ch <- prometheus.MustNewConstMetric(jobTasksDesc, prometheus.GaugeValue, vals[k], j.ID, pool, st)
			}
		}
	}
	for pool, sum := range pools {
		for k, st := range taskStates {
			ch <- prometheus.MustNewConstMetric(poolTasksDesc, prometheus.GaugeValue, sum[k], pool, st)
		}
		ch <- prometheus.MustNewConstMetric(activeJobsDesc, prometheus.GaugeValue, float64(jobsPerPool[pool]), pool)
	}
	return nil
}

func created(j *api.Job) int64 {
	if j.CreationTime == nil {
		return 0
	}
	return j.CreationTime.UnixNano()
}

func (c *stateCollector) collectNodes(ctx context.Context, ch chan<- prometheus.Metric) error {
	pools, _, err := c.st.ListPools(ctx, store.Page{Max: MaxScannedPools})
	if err != nil {
		return err
	}
	for _, p := range pools {
		nodes, err := c.st.ListNodes(ctx, p.ID)
		if err != nil {
			return err
		}
		byState := map[api.NodeState]int{}
		for _, n := range nodes {
			if n.Node != nil {
				byState[n.Node.State]++
			}
		}
		for st, n := range byState {
			ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(n), p.ID, string(st))
		}
	}
	return nil
}
