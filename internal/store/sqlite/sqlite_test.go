package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/odata"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/storetest"
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

// TestConformance runs the store conformance suite on SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// FuzzTaskFilter checks fuzzed task filters against the Go evaluator:
// go test -fuzz FuzzTaskFilter ./internal/store/sqlite/
func FuzzTaskFilter(f *testing.F) {
	storetest.FuzzTaskFilter(f, func(t *testing.T) store.Store { return open(t) })
}

// A path with the characters that are special in SQLite URIs opens that
// file, not another: "#" would otherwise end the path.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a#b?c%41d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateJob(context.Background(), &api.Job{ID: "j", State: api.JobActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
}

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
	// A task numbered by AUTOINCREMENT, before the tasks counter existed.
	if _, err := old.Exec(`INSERT INTO tasks(seq, job_lower, id_lower, state, body) VALUES(7, 'j', 'old', 'active', '{"id":"old","state":"active"}')`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open old database: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.CreateJob(ctx, &api.Job{ID: "j", State: api.JobActive, PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "a", State: api.TaskActive}}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetTask(ctx, "j", "a"); err != nil || r.Seq <= 7 {
		t.Fatalf("a new task numbered %d after an old task numbered 7 (%v)", r.Seq, err)
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

// A database whose rows were written before the filter columns existed
// gets them filled by migration 4, so filters that run in SQL see them.
func TestOpenBackfillsFilterColumns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateJob(ctx, &api.Job{ID: "j", State: api.JobActive, PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{
		{ID: "a", State: api.TaskCompleted, ExecutionInfo: &api.TaskExecutionInformation{ExitCode: api.I32(3)}},
		{ID: "b", State: api.TaskCompleted, ExecutionInfo: &api.TaskExecutionInformation{ExitCode: api.I32(0)}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePool(ctx, &api.Pool{ID: "p", VMSize: "small"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTasks(ctx, "j", []*api.Task{{ID: "leased", State: api.TaskActive, RequiredSlots: api.I32(2)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTask(ctx, "j", "leased", func(r *store.TaskRow) error { r.NodeID, r.Task.State = "n1", api.TaskRunning; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Make it look like a database of schema version 3 written by an
	// older openbatch: filter columns empty, migrations 4 and later not
	// applied.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE tasks SET f_id = NULL, f_exit_code = NULL`, `UPDATE jobs SET f_id = NULL, f_pool_id = NULL`,
		`UPDATE pools SET f_id = NULL, f_vm_size = NULL`, `DELETE FROM goose_db_version WHERE version_id >= 4`, `DROP TABLE autoscale_samples`,
		`DROP TABLE leases`, `CREATE INDEX tasks_node ON tasks(node_id) WHERE node_id != ''`,
		`CREATE INDEX tasks_leased_job ON tasks(job_lower, node_id) WHERE node_id != ''`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	// Migration 6 fills the leases table from the tasks' nodes.
	if loads, err := s.NodeLoads(ctx, []string{"n1"}); err != nil || loads["n1"] != (store.NodeLoad{Tasks: 1, Slots: 2}) {
		t.Fatalf("load of n1 after the migration: %+v, %v; want 1 task, 2 slots", loads, err)
	}
	filter := func(kind filterprops.Kind, expr string) *odata.Filter {
		f, err := odata.ParseFilter(expr, filterprops.Schemas[kind])
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	rows, _, err := s.ListTasks(ctx, "j", store.Page{Filter: filter(filterprops.Task, "executionInfo/exitCode gt 0 and startswith(id,'a')")})
	if err != nil || len(rows) != 1 || rows[0].Task.ID != "a" {
		t.Fatalf("tasks after backfill: %d rows, %v", len(rows), err)
	}
	jobs, _, err := s.ListJobs(ctx, store.Page{Filter: filter(filterprops.Job, "poolInfo/poolId eq 'p' and id eq 'j'")})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs after backfill: %d, %v", len(jobs), err)
	}
	pools, _, err := s.ListPools(ctx, store.Page{Filter: filter(filterprops.Pool, "vmSize eq 'small'")})
	if err != nil || len(pools) != 1 {
		t.Fatalf("pools after backfill: %d, %v", len(pools), err)
	}
}
