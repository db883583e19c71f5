package metrics

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Store wraps a store.Store: every call's latency is recorded by method,
// and every committed task state change is counted, timed (scheduling and
// end-to-end latency, outcome by failure code) and logged at debug level.
// It works for any implementation because every task state change goes
// through CreateTasks or UpdateTask. A nil m or log disables that part.
func Store(st store.Store, m *Metrics, log *slog.Logger) store.Store {
	return &instrumented{st: st, m: m, log: log}
}

type instrumented struct {
	st  store.Store
	m   *Metrics
	log *slog.Logger
}

// observe records a call that started at start and returned err.
func (s *instrumented) observe(op string, start time.Time, err error) {
	if s.m == nil {
		return
	}
	s.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) &&
		!errors.Is(err, context.Canceled) {
		s.m.storeErrors.WithLabelValues(op).Inc()
	}
}

// taskChanged records a committed change of a task from state `from` ("" for
// a new task) to the task's current state.
func (s *instrumented) taskChanged(jobID string, from api.TaskState, t *api.Task) {
	if t == nil || from == t.State {
		return
	}
	if s.log != nil {
		s.log.Debug("task state", "job", jobID, "task", t.ID, "from", string(from), "to", string(t.State))
	}
	s.m.TaskChanged(from, t)
}

// TaskChanged records a task's change from state from ("" when it was
// created) to t.State: the transition count, the scheduling latency when
// it leaves active for a node, and on completion its end-to-end latency and
// outcome.
func (m *Metrics) TaskChanged(from api.TaskState, t *api.Task) {
	if m == nil || t == nil || from == t.State {
		return
	}
	fromLabel := string(from)
	if fromLabel == "" {
		fromLabel = "none"
	}
	m.transitions.WithLabelValues(fromLabel, string(t.State)).Inc()
	entered := t.StateTransitionTime
	switch {
	case from == api.TaskActive && (t.State == api.TaskPreparing || t.State == api.TaskRunning):
		if entered != nil && t.PreviousStateTransitionTime != nil {
			m.schedLatency.Observe(nonNegative(entered.Sub(*t.PreviousStateTransitionTime)))
		}
	case t.State == api.TaskCompleted:
		if entered != nil && t.CreationTime != nil {
			m.endToEnd.Observe(nonNegative(entered.Sub(*t.CreationTime)))
		}
		result, code := string(api.ResultSuccess), ""
		if ei := t.ExecutionInfo; ei != nil {
			if ei.Result != "" {
				result = string(ei.Result)
			}
			if ei.FailureInfo != nil {
				code = labelValue(ei.FailureInfo.Code)
				result = string(api.ResultFailure)
			}
		}
		m.outcomes.WithLabelValues(result, code).Inc()
	}
}

func nonNegative(d time.Duration) float64 { return max(d.Seconds(), 0) }

// labelValue bounds a label value that comes from a report: Batch codes are
// short identifiers; anything else is recorded as "Other" so that a faulty
// agent cannot create unbounded series.
func labelValue(code string) string {
	if code == "" || len(code) > 64 {
		return otherLabel(code)
	}
	for _, c := range code {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "Other"
		}
	}
	return code
}

func otherLabel(code string) string {
	if code == "" {
		return ""
	}
	return "Other"
}

// CreatePool implements store.Store.
func (s *instrumented) CreatePool(ctx context.Context, p *api.Pool) error {
	start := time.Now()
	err := s.st.CreatePool(ctx, p)
	s.observe("CreatePool", start, err)
	return err
}

// GetPool implements store.Store.
func (s *instrumented) GetPool(ctx context.Context, id string) (*api.Pool, error) {
	start := time.Now()
	r0, err := s.st.GetPool(ctx, id)
	s.observe("GetPool", start, err)
	return r0, err
}

// ListPools implements store.Store.
func (s *instrumented) ListPools(ctx context.Context, pg store.Page) ([]*api.Pool, string, error) {
	start := time.Now()
	r0, r1, err := s.st.ListPools(ctx, pg)
	s.observe("ListPools", start, err)
	return r0, r1, err
}

// UpdatePool implements store.Store.
func (s *instrumented) UpdatePool(ctx context.Context, id string, fn func(*api.Pool) error) (*api.Pool, error) {
	start := time.Now()
	r0, err := s.st.UpdatePool(ctx, id, fn)
	s.observe("UpdatePool", start, err)
	return r0, err
}

// DeletePool implements store.Store.
func (s *instrumented) DeletePool(ctx context.Context, id string) error {
	start := time.Now()
	err := s.st.DeletePool(ctx, id)
	s.observe("DeletePool", start, err)
	return err
}

