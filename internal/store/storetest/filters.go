package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/odata"
	"github.com/openbatch/openbatch/internal/store"
)

// Filter fixtures: values chosen to sit on the edges the SQL translation
// must get right (missing properties, case, bytes beyond ASCII, NUL,
// invalid UTF-8, equal and adjacent instants, negative numbers).
var (
	filterBase    = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	filterStrings = []string{"", "a", "A", "ab", "abc", "b", "Z", "ü", "üx", "a\x00b", "\xff", "\xffa", "x'y", "%_", "\u212a", "k"}
	filterInts    = []int32{-2147483648, -1, 0, 1, 2, 127, 2147483647}
	filterTimes   = []time.Time{filterBase, filterBase.Add(time.Nanosecond), filterBase.Add(-time.Nanosecond),
		filterBase.Add(time.Hour), time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}
	taskStates = []api.TaskState{api.TaskActive, api.TaskPreparing, api.TaskRunning, api.TaskCompleted}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func maybeTime(r *rand.Rand) *time.Time {
	if r.IntN(4) == 0 {
		return nil
	}
	t := pick(r, filterTimes)
	return &t
}

func maybeInt(r *rand.Rand) *int32 {
	if r.IntN(4) == 0 {
		return nil
	}
	return api.I32(pick(r, filterInts))
}

func filterTask(r *rand.Rand, i int) *api.Task {
	t := &api.Task{ID: fmt.Sprintf("t%03d%s", i, pick(r, []string{"", "a", "A", "-x", "_Y"})),
		DisplayName: pick(r, filterStrings), State: pick(r, taskStates), CreationTime: maybeTime(r),
		StateTransitionTime: maybeTime(r), RequiredSlots: maybeInt(r), CommandLine: "/bin/true"}
	if r.IntN(3) > 0 {
		t.PreviousState = pick(r, taskStates)
	}
	if r.IntN(4) > 0 {
		ei := &api.TaskExecutionInformation{StartTime: maybeTime(r), EndTime: maybeTime(r), ExitCode: maybeInt(r),
			RetryCount: pick(r, filterInts), RequeueCount: int32(r.IntN(3)),
			Result: pick(r, []api.TaskExecutionResult{"", api.ResultSuccess, api.ResultFailure})}
		if r.IntN(2) == 0 {
			ei.FailureInfo = &api.TaskFailureInformation{Category: api.ErrorCategory("usererror"), Code: pick(r, filterStrings)}
		}
		t.ExecutionInfo = ei
	}
	if r.IntN(2) == 0 {
		t.NodeInfo = &api.ComputeNodeInformation{PoolID: "p", NodeID: pick(r, filterStrings)}
	}
	return t
}

// literal returns a random literal for a property of type t, in $filter
// syntax, mostly drawn from the fixtures' values so that comparisons hit.
func literal(r *rand.Rand, t odata.Type) string {
	if r.IntN(10) == 0 {
		return "null"
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch t {
	case odata.String:
		return q(pick(r, filterStrings))
	case odata.Enum:
		v := pick(r, []string{"active", "ACTIVE", "Running", "completed", "success", "FAILURE", "preparing", "idle",
			"steady", "resizing", "deleting", "terminatejob", "noaction", "\u212aa", "", "ſucceſs"})
		return q(v)
	case odata.Int:
		return strconv.Itoa(int(pick(r, filterInts)))
	case odata.DateTime:
		return "datetime'" + pick(r, filterTimes).Format(time.RFC3339Nano) + "'"
	case odata.Bool:
		return pick(r, []string{"true", "false"})
	}
	return "null"
}

// randomFilter builds a random $filter over schema, depth levels deep.
func randomFilter(r *rand.Rand, schema odata.Schema, depth int) string {
	paths := make([]string, 0, len(schema))
	for p := range schema {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var gen func(d int) string
	gen = func(d int) string {
		if d > 0 {
			switch r.IntN(5) {
			case 0:
				return "(" + gen(d-1) + ") and (" + gen(d-1) + ")"
			case 1:
				return "(" + gen(d-1) + ") or (" + gen(d-1) + ")"
			case 2:
				return "not (" + gen(d-1) + ")"
			}
		}
		p := pick(r, paths)
		t := schema[p]
		if t == odata.String && r.IntN(4) == 0 {
			return "startswith(" + p + ",'" + strings.ReplaceAll(pick(r, filterStrings), "'", "''") + "')"
		}
		ops := []string{"eq", "ne"}
		if t == odata.String || t == odata.Int || t == odata.DateTime {
			ops = append(ops, "gt", "ge", "lt", "le")
		}
		op := pick(r, ops)
		lit := literal(r, t)
		for lit == "null" && op != "eq" && op != "ne" {
			lit = literal(r, t) // null compares with eq and ne only
		}
		return p + " " + op + " " + lit
	}
	return gen(depth)
}

// listAll pages through list with filter f, max entities a page, and
// returns the IDs listed.
func listAll(t *testing.T, f *odata.Filter, max int, list func(store.Page) ([]string, string, error)) []string {
	t.Helper()
	var ids []string
	pg := store.Page{Max: max, Filter: f}
	for {
		got, next, err := list(pg)
		if err != nil {
			t.Fatalf("list with $filter=%s: %v", f, err)
		}
		if len(got) > max {
			t.Fatalf("page of %d > max %d", len(got), max)
		}
		ids = append(ids, got...)
		if next == "" {
			return ids
		}
		pg.Token = next
	}
}

// testFiltersMatchEvaluator lists tasks, jobs and pools through the store
// with fixed and random $filters and checks that each listing is exactly
// what odata's Go evaluator selects from all the entities, in order: the
// store's SQL translation and its Go fallback must agree with it.
func testFiltersMatchEvaluator(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(10, 1))
	seedJob(t, s, "j", "p", 0)
	var tasks []*api.Task
	for i := 0; i < 160; i++ {
		tasks = append(tasks, filterTask(r, i))
	}
	if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
		t.Fatal(err)
	}
	// Rewrite a third through UpdateTask, so both write paths are covered.
	for i, tk := range tasks {
		if i%3 != 0 {
			continue
		}
		nt := filterTask(r, i)
		nt.ID = tk.ID
		if _, err := s.UpdateTask(ctx, "j", tk.ID, func(row *store.TaskRow) error { row.Task = nt; return nil }); err != nil {
			t.Fatal(err)
		}
		tasks[i] = nt
	}
	var jobs []*api.Job
	for i := 0; i < 40; i++ {
		j := &api.Job{ID: fmt.Sprintf("job%02d", i), DisplayName: pick(r, filterStrings), State: pick(r, []api.JobState{api.JobActive, api.JobCompleted}),
			CreationTime: maybeTime(r), StateTransitionTime: maybeTime(r), Priority: maybeInt(r),
			OnAllTasksComplete: pick(r, []api.OnAllTasksComplete{"", api.OnAllTasksCompleteNoAction, api.OnAllTasksCompleteTerminateJob})}
		// Pool IDs without NUL: the store keeps the pool a job runs on in
		// a text column of its own (pool_lower), which PostgreSQL cannot
		// hold NUL in.
		if r.IntN(4) > 0 {
			j.PoolInfo = &api.PoolInformation{PoolID: pick(r, filterStrings[:9])}
		}
		if r.IntN(2) == 0 {
			j.ExecutionInfo = &api.JobExecutionInformation{PoolID: pick(r, filterStrings[:9])}
		}
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	jobs = append([]*api.Job{{ID: "j", State: api.JobActive, Priority: api.I32(0), PoolInfo: &api.PoolInformation{PoolID: "p"}}}, jobs...)
	var pools []*api.Pool
	for i := 0; i < 30; i++ {
		p := &api.Pool{ID: fmt.Sprintf("pool%02d", i), DisplayName: pick(r, filterStrings), VMSize: pick(r, filterStrings),
			State: pick(r, []api.PoolState{"active", "deleting"}), AllocationState: pick(r, []api.AllocationState{"steady", "resizing"}),
			CreationTime: maybeTime(r), StateTransitionTime: maybeTime(r), CurrentDedicatedNodes: maybeInt(r), TargetDedicatedNodes: maybeInt(r)}
		if err := s.CreatePool(ctx, p); err != nil {
			t.Fatal(err)
		}
		pools = append(pools, p)
	}
	// Update half the pools, for UpdatePool's write path.
	for i, p := range pools {
		if i%2 == 0 {
			continue
		}
		np := *p
		np.VMSize, np.TargetDedicatedNodes = pick(r, filterStrings), maybeInt(r)
		if _, err := s.UpdatePool(ctx, p.ID, func(v *api.Pool) error { *v = np; return nil }); err != nil {
			t.Fatal(err)
		}
		pools[i] = &np
	}

	type kindCase struct {
		kind filterprops.Kind
		all  []any
		id   func(any) string
		list func(store.Page) ([]string, string, error)
	}
	var cases []kindCase
	cases = append(cases, kindCase{filterprops.Task, toAny(tasks), func(v any) string { return v.(*api.Task).ID },
		func(pg store.Page) ([]string, string, error) {
			rows, next, err := s.ListTasks(ctx, "j", pg)
			ids := make([]string, len(rows))
			for i, row := range rows {
				ids[i] = row.Task.ID
			}
			return ids, next, err
		}})
	cases = append(cases, kindCase{filterprops.Job, toAny(jobs), func(v any) string { return v.(*api.Job).ID },
		func(pg store.Page) ([]string, string, error) {
			list, next, err := s.ListJobs(ctx, pg)
			ids := make([]string, len(list))
			for i, j := range list {
				ids[i] = j.ID
			}
			return ids, next, err
		}})
	cases = append(cases, kindCase{filterprops.Pool, toAny(pools), func(v any) string { return v.(*api.Pool).ID },
		func(pg store.Page) ([]string, string, error) {
			list, next, err := s.ListPools(ctx, pg)
			ids := make([]string, len(list))
			for i, p := range list {
				ids[i] = p.ID
			}
			return ids, next, err
		}})

	fixed := map[filterprops.Kind][]string{
		filterprops.Task: {"state eq 'completed'", "state eq 'ACTIVE' and executionInfo/exitCode ne 0",
			"executionInfo/exitCode eq null", "not (executionInfo/exitCode gt 0)", "executionInfo/result eq 'ſucceſs'",
			"startswith(id,'t01')", "startswith(displayName,'')", "displayName ge 'a' and displayName lt 'b'",
			"creationTime gt datetime'" + filterBase.Format(time.RFC3339Nano) + "'",
			"(state eq 'running' or state eq 'preparing') and nodeInfo/nodeId ne 'a'", "commandLine eq '/bin/true'",
			"executionInfo/failureInfo/category eq 'usererror' and executionInfo/retryCount lt 0"},
		filterprops.Job:  {"state eq 'active'", "poolInfo/poolId eq 'a'", "priority ge 0", "onAllTasksComplete eq 'TERMINATEJOB'", "usesTaskDependencies eq false"},
		filterprops.Pool: {"vmSize eq 'ü'", "startswith(vmSize,'\xff')", "targetDedicatedNodes gt 0 or state eq 'deleting'", "taskSlotsPerNode eq null"},
	}
	for _, kc := range cases {
		schema := filterprops.Schemas[kc.kind]
		exprs := fixed[kc.kind]
		for i := 0; i < 150; i++ {
			exprs = append(exprs, randomFilter(r, schema, r.IntN(3)))
		}
		for _, expr := range exprs {
			f, err := odata.ParseFilter(expr, schema)
			if err != nil {
				t.Fatalf("kind %d: parse %q: %v", kc.kind, expr, err)
			}
			var want []string
			for _, v := range kc.all {
				if f.Eval(filterprops.Accessor(v)) {
					want = append(want, kc.id(v))
				}
			}
			got := listAll(t, f, 1+r.IntN(40), kc.list)
			if !slices.Equal(got, want) {
				t.Errorf("kind %d, $filter=%s:\n got %q\nwant %q", kc.kind, expr, got, want)
			}
		}
	}
}

// toAny returns the entities as the store holds them: through their JSON
// form, which is what a listing decodes and the server filters (encoding
// JSON turns invalid UTF-8 into U+FFFD).
func toAny[T any](xs []*T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		b, err := json.Marshal(x)
		if err != nil {
			panic(err)
		}
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			panic(err)
		}
		out[i] = v
	}
	return out
}

