// Package storetest is the conformance suite every store.Store must pass:
// the same tests run against SQLite and PostgreSQL, including many
// concurrent writers (River's driver test suite is the model).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/odata"
	"github.com/openbatch/openbatch/internal/store"
)

// Run runs every conformance test, each on a fresh empty store from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"CreateTasksReportsDuplicatesPerTask", testCreateTasksReportsDuplicatesPerTask},
		{"ListPagingWithFilterReturnsEachOnce", testListPagingWithFilterReturnsEachOnce},
		{"UpdateTaskRollsBackOnError", testUpdateTaskRollsBackOnError},
		{"RunnableTasksOrderAndFilters", testRunnableTasksOrderAndFilters},
		{"TaskStateCounts", testTaskStateCounts},
		{"TasksByID", testTasksByID},
		{"TryLead", testTryLead},
		{"ConcurrentUpdatesLoseNothing", testConcurrentUpdatesLoseNothing},
		{"PagingWhileInserting", testPagingWhileInserting},
		{"LeaseTasks", testLeaseTasks},
		{"CreateTasksOnClosedJob", testCreateTasksOnClosedJob},
		{"RegisterNode", testRegisterNode},
		{"UpdatePrepRelease", testUpdatePrepRelease},
		{"UpdatePoolWithNodes", testUpdatePoolWithNodes},
		{"LeaseTasksConcurrently", testLeaseTasksConcurrently},
		{"LeasesFollowTasks", testLeasesFollowTasks},
		{"NotFoundAndExists", testNotFoundAndExists},
		{"JobSchedules", testJobSchedules},
		{"JobTaskCount", testJobTaskCount},
		{"FiltersMatchEvaluator", testFiltersMatchEvaluator},
		{"AutoScaleSamples", testAutoScaleSamples},
		{"UpdatePoolNodesIsAtomic", testUpdatePoolNodesIsAtomic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func seedJob(t *testing.T, s store.Store, id, pool string, prio int32) {
	t.Helper()
	if err := s.CreateJob(context.Background(), &api.Job{ID: id, State: api.JobActive, Priority: api.I32(prio),
		PoolInfo: &api.PoolInformation{PoolID: pool}}); err != nil {
		t.Fatal(err)
	}
}

func testCreateTasksReportsDuplicatesPerTask(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	errs, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "a", State: api.TaskActive}, {ID: "A", State: api.TaskActive}, {ID: "b", State: api.TaskActive}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], store.ErrExists) || errs[2] != nil {
		t.Fatalf("errs = %v", errs)
	}
	if _, err := s.GetTask(ctx, "J", "B"); err != nil {
		t.Fatalf("lookup is case-insensitive: %v", err)
	}
}

func testListPagingWithFilterReturnsEachOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	var tasks []*api.Task
	for i := 0; i < 2500; i++ {
		st := api.TaskActive
		if i%3 == 0 {
			st = api.TaskCompleted
		}
		tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%04d", i), State: st})
	}
	if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
		t.Fatal(err)
	}
	sparse, err := odata.ParseFilter("startswith(commandLine, 'x') or id eq 't1234'", filterprops.Schemas[filterprops.Task])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		pg    store.Page
		count int
		// minPages, when set, is the fewest pages the listing may take:
		// the scan budget (pg.Scan) bounds the rows each page reads.
		minPages int
	}{
		{"all", store.Page{Max: 333}, 2500, 0},
		{"state pushdown", store.Page{Max: 100, State: "completed"}, 834, 0},
		{"match only", store.Page{Max: 7, Match: func(v any) bool { return v.(*api.Task).ID[4] == '7' }}, 250, 0},
		// Three matches at the end: with 50 rows read per page at most,
		// the first pages are empty, with tokens.
		{"sparse match, scan budget", store.Page{Max: 100, Scan: 50, Match: func(v any) bool { return v.(*api.Task).ID >= "t2497" }}, 3, 2500 / 50},
		{"sparse $filter in Go, scan budget", store.Page{Max: 2, Scan: 300, Filter: sparse}, 1, 2500 / 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			pg := tc.pg
			pages := 0
			for ; ; pages++ {
				rows, next, err := s.ListTasks(ctx, "j", pg)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) > pg.Max {
					t.Fatalf("page of %d > max %d", len(rows), pg.Max)
				}
				for _, r := range rows {
					if seen[r.Task.ID] {
						t.Fatalf("%s listed twice", r.Task.ID)
					}
					seen[r.Task.ID] = true
				}
				if next == "" {
					break
				}
				if len(rows) == 0 && pg.Scan == 0 {
					t.Fatal("empty page with a continuation token within the default scan budget")
				}
				pg.Token = next
			}
			if len(seen) != tc.count {
				t.Fatalf("listed %d, want %d", len(seen), tc.count)
			}
			if pages+1 < tc.minPages {
				t.Fatalf("listed in %d pages; reading at most %d rows a page takes at least %d", pages+1, pg.Scan, tc.minPages)
			}
		})
	}
	if _, _, err := s.ListTasks(ctx, "j", store.Page{Token: "garbage!"}); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("bad token: %v", err)
	}
}