// AddAutoScaleSample implements store.Store.
func (s *instrumented) AddAutoScaleSample(ctx context.Context, poolID string, sm store.AutoScaleSample, keepAfter time.Time) error {
	start := time.Now()
	err := s.st.AddAutoScaleSample(ctx, poolID, sm, keepAfter)
	s.observe("AddAutoScaleSample", start, err)
	return err
}

// AutoScaleSamples implements store.Store.
func (s *instrumented) AutoScaleSamples(ctx context.Context, poolID string, since time.Time) ([]store.AutoScaleSample, error) {
	start := time.Now()
	r0, err := s.st.AutoScaleSamples(ctx, poolID, since)
	s.observe("AutoScaleSamples", start, err)
	return r0, err
}

// CreateJob implements store.Store.
func (s *instrumented) CreateJob(ctx context.Context, j *api.Job) error {
	start := time.Now()
	err := s.st.CreateJob(ctx, j)
	s.observe("CreateJob", start, err)
	return err
}

// GetJob implements store.Store.
func (s *instrumented) GetJob(ctx context.Context, id string) (*api.Job, error) {
	start := time.Now()
	r0, err := s.st.GetJob(ctx, id)
	s.observe("GetJob", start, err)
	return r0, err
}

// ListJobs implements store.Store.
func (s *instrumented) ListJobs(ctx context.Context, pg store.Page) ([]*api.Job, string, error) {
	start := time.Now()
	r0, r1, err := s.st.ListJobs(ctx, pg)
	s.observe("ListJobs", start, err)
	return r0, r1, err
}

// UpdateJob implements store.Store.
func (s *instrumented) UpdateJob(ctx context.Context, id string, fn func(*api.Job) error) (*api.Job, error) {
	start := time.Now()
	r0, err := s.st.UpdateJob(ctx, id, fn)
	s.observe("UpdateJob", start, err)
	return r0, err
}

// DeleteJob implements store.Store.
func (s *instrumented) DeleteJob(ctx context.Context, id string) error {
	start := time.Now()
	err := s.st.DeleteJob(ctx, id)
	s.observe("DeleteJob", start, err)
	return err
}

// GetTask implements store.Store.
func (s *instrumented) GetTask(ctx context.Context, jobID, taskID string) (*store.TaskRow, error) {
	start := time.Now()
	r0, err := s.st.GetTask(ctx, jobID, taskID)
	s.observe("GetTask", start, err)
	return r0, err
}

// ListTasks implements store.Store.
func (s *instrumented) ListTasks(ctx context.Context, jobID string, pg store.Page) ([]*store.TaskRow, string, error) {
	start := time.Now()
	r0, r1, err := s.st.ListTasks(ctx, jobID, pg)
	s.observe("ListTasks", start, err)
	return r0, r1, err
}

// DeleteTask implements store.Store.
func (s *instrumented) DeleteTask(ctx context.Context, jobID, taskID string) error {
	start := time.Now()
	err := s.st.DeleteTask(ctx, jobID, taskID)
	s.observe("DeleteTask", start, err)
	return err
}

// DeleteJobTasks implements store.Store.
func (s *instrumented) DeleteJobTasks(ctx context.Context, jobID string) error {
	start := time.Now()
	err := s.st.DeleteJobTasks(ctx, jobID)
	s.observe("DeleteJobTasks", start, err)
	return err
}

// TaskStateCounts implements store.Store.
func (s *instrumented) TaskStateCounts(ctx context.Context, jobID string) (api.TaskCountsResult, error) {
	start := time.Now()
	r0, err := s.st.TaskStateCounts(ctx, jobID)
	s.observe("TaskStateCounts", start, err)
	return r0, err
}

// RunnableTasks implements store.Store.
func (s *instrumented) RunnableTasks(ctx context.Context, poolID string, max int) ([]store.Candidate, error) {
	start := time.Now()
	r0, err := s.st.RunnableTasks(ctx, poolID, max)
	s.observe("RunnableTasks", start, err)
	return r0, err
}

// TaskState implements store.Store.
func (s *instrumented) TaskState(ctx context.Context, jobID, taskID string) (api.TaskState, error) {
	start := time.Now()
	r0, err := s.st.TaskState(ctx, jobID, taskID)
	s.observe("TaskState", start, err)
	return r0, err
}

// WaitingTasks implements store.Store.
func (s *instrumented) WaitingTasks(ctx context.Context, jobID string) ([]*store.TaskRow, error) {
	start := time.Now()
	r0, err := s.st.WaitingTasks(ctx, jobID)
	s.observe("WaitingTasks", start, err)
	return r0, err
}

