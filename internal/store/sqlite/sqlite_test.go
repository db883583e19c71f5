package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/openbatch/openbatch/api"
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
