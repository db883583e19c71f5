package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seedJob(t *testing.T, s *Store, id, pool string, prio int32) {
	t.Helper()
	if err := s.CreateJob(context.Background(), &api.Job{ID: id, State: api.JobActive, Priority: api.I32(prio),
		PoolInfo: &api.PoolInformation{PoolID: pool}}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateTasksReportsDuplicatesPerTask(t *testing.T) {
	s := open(t)
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

func TestListPagingWithFilterReturnsEachOnce(t *testing.T) {
	s := open(t)
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
	for _, tc := range []struct {
		name  string
		pg    store.Page
		count int
	}{
		{"all", store.Page{Max: 333}, 2500},
		{"state pushdown", store.Page{Max: 100, State: "completed"}, 834},
		{"match only", store.Page{Max: 7, Match: func(v any) bool { return v.(*api.Task).ID[4] == '7' }}, 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			pg := tc.pg
			for pages := 0; ; pages++ {
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
				if len(rows) == 0 {
					t.Fatal("empty page with a continuation token")
				}
				pg.Token = next
			}
			if len(seen) != tc.count {
				t.Fatalf("listed %d, want %d", len(seen), tc.count)
			}
		})
	}
	if _, _, err := s.ListTasks(ctx, "j", store.Page{Token: "garbage!"}); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("bad token: %v", err)
	}
}

func TestUpdateTaskRollsBackOnError(t *testing.T) {
	s := open(t)
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

func TestRunnableTasksOrderAndFilters(t *testing.T) {
	s := open(t)
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
		got = append(got, r.JobID+"/"+r.Task.ID)
	}
	want := "high/1,high/2,low/1,low/2"
	if fmt.Sprint(got) != fmt.Sprint([]string{"high/1", "high/2", "low/1", "low/2"}) {
		t.Fatalf("runnable = %v, want %s", got, want)
	}
	waiting, _ := s.WaitingTasks(ctx, "high")
	if len(waiting) != 1 || waiting[0].Task.ID != "dep" {
		t.Fatalf("waiting = %v", waiting)
	}
}

func TestTaskStateCounts(t *testing.T) {
	s := open(t)
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

// A database made before tasks had last_node opens and gains the column.
func TestOpenMigratesOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_lower TEXT NOT NULL,
		id_lower TEXT NOT NULL, state TEXT NOT NULL, result TEXT NOT NULL DEFAULT '', waiting INTEGER NOT NULL DEFAULT 0,
		node_id TEXT NOT NULL DEFAULT '', epoch INTEGER NOT NULL DEFAULT 0, slots INTEGER NOT NULL DEFAULT 1,
		body BLOB NOT NULL, UNIQUE(job_lower, id_lower))`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open old database: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "a", State: api.TaskActive}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTask(ctx, "j", "a", func(r *store.TaskRow) error {
		r.NodeID, r.Task.State = "n1", api.TaskCompleted
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h, err := s.NodeHistory(ctx, "n1", 10)
	if err != nil || h.Completed != 1 || len(h.Recent) != 1 {
		t.Fatalf("history = %+v, %v", h, err)
	}
}

// TestTasksByID pins the set lookup used to resolve dependencies: case
// folding, missing IDs absent, other jobs' tasks excluded, batches joined.
func TestTasksByID(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	seedJob(t, s, "j", "p", 0)
	seedJob(t, s, "k", "p", 0)
	var tasks []*api.Task
	var ids []string
	for i := range tasksByIDBatch + 10 {
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