// LeasesOnNode implements store.Store.
func (s *instrumented) LeasesOnNode(ctx context.Context, nodeID string) ([]store.Lease, error) {
	start := time.Now()
	r0, err := s.st.LeasesOnNode(ctx, nodeID)
	s.observe("LeasesOnNode", start, err)
	return r0, err
}

// NodeHistory implements store.Store.
func (s *instrumented) NodeHistory(ctx context.Context, nodeID string, max int) (store.NodeHistory, error) {
	start := time.Now()
	r0, err := s.st.NodeHistory(ctx, nodeID, max)
	s.observe("NodeHistory", start, err)
	return r0, err
}

// NodeLoads implements store.Store.
func (s *instrumented) NodeLoads(ctx context.Context, nodeIDs []string) (map[string]store.NodeLoad, error) {
	start := time.Now()
	r0, err := s.st.NodeLoads(ctx, nodeIDs)
	s.observe("NodeLoads", start, err)
	return r0, err
}

// TasksOnNode implements store.Store.
func (s *instrumented) TasksOnNode(ctx context.Context, nodeID string) ([]*store.TaskRow, error) {
	start := time.Now()
	r0, err := s.st.TasksOnNode(ctx, nodeID)
	s.observe("TasksOnNode", start, err)
	return r0, err
}

// UpdatePrepRelease implements store.Store.
func (s *instrumented) UpdatePrepRelease(ctx context.Context, jobID, nodeID string, fn func(*api.JobPreparationAndReleaseTaskExecutionInformation) error) error {
	start := time.Now()
	err := s.st.UpdatePrepRelease(ctx, jobID, nodeID, fn)
	s.observe("UpdatePrepRelease", start, err)
	return err
}

// PendingReleases implements store.Store.
func (s *instrumented) PendingReleases(ctx context.Context, nodeID string) ([]*api.Job, error) {
	start := time.Now()
	r0, err := s.st.PendingReleases(ctx, nodeID)
	s.observe("PendingReleases", start, err)
	return r0, err
}

// PrepReleaseStatus implements store.Store.
func (s *instrumented) PrepReleaseStatus(ctx context.Context, jobID string) ([]api.JobPreparationAndReleaseTaskExecutionInformation, error) {
	start := time.Now()
	r0, err := s.st.PrepReleaseStatus(ctx, jobID)
	s.observe("PrepReleaseStatus", start, err)
	return r0, err
}

// PutNode implements store.Store.
func (s *instrumented) PutNode(ctx context.Context, n *store.Node) error {
	start := time.Now()
	err := s.st.PutNode(ctx, n)
	s.observe("PutNode", start, err)
	return err
}

// RegisterNode implements store.Store.
func (s *instrumented) RegisterNode(ctx context.Context, poolID, nodeID string, fn func(*api.Pool, *store.Node) (*store.Node, error)) (*store.Node, error) {
	start := time.Now()
	r0, err := s.st.RegisterNode(ctx, poolID, nodeID, fn)
	s.observe("RegisterNode", start, err)
	return r0, err
}

// GetNode implements store.Store.
func (s *instrumented) GetNode(ctx context.Context, poolID, nodeID string) (*store.Node, error) {
	start := time.Now()
	r0, err := s.st.GetNode(ctx, poolID, nodeID)
	s.observe("GetNode", start, err)
	return r0, err
}

// ListNodes implements store.Store.
func (s *instrumented) ListNodes(ctx context.Context, poolID string) ([]*store.Node, error) {
	start := time.Now()
	r0, err := s.st.ListNodes(ctx, poolID)
	s.observe("ListNodes", start, err)
	return r0, err
}

// UpdatePoolNodes implements store.Store.
func (s *instrumented) UpdatePoolNodes(ctx context.Context, poolID string, nodeIDs []string, nodeFn func(*store.Node) error, poolFn func(*api.Pool) error) (*api.Pool, error) {
	start := time.Now()
	r0, err := s.st.UpdatePoolNodes(ctx, poolID, nodeIDs, nodeFn, poolFn)
	s.observe("UpdatePoolNodes", start, err)
	return r0, err
}

// UpdatePoolWithNodes implements store.Store.
func (s *instrumented) UpdatePoolWithNodes(ctx context.Context, poolID string, fn func(*api.Pool, []*store.Node) error) (*api.Pool, error) {
	start := time.Now()
	r0, err := s.st.UpdatePoolWithNodes(ctx, poolID, fn)
	s.observe("UpdatePoolWithNodes", start, err)
	return r0, err
}

// UpdateNode implements store.Store.
func (s *instrumented) UpdateNode(ctx context.Context, poolID, nodeID string, fn func(*store.Node) error) (*store.Node, error) {
	start := time.Now()
	r0, err := s.st.UpdateNode(ctx, poolID, nodeID, fn)
	s.observe("UpdateNode", start, err)
	return r0, err
}

