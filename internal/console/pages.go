package console

import (
	"cmp"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// Bounds of what one page reads, so a page costs the same whatever the
// account holds: listings are read one store page at a time (keyset
// paging by insertion order), never whole.
const (
	// maxPools and maxJobs are the most pools and jobs a list page shows
	// (the rest through "next").
	maxPools = 50
	maxJobs  = 50
	// defaultTasks is a job page's task page size; taskPageSizes are the
	// sizes a person may pick.
	defaultTasks = 100
	// maxTokenLen bounds a continuation token taken from a URL.
	maxTokenLen = 128
	// maxHeatNodes is the most nodes a pool's heat map draws.
	maxHeatNodes = 2000
)

var taskPageSizes = []int{25, 50, 100, 250, 500}

// nodeStates are the node states in the heat map's legend order.
var nodeStates = []api.NodeState{api.NodeRunning, api.NodeIdle, api.NodeCreating, api.NodeStarting,
	api.NodeWaitingForStartTask, api.NodeRebooting, api.NodeReimaging, api.NodeLeavingPool, api.NodeDeallocating,
	api.NodeDeallocated, api.NodeOffline, api.NodeStartTaskFailed, api.NodeUnusable, api.NodeUnknown}

// stateCount is one state's count, for legends and summaries.
type stateCount struct {
	State string
	Count int
}

// poolView is one pool with its nodes.
type poolView struct {
	Pool   *api.Pool
	Nodes  []*api.ComputeNode
	Counts []stateCount
	// SlotsUsed and Slots are the task slots in use and in total.
	SlotsUsed, Slots int32
	// Truncated is true when the pool has more nodes than the heat map draws.
	Truncated bool
}

func (c *Console) poolView(r *http.Request, p *api.Pool) (poolView, error) {
	v := poolView{Pool: p}
	nodes, err := c.cfg.Service.ListNodes(r.Context(), p.ID)
	if err != nil {
		return v, err
	}
	slices.SortFunc(nodes, func(a, b service.NodeView) int { return cmp.Compare(a.Node.ID, b.Node.ID) })
	if len(nodes) > maxHeatNodes {
		nodes, v.Truncated = nodes[:maxHeatNodes], true
	}
	per := int32(1)
	if p.TaskSlotsPerNode != nil {
		per = *p.TaskSlotsPerNode
	}
	counts := map[api.NodeState]int{}
	for _, n := range nodes {
		v.Nodes = append(v.Nodes, n.Node)
		counts[n.Node.State]++
		v.SlotsUsed += n.Node.RunningTaskSlotsCount
		v.Slots += per
	}
	for _, s := range nodeStates {
		if counts[s] > 0 {
			v.Counts = append(v.Counts, stateCount{string(s), counts[s]})
		}
	}
	return v, nil
}

// jobView is one job with its task counts.
type jobView struct {
	Job    *api.Job
	Counts api.TaskCounts
	Total  int32
}

func (c *Console) jobView(r *http.Request, j *api.Job) (jobView, error) {
	tc, err := c.cfg.Service.TaskCounts(r.Context(), j.ID)
	if err != nil {
		return jobView{}, err
	}
	n := tc.TaskCounts
	return jobView{Job: j, Counts: n, Total: n.Active + n.Running + n.Completed}, nil
}

type listView[T any] struct {
	Items []T
	Next  string
}

type overviewView struct {
	Pools listView[poolView]
	Jobs  listView[jobView]
}

func (c *Console) listPools(r *http.Request, token string) (listView[poolView], error) {
	var v listView[poolView]
	pools, next, err := c.cfg.Service.ListPools(r.Context(), store.Page{Token: token, Max: maxPools})
	if err != nil {
		return v, err
	}
	for _, p := range pools {
		pv, err := c.poolView(r, p)
		if err != nil {
			return v, err
		}
		v.Items = append(v.Items, pv)
	}
	v.Next = next
	return v, nil
}

func (c *Console) listJobs(r *http.Request, token string) (listView[jobView], error) {
	var v listView[jobView]
	jobs, next, err := c.cfg.Service.ListJobs(r.Context(), store.Page{Token: token, Max: maxJobs})
	if err != nil {
		return v, err
	}
	for _, j := range jobs {
		jv, err := c.jobView(r, j)
		if err != nil {
			return v, err
		}
		v.Items = append(v.Items, jv)
	}
	v.Next = next
	return v, nil
}

// token reads a continuation token from the query, bounded.
func token(r *http.Request) string {
	t := r.URL.Query().Get("page")
	if len(t) > maxTokenLen {
		return ""
	}
	return t
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	pools, err := c.listPools(r, "")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	jobs, err := c.listJobs(r, "")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "overview", "Overview", overviewView{Pools: pools, Jobs: jobs})
}

func (c *Console) poolsPage(w http.ResponseWriter, r *http.Request) {
	pools, err := c.listPools(r, token(r))
	if err != nil {
		c.fail(w, r, pageErr(err))
		return
	}
	c.render(w, r, http.StatusOK, "pools", "Pools", pools)
}