func testUpdateTaskRollsBackOnError(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "a", State: api.TaskActive}}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := s.UpdateTask(ctx, "j", "a", func(r *store.TaskRow) error {
		r.Task.State = api.TaskCompleted
		r.Epoch = 9
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	r, _ := s.GetTask(ctx, "j", "a")
	if r.Task.State != api.TaskActive || r.Epoch != 0 {
		t.Fatalf("a failed update changed the row: %+v epoch %d", r.Task.State, r.Epoch)
	}
}

func testRunnableTasksOrderAndFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "low", "p", -5)
	seedJob(t, s, "high", "p", 100)
	seedJob(t, s, "other", "q", 1000)
	for _, j := range []string{"low", "high", "other"} {
		if _, err := s.CreateTasks(ctx, j, []*api.Task{{ID: "1", State: api.TaskActive}, {ID: "2", State: api.TaskActive},
			{ID: "dep", State: api.TaskActive, DependsOn: &api.TaskDependencies{TaskIDs: []string{"1"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.RunnableTasks(ctx, "P", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.JobID+"/"+r.TaskID)
		if r.Slots != 1 {
			t.Errorf("%s/%s: slots %d, want 1", r.JobID, r.TaskID, r.Slots)
		}
	}
	want := "high/1,high/2,low/1,low/2"
	if fmt.Sprint(got) != fmt.Sprint([]string{"high/1", "high/2", "low/1", "low/2"}) {
		t.Fatalf("runnable = %v, want %s", got, want)
	}
	// Fewer than there are: the first in the same order.
	rows, err = s.RunnableTasks(ctx, "P", 3)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, r := range rows {
		got = append(got, r.JobID+"/"+r.TaskID)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"high/1", "high/2", "low/1"}) {
		t.Fatalf("runnable, at most 3 = %v, want [high/1 high/2 low/1]", got)
	}
	if st, err := s.TaskState(ctx, "HIGH", "1"); err != nil || st != api.TaskActive {
		t.Errorf("TaskState(HIGH, 1) = %q, %v; want active", st, err)
	}
	if _, err := s.TaskState(ctx, "high", "nosuch"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TaskState of a missing task: %v, want ErrNotFound", err)
	}
	waiting, _ := s.WaitingTasks(ctx, "high")
	if len(waiting) != 1 || waiting[0].Task.ID != "dep" {
		t.Fatalf("waiting = %v", waiting)
	}
}

func testTaskStateCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	ok := &api.TaskExecutionInformation{Result: api.ResultSuccess}
	bad := &api.TaskExecutionInformation{Result: api.ResultFailure}
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{
		{ID: "a", State: api.TaskActive}, {ID: "r", State: api.TaskRunning, RequiredSlots: api.I32(3)},
		{ID: "s", State: api.TaskCompleted, ExecutionInfo: ok}, {ID: "f", State: api.TaskCompleted, ExecutionInfo: bad},
	}); err != nil {
		t.Fatal(err)
	}
	c, err := s.TaskStateCounts(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskCounts != (api.TaskCounts{Active: 1, Running: 1, Completed: 2, Succeeded: 1, Failed: 1}) ||
		c.TaskSlotCounts != (api.TaskCounts{Active: 1, Running: 3, Completed: 2, Succeeded: 1, Failed: 1}) {
		t.Fatalf("counts = %+v", c)
	}
}

func testTasksByID(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	seedJob(t, s, "k", "p", 0)
	var tasks []*api.Task
	var ids []string
	for i := range 510 { // more than one TasksByID query (500 IDs each)
		id := fmt.Sprintf("T%d", i)
		tasks = append(tasks, &api.Task{ID: id, State: api.TaskActive})
		ids = append(ids, strings.ToLower(id))
	}
	if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTasks(ctx, "k", []*api.Task{{ID: "only-k", State: api.TaskActive}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.TasksByID(ctx, "J", append(ids, "missing", "only-k"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tasks) || got["t0"] == nil || got["t0"].Task.ID != "T0" || got["missing"] != nil || got["only-k"] != nil {
		t.Fatalf("TasksByID returned %d rows (t0=%v)", len(got), got["t0"])
	}
	if got, err := s.TasksByID(ctx, "j", nil); err != nil || len(got) != 0 {
		t.Fatalf("TasksByID(nil) = %v, %v", got, err)
	}
}

func testTryLead(t *testing.T, s store.Store) {
	ctx := context.Background()
	st := s
	steps := []struct {
		holder string
		ttl    time.Duration
		want   bool
	}{
		{"a", time.Minute, true},       // free: a takes it
		{"b", time.Minute, false},      // a holds it
		{"a", time.Minute, true},       // a renews
		{"a", -time.Millisecond, true}, // a renews into the past: expired from now on
		{"b", time.Minute, true},       // expired: b takes it
		{"a", time.Minute, false},      // b holds it
		{"c", time.Minute, false},      // still b's
		{"b", time.Minute, true},       // b renews
	}
	for i, s := range steps {
		got, err := st.TryLead(ctx, "scheduler", s.holder, s.ttl)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Fatalf("step %d: TryLead(%s) = %v, want %v", i, s.holder, got, s.want)
		}
	}
	// Leases are independent by name.
	if got, err := st.TryLead(ctx, "other", "a", time.Minute); err != nil || !got {
		t.Fatalf("another lease name: %v, %v", got, err)
	}
}

// Many goroutines read-modify-write the same job and the same task at
// once: every change survives (no lost update).
func testConcurrentUpdatesLoseNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "t", State: api.TaskActive}}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.UpdateJob(ctx, "j", func(j *api.Job) error { *j.Priority++; return nil }); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.UpdateTask(ctx, "j", "t", func(r *store.TaskRow) error { r.Epoch++; return nil }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	j, err := s.GetJob(ctx, "j")
	if err != nil || *j.Priority != writers*each {
		t.Fatalf("job priority %d after %d increments (%v)", *j.Priority, writers*each, err)
	}
	r, err := s.GetTask(ctx, "j", "t")
	if err != nil || r.Epoch != writers*each {
		t.Fatalf("task epoch %d after %d increments (%v)", r.Epoch, writers*each, err)
	}
}

// Tasks added while a client pages through a job: every task committed
// before the listing began is listed exactly once, and nothing twice.
func testPagingWhileInserting(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	add := func(prefix string, n int) {
		var tasks []*api.Task
		for i := range n {
			tasks = append(tasks, &api.Task{ID: fmt.Sprintf("%s%04d", prefix, i), State: api.TaskActive})
		}
		if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
			t.Error(err)
		}
	}
	add("before", 600)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				add(fmt.Sprintf("w%d-%d-", w, i), 20)
			}
		}()
	}
	seen := map[string]int{}
	tok := ""
	for {
		rows, next, err := s.ListTasks(ctx, "j", store.Page{Token: tok, Max: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen[r.Task.ID]++
		}
		if next == "" {
			break
		}
		tok = next
	}
	close(stop)
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("task %s listed %d times", id, n)
		}
	}
	for i := range 600 {
		if id := fmt.Sprintf("before%04d", i); seen[id] != 1 {
			t.Fatalf("task %s, committed before the listing, listed %d times", id, seen[id])
		}
	}
}

