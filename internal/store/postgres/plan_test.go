package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlstore"
	"github.com/openbatch/openbatch/internal/testenv"
)

// PostgreSQL's generic plan of RunnableTasks reads the job's queue
// through an index of the job's tasks, not by walking the primary key
// past the completed ones: statistics taken while every task was active
// (as after a large job is added) made the planner expect the next active
// task at the head of the key.
func TestRunnablePlanSkipsCompletedTasks(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.SharedPostgres()
	testenv.Require(t, err)
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateJob(ctx, &api.Job{ID: "j", State: api.JobActive, PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
		t.Fatal(err)
	}
	for b := range 30 {
		var ts []*api.Task
		for i := range 100 {
			ts = append(ts, &api.Task{ID: fmt.Sprintf("t%05d", b*100+i), State: api.TaskActive})
		}
		if _, err := s.CreateTasks(ctx, "j", ts); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ANALYZE tasks"); err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		if _, err := s.UpdateTask(ctx, "j", fmt.Sprintf("t%05d", i), func(r *store.TaskRow) error {
			r.Task.State = api.TaskCompleted
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	q, n := sqlstore.RunnableQuery, 0
	for strings.Contains(q, "?") {
		n++
		q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
	}
	for _, stmt := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE runnable(int, text, int) AS " + q} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) EXECUTE runnable(4, 'p', 4)")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "tasks_pkey") || strings.Contains(text, "Rows Removed by Filter: 1500") {
		t.Fatalf("the runnable query walks the completed tasks:\n%s", text)
	}
}