func (c *Console) poolPage(w http.ResponseWriter, r *http.Request) {
	p, err := c.cfg.Service.GetPool(r.Context(), r.PathValue("pool"), noConditions)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v, err := c.poolView(r, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "pool", "Pool "+p.ID, v)
}

func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request) {
	jobs, err := c.listJobs(r, token(r))
	if err != nil {
		c.fail(w, r, pageErr(err))
		return
	}
	c.render(w, r, http.StatusOK, "jobs", "Jobs", jobs)
}

// taskFilter is a job page's task selection, from its query string.
type taskFilter struct {
	State, Result, ExitCode, Sort string
	Size                          int
	Page                          string
	Sizes                         []int
}

// Query returns the filter as a query string, with page replaced. Each
// value is query-escaped, so the result is safe as a URL's query.
func (f taskFilter) Query(page string) template.URL {
	q := make([]string, 0, 6)
	add := func(k, v string) {
		if v != "" {
			q = append(q, k+"="+urlQueryEscape(v))
		}
	}
	add("state", f.State)
	add("result", f.Result)
	add("exitCode", f.ExitCode)
	add("sort", f.Sort)
	if f.Size != defaultTasks {
		add("size", strconv.Itoa(f.Size))
	}
	add("page", page)
	return template.URL(strings.Join(q, "&"))
}

// parseTaskFilter reads and bounds the filter; unknown values are dropped
// rather than refused (a person edited the URL), and the page says what
// it shows.
func parseTaskFilter(r *http.Request) (taskFilter, store.Page) {
	q := r.URL.Query()
	f := taskFilter{Size: defaultTasks, Page: token(r), Sizes: taskPageSizes}
	if s := api.TaskState(q.Get("state")); s.Valid() {
		f.State = string(s)
	}
	switch q.Get("result") {
	case string(api.ResultSuccess), string(api.ResultFailure):
		f.Result = q.Get("result")
	}
	var code int64
	hasCode := false
	if v := strings.TrimSpace(q.Get("exitCode")); v != "" && len(v) <= 12 {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			f.ExitCode, code, hasCode = v, n, true
		}
	}
	switch q.Get("sort") {
	case "id", "start", "end", "state", "exit":
		f.Sort = q.Get("sort")
	}
	if n, err := strconv.Atoi(q.Get("size")); err == nil && slices.Contains(taskPageSizes, n) {
		f.Size = n
	}
	pg := store.Page{Token: f.Page, Max: f.Size, State: f.State}
	// A result or exit code exists only once a task completed: the state
	// goes down to the store's index, the rest is matched per row.
	if (f.Result != "" || hasCode) && pg.State == "" {
		pg.State = string(api.TaskCompleted)
	}
	if f.Result != "" || hasCode {
		result := api.TaskExecutionResult(f.Result)
		pg.Match = func(v any) bool {
			t := v.(*api.Task)
			ei := t.ExecutionInfo
			if ei == nil {
				return false
			}
			if result != "" && ei.Result != result {
				return false
			}
			return !hasCode || (ei.ExitCode != nil && int64(*ei.ExitCode) == code)
		}
	}
	return f, pg
}

type jobPageView struct {
	jobView
	Filter taskFilter
	Tasks  []*api.Task
	Next   string
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request) {
	j, err := c.cfg.Service.GetJob(r.Context(), r.PathValue("job"), noConditions)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	jv, err := c.jobView(r, j)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f, pg := parseTaskFilter(r)
	tasks, next, err := c.cfg.Service.ListTasks(r.Context(), j.ID, pg)
	if err != nil {
		c.fail(w, r, pageErr(err))
		return
	}
	sortTasks(tasks, f.Sort)
	c.render(w, r, http.StatusOK, "job", "Job "+j.ID, jobPageView{jobView: jv, Filter: f, Tasks: tasks, Next: next})
}

// sortTasks orders one page of tasks. Pages themselves follow the order
// the tasks were added (the store's keyset paging, which stays fast at any
// size); a sort orders the rows of the page shown.
func sortTasks(tasks []*api.Task, by string) {
	timeOf := func(t *api.Task, end bool) int64 {
		ei := t.ExecutionInfo
		if ei == nil {
			return 0
		}
		tp := ei.StartTime
		if end {
			tp = ei.EndTime
		}
		if tp == nil {
			return 0
		}
		return tp.UnixNano()
	}
	var f func(a, b *api.Task) int
	switch by {
	case "id":
		f = func(a, b *api.Task) int { return cmp.Compare(a.ID, b.ID) }
	case "start":
		f = func(a, b *api.Task) int { return cmp.Compare(timeOf(b, false), timeOf(a, false)) }
	case "end":
		f = func(a, b *api.Task) int { return cmp.Compare(timeOf(b, true), timeOf(a, true)) }
	case "state":
		f = func(a, b *api.Task) int { return cmp.Compare(a.State, b.State) }
	case "exit":
		f = func(a, b *api.Task) int { return cmp.Compare(a.ExitCode(), b.ExitCode()) }
	default:
		return
	}
	slices.SortStableFunc(tasks, f)
}