// LeaseTasks leases runnable candidates in order within the node's
// slots, the batch's Free and Want and the jobs' maxParallelTasks;
// candidates leased already, waiting, gone or of a job no longer active
// are stale; an error from fn rolls the whole batch back.
func testLeaseTasks(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	seedJob(t, s, "k", "p", 0)
	seedJob(t, s, "d", "p", 0)
	var tasks []*api.Task
	for i := range 4 {
		tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%d", i), State: api.TaskActive, RequiredSlots: api.I32(int32(1 + i%2))})
	}
	for _, job := range []string{"j", "k", "d"} {
		if _, err := s.CreateTasks(ctx, job, tasks); err != nil {
			t.Fatal(err)
		}
	}
	waiting := &api.Task{ID: "after", State: api.TaskActive, DependsOn: &api.TaskDependencies{TaskIDs: []string{"t0"}}, RequiredSlots: api.I32(1)}
	if _, err := s.CreateTasks(ctx, "k", []*api.Task{waiting}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTask(ctx, "k", "after", func(r *store.TaskRow) error { r.Waiting = true; return nil }); err != nil {
		t.Fatal(err)
	}
	runnable, err := s.RunnableTasks(ctx, "p", 100)
	if err != nil {
		t.Fatal(err)
	}
	cand := map[string]store.Candidate{"k/gone": {Seq: 1 << 40, JobID: "k", TaskID: "gone", Slots: 1}}
	for _, c := range runnable {
		cand[c.JobID+"/"+c.TaskID] = c
	}
	after, err := s.GetTask(ctx, "k", "after")
	if err != nil {
		t.Fatal(err)
	}
	cand["k/after"] = store.Candidate{Seq: after.Seq, JobID: "k", TaskID: "after", Slots: 1}
	// Job d is disabled after its tasks were read as candidates.
	if _, err := s.UpdateJob(ctx, "d", func(j *api.Job) error { j.State = api.JobDisabled; return nil }); err != nil {
		t.Fatal(err)
	}
	take := func(node string) func(*store.TaskRow) error {
		return func(r *store.TaskRow) error {
			r.Task.State = api.TaskRunning
			r.Epoch++
			r.NodeID = node
			return nil
		}
	}
	steps := []struct {
		name        string
		node        string
		cands       []string
		slots, free int32
		want        int32
		maxPar      map[string]int32
		leased      []string
		stale       int
	}{
		{"fits the node and the job", "n1", []string{"j/t0", "j/t1"}, 3, 3, 3, map[string]int32{"j": 2}, []string{"j/t0", "j/t1"}, 0},
		{"node full", "n1", []string{"k/t0"}, 3, 3, 3, nil, nil, 0},
		{"job full, next job fits", "n1", []string{"j/t2", "k/t0"}, 10, 10, 10, map[string]int32{"j": 2}, []string{"k/t0"}, 0},
		{"job limit counts the batch", "n1", []string{"k/t2", "k/t3"}, 10, 10, 10, map[string]int32{"k": 2}, []string{"k/t2"}, 0},
		{"stale skipped, want ends the batch", "n1", []string{"j/t0", "k/after", "k/gone", "j/t3", "j/t2"}, 10, 10, 1, nil, []string{"j/t3"}, 3},
		{"free bounds the batch", "n2", []string{"k/t3", "j/t2"}, 10, 1, 1, nil, []string{"j/t2"}, 0},
		{"no limit (0)", "n2", []string{"k/t3"}, 10, 10, 10, map[string]int32{"k": 0}, []string{"k/t3"}, 0},
		{"want 0 leases nothing", "n2", []string{"k/t1"}, 10, 10, 0, nil, nil, 0},
		{"job no longer active", "n2", []string{"d/t0", "d/t1"}, 10, 10, 10, map[string]int32{"d": 5}, nil, 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			b := store.LeaseBatch{NodeID: st.node, NodeSlots: st.slots, Free: st.free, Want: st.want, MaxParallel: st.maxPar}
			for _, c := range st.cands {
				b.Candidates = append(b.Candidates, cand[c])
			}
			rows, stale, err := s.LeaseTasks(ctx, b, take(st.node))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.JobID+"/"+r.Task.ID)
			}
			if !slices.Equal(got, st.leased) || stale != st.stale {
				t.Fatalf("leased %v, stale %d; want %v, %d", got, stale, st.leased, st.stale)
			}
			for _, c := range st.cands {
				if c == "k/gone" {
					continue
				}
				job, task, _ := strings.Cut(c, "/")
				r, err := s.GetTask(ctx, job, task)
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(st.leased, c) && (r.NodeID != st.node || r.Task.State != api.TaskRunning) {
					t.Fatalf("%s leased but stored on %q, %s", c, r.NodeID, r.Task.State)
				}
			}
		})
	}
	for _, c := range []string{"k/t1", "k/after", "d/t0", "d/t1"} {
		job, task, _ := strings.Cut(c, "/")
		if r, _ := s.GetTask(ctx, job, task); r.NodeID != "" || r.Task.State != api.TaskActive {
			t.Fatalf("%s, never leased, stored on %q, %s", c, r.NodeID, r.Task.State)
		}
	}
	// An error from fn rolls back the leases before it.
	fail := errors.New("refused")
	n := 0
	b := store.LeaseBatch{NodeID: "n3", NodeSlots: 10, Free: 10, Want: 10, Candidates: []store.Candidate{cand["j/t1"], cand["k/t1"], cand["k/after"]}}
	if _, err := s.UpdateTask(ctx, "j", "t1", func(r *store.TaskRow) error { r.Task.State, r.NodeID = api.TaskActive, ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTask(ctx, "k", "after", func(r *store.TaskRow) error { r.Waiting = false; return nil }); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.LeaseTasks(ctx, b, func(r *store.TaskRow) error {
		if n++; n == 2 {
			return fail
		}
		return take("n3")(r)
	})
	if !errors.Is(err, fail) {
		t.Fatalf("lease with a failing fn: %v", err)
	}
	if r, _ := s.GetTask(ctx, "j", "t1"); r.NodeID != "" || r.Task.State != api.TaskActive {
		t.Fatalf("a rolled back batch leased j/t1: %q, %s", r.NodeID, r.Task.State)
	}

	// NodeTakes is asked about the node as stored: a node whose scheduling
	// was disabled after the plan, or a node that is gone, gets nothing.
	if err := s.PutNode(ctx, &store.Node{PoolID: "p", Node: &api.ComputeNode{ID: "n4", State: api.NodeIdle, SchedulingState: api.SchedulingEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateNode(ctx, "p", "n4", func(n *store.Node) error { n.Node.SchedulingState = api.SchedulingDisabled; return nil }); err != nil {
		t.Fatal(err)
	}
	enabled := func(n *store.Node) bool { return n.Node.SchedulingState != api.SchedulingDisabled }
	for _, node := range []string{"n4", "gone"} {
		b = store.LeaseBatch{NodeID: node, NodeSlots: 10, Free: 10, Want: 10, Candidates: []store.Candidate{cand["j/t1"]}, NodeTakes: enabled}
		if rows, _, err := s.LeaseTasks(ctx, b, take(node)); err != nil || len(rows) != 0 {
			t.Fatalf("lease onto %s, which takes no work: %d rows, %v", node, len(rows), err)
		}
	}
	if _, err := s.UpdateNode(ctx, "p", "n4", func(n *store.Node) error { n.Node.SchedulingState = api.SchedulingEnabled; return nil }); err != nil {
		t.Fatal(err)
	}
	b.NodeID = "n4"
	if rows, _, err := s.LeaseTasks(ctx, b, take("n4")); err != nil || len(rows) != 1 {
		t.Fatalf("lease onto n4 with scheduling enabled again: %d rows, %v", len(rows), err)
	}
}

// Nodes leasing batches from the same candidates at once never exceed a
// node's slots or the job's maxParallelTasks, and no task is leased twice.
func testLeaseTasksConcurrently(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	var tasks []*api.Task
	for i := range 60 {
		tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%02d", i), State: api.TaskActive, RequiredSlots: api.I32(int32(1 + i%2))})
	}
	if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
		t.Fatal(err)
	}
	const nodes, nodeSlots, maxPar = 8, 3, 5
	var (
		mu     sync.Mutex
		leases = map[string]string{} // task → node
		errs   = make(chan error, nodes)
		wg     sync.WaitGroup
	)
	for i := range nodes {
		node := fmt.Sprintf("n%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				cands, err := s.RunnableTasks(ctx, "p", 10)
				if err != nil {
					errs <- err
					return
				}
				rows, _, err := s.LeaseTasks(ctx, store.LeaseBatch{NodeID: node, NodeSlots: nodeSlots, Free: nodeSlots, Want: nodeSlots,
					MaxParallel: map[string]int32{"j": maxPar}, Candidates: cands}, func(r *store.TaskRow) error {
					r.Task.State, r.NodeID = api.TaskRunning, node
					r.Epoch++
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range rows {
					if prev, ok := leases[r.Task.ID]; ok {
						mu.Unlock()
						errs <- fmt.Errorf("task %s leased to %s and %s", r.Task.ID, prev, node)
						return
					}
					leases[r.Task.ID] = node
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(leases) != maxPar {
		t.Fatalf("%d tasks leased, want the job's limit %d: %v", len(leases), maxPar, leases)
	}
	loads, err := s.NodeLoads(ctx, []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"})
	if err != nil {
		t.Fatal(err)
	}
	for id, l := range loads {
		if l.Slots > nodeSlots {
			t.Fatalf("node %s holds %d slots, more than its %d", id, l.Slots, nodeSlots)
		}
	}
}

// The reads of leases (NodeLoads, LeasesOnNode, TasksOnNode, the counts
// LeaseTasks makes) follow every change of a task's node: lease, move,
// completion, deletion of the task, of the job's tasks and of the job.
func testLeasesFollowTasks(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	seedJob(t, s, "k", "p", 0)
	for _, job := range []string{"j", "k"} {
		if _, err := s.CreateTasks(ctx, job, []*api.Task{
			{ID: "a", State: api.TaskActive}, {ID: "b", State: api.TaskActive, RequiredSlots: api.I32(2)}, {ID: "c", State: api.TaskActive}}); err != nil {
			t.Fatal(err)
		}
	}
	setNode := func(job, task, node string) {
		t.Helper()
		if _, err := s.UpdateTask(ctx, job, task, func(r *store.TaskRow) error {
			r.NodeID = node
			r.Task.State = api.TaskRunning
			if node == "" {
				r.Task.State = api.TaskCompleted
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, want map[string]store.NodeLoad, onN1 []string) {
		t.Helper()
		loads, err := s.NodeLoads(ctx, []string{"n1", "n2"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"n1", "n2"} {
			if loads[n] != want[n] {
				t.Fatalf("%s: load of %s %+v, want %+v", step, n, loads[n], want[n])
			}
		}
		leases, err := s.LeasesOnNode(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.TasksOnNode(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		var got, gotRows []string
		for _, l := range leases {
			got = append(got, l.JobID+"/"+l.TaskID)
		}
		for _, r := range rows {
			gotRows = append(gotRows, strings.ToLower(r.JobID+"/"+r.Task.ID))
		}
		slices.Sort(got)
		slices.Sort(gotRows)
		if !slices.Equal(got, onN1) || !slices.Equal(gotRows, onN1) {
			t.Fatalf("%s: n1 holds %v (tasks %v), want %v", step, got, gotRows, onN1)
		}
	}
	setNode("j", "a", "n1")
	setNode("j", "b", "n1")
	setNode("k", "a", "n2")
	setNode("k", "b", "n1")
	check("leased", map[string]store.NodeLoad{"n1": {Tasks: 3, Slots: 5}, "n2": {Tasks: 1, Slots: 1}}, []string{"j/a", "j/b", "k/b"})
	setNode("j", "a", "n2") // moved
	check("moved", map[string]store.NodeLoad{"n1": {Tasks: 2, Slots: 4}, "n2": {Tasks: 2, Slots: 2}}, []string{"j/b", "k/b"})
	setNode("k", "b", "") // completed
	check("completed", map[string]store.NodeLoad{"n1": {Tasks: 1, Slots: 2}, "n2": {Tasks: 2, Slots: 2}}, []string{"j/b"})
	if err := s.DeleteTask(ctx, "j", "b"); err != nil {
		t.Fatal(err)
	}
	check("task deleted", map[string]store.NodeLoad{"n2": {Tasks: 2, Slots: 2}}, nil)
	// A job's limit counts its leases: k runs k/a only.
	cands, err := s.RunnableTasks(ctx, "p", 10)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := s.LeaseTasks(ctx, store.LeaseBatch{NodeID: "n1", NodeSlots: 10, Free: 10, Want: 10, MaxParallel: map[string]int32{"k": 1},
		Candidates: cands}, func(r *store.TaskRow) error { r.NodeID, r.Task.State = "n1", api.TaskRunning; return nil })
	if err != nil || len(rows) != 1 || rows[0].JobID != "j" {
		t.Fatalf("lease with k at its limit: %v, %v; want j/c only", rows, err)
	}
	check("j/c leased", map[string]store.NodeLoad{"n1": {Tasks: 1, Slots: 1}, "n2": {Tasks: 2, Slots: 2}}, []string{"j/c"})
	if err := s.DeleteJobTasks(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	check("job's tasks deleted", map[string]store.NodeLoad{"n2": {Tasks: 1, Slots: 1}}, nil)
	if err := s.DeleteJob(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	check("job deleted", nil, nil)
}

func testNotFoundAndExists(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetPool(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get pool: %v", err)
	}
	if _, err := s.UpdateJob(ctx, "nope", func(*api.Job) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update job: %v", err)
	}
	if err := s.DeleteTask(ctx, "nope", "t"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete task: %v", err)
	}
	if err := s.CreatePool(ctx, &api.Pool{ID: "Pool1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePool(ctx, &api.Pool{ID: "POOL1"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("create a pool whose ID differs in case: %v", err)
	}
	if _, _, err := s.ListJobs(ctx, store.Page{Token: "garbage"}); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("bad token: %v", err)
	}
}

func testJobSchedules(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 3 {
		js := &api.JobSchedule{ID: fmt.Sprintf("S%d", i), State: api.JobScheduleActive}
		if err := s.CreateJobSchedule(ctx, js); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateJobSchedule(ctx, &api.JobSchedule{ID: "s0"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate schedule: %v", err)
	}
	if _, err := s.UpdateJobSchedule(ctx, "s1", func(js *api.JobSchedule) error { js.State = api.JobScheduleDisabled; return nil }); err != nil {
		t.Fatal(err)
	}
	active, _, err := s.ListJobSchedules(ctx, store.Page{State: string(api.JobScheduleActive)})
	if err != nil || len(active) != 2 || active[0].ID != "S0" || active[1].ID != "S2" {
		t.Fatalf("active schedules %+v, %v", active, err)
	}
	if err := s.DeleteJobSchedule(ctx, "S2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJobSchedule(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted schedule: %v", err)
	}
}

// A job's task count is kept with every add and delete, and an add that
// would pass api.MaxTasksPerJob adds nothing (checked with a job already
// at the limit less one, by setting its count through deletes and adds).
func testJobTaskCount(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	var tasks []*api.Task
	for i := range 5 {
		tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%d", i), State: api.TaskActive})
	}
	if _, err := s.CreateTasks(ctx, "j", tasks); err != nil {
		t.Fatal(err)
	}
	// Duplicates are not counted.
	errs, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "t0", State: api.TaskActive}, {ID: "t9", State: api.TaskActive}})
	if err != nil || !errors.Is(errs[0], store.ErrExists) || errs[1] != nil {
		t.Fatalf("errs %v, %v", errs, err)
	}
	if err := s.DeleteTask(ctx, "j", "t1"); err != nil {
		t.Fatal(err)
	}
	big := make([]*api.Task, api.MaxTasksPerJob-4) // 5 there: one over the limit
	for i := range big {
		big[i] = &api.Task{ID: fmt.Sprintf("b%d", i), State: api.TaskActive}
	}
	if _, err := s.CreateTasks(ctx, "j", big); !errors.Is(err, store.ErrJobTaskLimit) {
		t.Fatalf("add past the limit: %v", err)
	}
	c, err := s.TaskStateCounts(ctx, "j")
	if err != nil || c.TaskCounts.Active != 5 {
		t.Fatalf("after the refused add: %+v, %v", c.TaskCounts, err)
	}
}

// A job that is terminating, completed or being deleted takes no tasks
// (ErrJobClosed, checked in the add's transaction, nothing added); an
// active or disabled one does.
func testCreateTasksOnClosedJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, tc := range []struct {
		state api.JobState
		want  error
	}{
		{api.JobActive, nil},
		{api.JobDisabled, nil},
		{api.JobDisabling, nil},
		{api.JobTerminating, store.ErrJobClosed},
		{api.JobCompleted, store.ErrJobClosed},
		{api.JobDeleting, store.ErrJobClosed},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			job := fmt.Sprintf("c%d", i)
			seedJob(t, s, job, "p", 0)
			if _, err := s.UpdateJob(ctx, job, func(j *api.Job) error { j.State = tc.state; return nil }); err != nil {
				t.Fatal(err)
			}
			_, err := s.CreateTasks(ctx, job, []*api.Task{{ID: "t", State: api.TaskActive}})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("add to a %s job: %v, want %v", tc.state, err, tc.want)
			}
			_, gerr := s.GetTask(ctx, job, "t")
			if added := gerr == nil; added != (tc.want == nil) {
				t.Fatalf("add to a %s job: task stored %v", tc.state, added)
			}
		})
	}
}

// RegisterNode hands fn the pool and the stored node (nil when new) and
// writes what fn returns; an error from fn writes nothing; a missing pool
// is ErrNotFound.
func testRegisterNode(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreatePool(ctx, &api.Pool{ID: "RP", VMSize: "x", State: api.PoolActive}); err != nil {
		t.Fatal(err)
	}
	node := func(addr string) *store.Node {
		return &store.Node{PoolID: "RP", Address: addr, Node: &api.ComputeNode{ID: "n1", State: api.NodeIdle}}
	}
	var seen []*store.Node
	register := func(addr string, refuse error) error {
		_, err := s.RegisterNode(ctx, "rp", "n1", func(p *api.Pool, old *store.Node) (*store.Node, error) {
			if p.ID != "RP" {
				t.Fatalf("fn got pool %q", p.ID)
			}
			seen = append(seen, old)
			return node(addr), refuse
		})
		return err
	}
	if err := register("a", nil); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	if err := register("b", refused); !errors.Is(err, refused) {
		t.Fatalf("refused registration: %v", err)
	}
	if err := register("c", nil); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0] != nil || seen[1] == nil || seen[1].Address != "a" || seen[2] == nil || seen[2].Address != "a" {
		t.Fatalf("fn saw %+v; want nil, then the node at a twice (the refusal wrote nothing)", seen)
	}
	if n, err := s.GetNode(ctx, "rp", "n1"); err != nil || n.Address != "c" {
		t.Fatalf("stored node %+v, %v", n, err)
	}
	if _, err := s.RegisterNode(ctx, "nosuch", "n1", func(*api.Pool, *store.Node) (*store.Node, error) {
		t.Fatal("fn called for a missing pool")
		return nil, nil
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing pool: %v", err)
	}
}

// UpdatePrepRelease starts a node's record empty, keeps what earlier
// updates wrote, writes nothing when fn fails, and serializes concurrent
// updates of one record (each a read-modify-write of a counter here: none
// is lost).
func testUpdatePrepRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	bump := func(node string) func(*api.JobPreparationAndReleaseTaskExecutionInformation) error {
		return func(info *api.JobPreparationAndReleaseTaskExecutionInformation) error {
			info.NodeID = node
			if info.JobPreparationTaskExecutionInfo == nil {
				info.JobPreparationTaskExecutionInfo = &api.JobPrepReleaseTaskExecutionInformation{State: api.PrepTaskCompleted}
			}
			info.JobPreparationTaskExecutionInfo.RetryCount++
			return nil
		}
	}
	if err := s.UpdatePrepRelease(ctx, "j", "n1", func(info *api.JobPreparationAndReleaseTaskExecutionInformation) error {
		if info.NodeID != "" || info.JobPreparationTaskExecutionInfo != nil || info.JobReleaseTaskExecutionInfo != nil {
			t.Fatalf("a new record is not empty: %+v", info)
		}
		return bump("n1")(info)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdatePrepRelease(ctx, "j", "n1", func(info *api.JobPreparationAndReleaseTaskExecutionInformation) error {
		info.JobReleaseTaskExecutionInfo = &api.JobPrepReleaseTaskExecutionInformation{State: api.PrepTaskCompleted}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("refused")
	if err := s.UpdatePrepRelease(ctx, "j", "n2", func(*api.JobPreparationAndReleaseTaskExecutionInformation) error { return fail }); !errors.Is(err, fail) {
		t.Fatalf("failing fn: %v", err)
	}
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := s.UpdatePrepRelease(ctx, "j", "n3", bump("n3")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all, err := s.PrepReleaseStatus(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].NodeID != "n1" || all[1].NodeID != "n3" {
		t.Fatalf("records %+v; want n1 and n3 (n2's failed update wrote nothing)", all)
	}
	if all[0].JobPreparationTaskExecutionInfo == nil || all[0].JobReleaseTaskExecutionInfo == nil {
		t.Fatalf("n1 lost a run: %+v", all[0])
	}
	if got := all[1].JobPreparationTaskExecutionInfo.RetryCount; got != writers*each {
		t.Fatalf("concurrent updates: count %d, want %d", got, writers*each)
	}
}

// UpdatePoolWithNodes hands fn the pool and its nodes by ID, writes the
// pool fn changed, writes nothing when fn fails, and reports a missing
// pool as ErrNotFound.
func testUpdatePoolWithNodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreatePool(ctx, &api.Pool{ID: "CP", VMSize: "x", State: api.PoolActive}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "a"} {
		if err := s.PutNode(ctx, &store.Node{PoolID: "CP", Node: &api.ComputeNode{ID: id, State: api.NodeIdle}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(p *api.Pool, nodes []*store.Node) error {
		if len(nodes) != 2 || nodes[0].Node.ID != "a" || nodes[1].Node.ID != "b" {
			t.Fatalf("fn got nodes %v", nodes)
		}
		p.CurrentDedicatedNodes = api.I32(int32(len(nodes)))
		return nil
	}
	if _, err := s.UpdatePoolWithNodes(ctx, "cp", count); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("refused")
	if _, err := s.UpdatePoolWithNodes(ctx, "cp", func(p *api.Pool, _ []*store.Node) error {
		p.CurrentDedicatedNodes = api.I32(99)
		return fail
	}); !errors.Is(err, fail) {
		t.Fatalf("failing fn: %v", err)
	}
	if p, err := s.GetPool(ctx, "cp"); err != nil || p.CurrentDedicatedNodes == nil || *p.CurrentDedicatedNodes != 2 {
		t.Fatalf("pool after the updates: %+v, %v", p, err)
	}
	if _, err := s.UpdatePoolWithNodes(ctx, "nosuch", count); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing pool: %v", err)
	}
}

// testAutoScaleSamples pins the sample history: oldest first, bounded by
// keepAfter, duplicates at one time ignored, per pool, and gone with the
// pool.
func testAutoScaleSamples(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreatePool(ctx, &api.Pool{ID: "P"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 5; i++ {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		sm := store.AutoScaleSample{Time: at, Values: map[string]float64{"$PendingTasks": float64(i)}}
		if err := s.AddAutoScaleSample(ctx, "p", sm, at.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// The same time again is ignored; another pool's samples are apart.
	if err := s.AddAutoScaleSample(ctx, "P", store.AutoScaleSample{Time: t0.Add(2 * time.Minute), Values: map[string]float64{"$PendingTasks": 99}}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAutoScaleSample(ctx, "other", store.AutoScaleSample{Time: t0, Values: map[string]float64{}}, t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.AutoScaleSamples(ctx, "P", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var vals []float64
	for _, sm := range got {
		vals = append(vals, sm.Values["$PendingTasks"])
	}
	if fmt.Sprint(vals) != "[2 3 4]" || !got[0].Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("samples = %v (first at %v), want [2 3 4] from %v", vals, got[0].Time, t0.Add(time.Minute))
	}
	if got, _ := s.AutoScaleSamples(ctx, "p", t0.Add(90*time.Second)); len(got) != 2 {
		t.Fatalf("samples since 90s = %d, want 2", len(got))
	}
	if err := s.DeletePool(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AutoScaleSamples(ctx, "p", time.Time{}); len(got) != 0 {
		t.Fatalf("a deleted pool keeps %d samples", len(got))
	}
}

// UpdatePoolNodes changes a pool and its named nodes together, or nothing:
// a missing node or an error of either function writes none of them.
func testUpdatePoolNodesIsAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreatePool(ctx, &api.Pool{ID: "p", TargetDedicatedNodes: api.I32(3)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if err := s.PutNode(ctx, &store.Node{PoolID: "p", Node: &api.ComputeNode{ID: id, State: api.NodeIdle, IsDedicated: true}}); err != nil {
			t.Fatal(err)
		}
	}
	drain := func(n *store.Node) error { n.Node.State = api.NodeLeavingPool; n.DrainOption = "requeue"; return nil }
	lower := func(p *api.Pool) error { *p.TargetDedicatedNodes--; return nil }
	check := func(step string, target int32, leaving ...string) {
		t.Helper()
		p, err := s.GetPool(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		if *p.TargetDedicatedNodes != target {
			t.Fatalf("%s: target %d, want %d", step, *p.TargetDedicatedNodes, target)
		}
		for _, id := range []string{"n1", "n2", "n3"} {
			n, err := s.GetNode(ctx, "p", id)
			if err != nil {
				t.Fatal(err)
			}
			if want := slices.Contains(leaving, id); (n.Node.State == api.NodeLeavingPool) != want || (n.DrainOption == "requeue") != want {
				t.Fatalf("%s: node %s is %s (%q), want leaving %v", step, id, n.Node.State, n.DrainOption, want)
			}
		}
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		pool   string
		nodes  []string
		nodeFn func(*store.Node) error
		poolFn func(*api.Pool) error
		want   error
	}{
		{"missing node", "p", []string{"n1", "nope"}, drain, lower, store.ErrNotFound},
		{"missing pool", "q", []string{"n1"}, drain, lower, store.ErrNotFound},
		{"node function fails", "p", []string{"n1", "n2"}, func(n *store.Node) error {
			if n.Node.ID == "n2" {
				return boom
			}
			return drain(n)
		}, lower, boom},
		{"pool function fails", "p", []string{"n1"}, drain, func(*api.Pool) error { return boom }, boom},
	} {
		if _, err := s.UpdatePoolNodes(ctx, tc.pool, tc.nodes, tc.nodeFn, tc.poolFn); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		check(tc.name, 3)
	}
	p, err := s.UpdatePoolNodes(ctx, "P", []string{"n1", "n3"}, drain, func(p *api.Pool) error { *p.TargetDedicatedNodes -= 2; return nil })
	if err != nil || *p.TargetDedicatedNodes != 1 {
		t.Fatalf("update: %v, %+v", err, p)
	}
	check("update", 1, "n1", "n3")
}