// FuzzTaskFilter fuzzes task $filters against one store: each input that
// parses is listed through the store and must give exactly the tasks the
// Go evaluator selects. open returns a fresh store; it is called once per
// input (go test runs only the seeds; go test -fuzz explores).
func FuzzTaskFilter(f *testing.F, open func(t *testing.T) store.Store) {
	for _, seed := range []string{"state eq 'completed'", "executionInfo/exitCode ne 0 or not (startswith(id,'t01'))",
		"displayName ge 'a' and displayName lt 'b'", "executionInfo/result eq 'ſucceſs'", "creationTime le datetime'2026-11-24T18:00:00Z'",
		"nodeInfo/nodeId eq null and commandLine eq '/bin/true'", "startswith(displayName,'\xff')"} {
		f.Add(seed)
	}
	schema := filterprops.Schemas[filterprops.Task]
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := odata.ParseFilter(expr, schema)
		if err != nil || flt == nil {
			return // not a filter: the HTTP layer answers 400
		}
		s := open(t)
		ctx := context.Background()
		seedJob(t, s, "j", "p", 0)
		r := rand.New(rand.NewPCG(7, 7))
		var tasks []*api.Task
		for i := 0; i < 60; i++ {
			tasks = append(tasks, filterTask(r, i))
		}
		if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, v := range toAny(tasks) {
			if flt.Eval(filterprops.Accessor(v)) {
				want = append(want, v.(*api.Task).ID)
			}
		}
		got := listAll(t, flt, 17, func(pg store.Page) ([]string, string, error) {
			rows, next, err := s.ListTasks(ctx, "j", pg)
			ids := make([]string, len(rows))
			for i, row := range rows {
				ids[i] = row.Task.ID
			}
			return ids, next, err
		})
		if !slices.Equal(got, want) {
			t.Errorf("$filter=%s:\n got %q\nwant %q", flt, got, want)
		}
	})
}