// DeleteNode implements store.Store.
func (s *instrumented) DeleteNode(ctx context.Context, poolID, nodeID string) error {
	start := time.Now()
	err := s.st.DeleteNode(ctx, poolID, nodeID)
	s.observe("DeleteNode", start, err)
	return err
}

// CreateTasks implements store.Store; each task created counts as a
// transition from none to its state.
func (s *instrumented) CreateTasks(ctx context.Context, jobID string, tasks []*api.Task) ([]error, error) {
	start := time.Now()
	errs, err := s.st.CreateTasks(ctx, jobID, tasks)
	s.observe("CreateTasks", start, err)
	if err == nil {
		for i, t := range tasks {
			if i < len(errs) && errs[i] == nil {
				s.taskChanged(jobID, "", t)
			}
		}
	}
	return errs, err
}

// UpdateTask implements store.Store; a committed change of state is
// recorded (the state fn saw last is the one the commit replaced).
func (s *instrumented) UpdateTask(ctx context.Context, jobID, taskID string, fn func(*store.TaskRow) error) (*store.TaskRow, error) {
	start := time.Now()
	var before api.TaskState
	row, err := s.st.UpdateTask(ctx, jobID, taskID, func(r *store.TaskRow) error {
		if r.Task != nil {
			before = r.Task.State
		}
		return fn(r)
	})
	s.observe("UpdateTask", start, err)
	if err == nil && row != nil {
		s.taskChanged(jobID, before, row.Task)
	}
	return row, err
}

// Close implements store.Store.
func (s *instrumented) Close() error { return s.st.Close() }

// LeaseTasks implements store.Store: a lease is a task state change (active
// to running) like any other. LeaseTasks leases only runnable tasks, so
// every row it returns was active.
func (s *instrumented) LeaseTasks(ctx context.Context, b store.LeaseBatch, fn func(*store.TaskRow) error) ([]*store.TaskRow, int, error) {
	start := time.Now()
	rows, stale, err := s.st.LeaseTasks(ctx, b, fn)
	s.observe("LeaseTasks", start, err)
	for _, r := range rows {
		s.taskChanged(r.JobID, api.TaskActive, r.Task)
	}
	return rows, stale, err
}

// TasksByID implements store.Store.
func (s *instrumented) TasksByID(ctx context.Context, jobID string, ids []string) (map[string]*store.TaskRow, error) {
	start := time.Now()
	r, err := s.st.TasksByID(ctx, jobID, ids)
	s.observe("TasksByID", start, err)
	return r, err
}

// CreateJobSchedule implements store.Store.
func (s *instrumented) CreateJobSchedule(ctx context.Context, js *api.JobSchedule) error {
	start := time.Now()
	err := s.st.CreateJobSchedule(ctx, js)
	s.observe("CreateJobSchedule", start, err)
	return err
}

// GetJobSchedule implements store.Store.
func (s *instrumented) GetJobSchedule(ctx context.Context, id string) (*api.JobSchedule, error) {
	start := time.Now()
	js, err := s.st.GetJobSchedule(ctx, id)
	s.observe("GetJobSchedule", start, err)
	return js, err
}

// ListJobSchedules implements store.Store.
func (s *instrumented) ListJobSchedules(ctx context.Context, pg store.Page) ([]*api.JobSchedule, string, error) {
	start := time.Now()
	l, next, err := s.st.ListJobSchedules(ctx, pg)
	s.observe("ListJobSchedules", start, err)
	return l, next, err
}

// UpdateJobSchedule implements store.Store.
func (s *instrumented) UpdateJobSchedule(ctx context.Context, id string, fn func(*api.JobSchedule) error) (*api.JobSchedule, error) {
	start := time.Now()
	js, err := s.st.UpdateJobSchedule(ctx, id, fn)
	s.observe("UpdateJobSchedule", start, err)
	return js, err
}

// DeleteJobSchedule implements store.Store.
func (s *instrumented) DeleteJobSchedule(ctx context.Context, id string) error {
	start := time.Now()
	err := s.st.DeleteJobSchedule(ctx, id)
	s.observe("DeleteJobSchedule", start, err)
	return err
}

// TryLead implements store.Store.
func (s *instrumented) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.st.TryLead(ctx, name, holder, ttl)
	s.observe("TryLead", start, err)
	return ok, err
}

// Notify implements store.Store.
func (s *instrumented) Notify(ctx context.Context) error {
	start := time.Now()
	err := s.st.Notify(ctx)
	s.observe("Notify", start, err)
	return err
}

// Wakeups implements store.Store.
func (s *instrumented) Wakeups() <-chan struct{} { return s.st.Wakeups() }
