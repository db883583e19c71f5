package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

const taskCols = `seq, job_lower, epoch, node_id, waiting, body`

func scanTask(sc interface{ Scan(...any) error }) (*store.TaskRow, error) {
	var row store.TaskRow
	var body []byte
	var waiting int
	if err := sc.Scan(&row.Seq, &row.JobID, &row.Epoch, &row.NodeID, &waiting, &body); err != nil {
		return nil, err
	}
	row.Waiting = waiting != 0
	row.Task = new(api.Task)
	if err := json.Unmarshal(body, row.Task); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	return &row, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func taskResult(t *api.Task) string {
	if t.ExecutionInfo != nil {
		return string(t.ExecutionInfo.Result)
	}
	return ""
}

// CreateTasks adds tasks to a job in one transaction. A task whose
// dependsOn is non-empty is stored as waiting.
func (s *Store) CreateTasks(ctx context.Context, jobID string, tasks []*api.Task) ([]error, error) {
	errs := make([]error, len(tasks))
	bodies := make([][]byte, len(tasks))
	for i, t := range tasks {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	err := s.tx(ctx, func(tx *Tx) error {
		// Reserve room in the job's task count first: the update locks the
		// job's row, so concurrent adds to one job follow each other and
		// the limit holds, and a change of the job's state (terminate,
		// delete) waits for the add or is seen by it. What turns out not
		// to be added is given back.
		res, err := tx.Exec(`UPDATE jobs SET task_count = task_count + ? WHERE id_lower = ? AND task_count + ? <= ?
			AND state NOT IN ('terminating', 'completed', 'deleting')`,
			len(tasks), lower(jobID), len(tasks), api.MaxTasksPerJob)
		if err != nil {
			return fmt.Errorf("count tasks of %s: %w", jobID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var state string
			switch err := tx.QueryRow(`SELECT state FROM jobs WHERE id_lower = ?`, lower(jobID)).Scan(&state); {
			case err == nil && (state == string(api.JobTerminating) || state == string(api.JobCompleted) || state == string(api.JobDeleting)):
				return store.ErrJobClosed
			case err == nil:
				return store.ErrJobTaskLimit
			}
			// No such job row: tasks of a job the store does not know
			// (tests) are added without a count.
		}
		// The tasks' sequence numbers come from the counter row, which
		// stays locked until this transaction commits (see the package
		// doc). A database whose tasks were numbered before the counter
		// existed starts it above them.
		var last int64
		if err := tx.QueryRow(`INSERT INTO counters(name, value) VALUES('tasks', (SELECT COALESCE(MAX(seq), 0) FROM tasks) + ?)
			ON CONFLICT(name) DO UPDATE SET value = counters.value + ? RETURNING value`, len(tasks), len(tasks)).Scan(&last); err != nil {
			return fmt.Errorf("next tasks sequence: %w", err)
		}
		seq := last - int64(len(tasks))
		stmt, err := tx.Prepare(`INSERT INTO tasks(seq, job_lower, id_lower, state, result, waiting, slots, body` + taskFilter.written(false) +
			`) VALUES(?,?,?,?,?,?,?,?` + taskFilter.placeholders() + `) ON CONFLICT(job_lower, id_lower) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		added := 0
		defer func() {
			if missed := len(tasks) - added; missed > 0 {
				_, _ = tx.Exec(`UPDATE jobs SET task_count = task_count - ? WHERE id_lower = ?`, missed, lower(jobID))
			}
		}()
		for i, t := range tasks {
			seq++
			waiting := t.DependsOn != nil && (len(t.DependsOn.TaskIDs) > 0 || len(t.DependsOn.TaskIDRanges) > 0)
			args := append([]any{seq, lower(jobID), lower(t.ID), string(t.State), taskResult(t), b2i(waiting), store.TaskSlots(t), bodies[i]},
				taskFilter.values(t)...)
			res, err := stmt.Exec(args...)
			if err != nil {
				errs[i] = fmt.Errorf("insert task %s: %w", t.ID, err)
				continue
			}
			if n, _ := res.RowsAffected(); n == 0 {
				errs[i] = store.ErrExists
				continue
			}
			added++
		}
		return nil
	})
	return errs, err
}

// GetTask reads a task.
func (s *Store) GetTask(ctx context.Context, jobID, taskID string) (*store.TaskRow, error) {
	row, err := scanTask(s.r.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_lower=? AND id_lower=?`, lower(jobID), lower(taskID)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s/%s: %w", jobID, taskID, err)
	}
	return row, nil
}

// tasksByIDBatch is how many IDs one TasksByID query binds, well under
// SQLite's limit of bound parameters.
const tasksByIDBatch = 500

// TasksByID returns the job's tasks among ids, keyed by lower-case ID.
func (s *Store) TasksByID(ctx context.Context, jobID string, ids []string) (map[string]*store.TaskRow, error) {
	out := make(map[string]*store.TaskRow, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), tasksByIDBatch)
		args := make([]any, 0, n+1)
		args = append(args, lower(jobID))
		for _, id := range ids[:n] {
			args = append(args, lower(id))
		}
		ids = ids[n:]
		q := `SELECT ` + taskCols + ` FROM tasks WHERE job_lower=? AND id_lower IN (?` + strings.Repeat(",?", n-1) + `)`
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("tasks of %s by id: %w", jobID, err)
		}
		got, err := collectTasks(rows)
		if err != nil {
			return nil, fmt.Errorf("tasks of %s by id: %w", jobID, err)
		}
		for _, r := range got {
			out[lower(r.Task.ID)] = r
		}
	}
	return out, nil
}

// ListTasks lists a job's tasks in insertion order.
func (s *Store) ListTasks(ctx context.Context, jobID string, pg store.Page) ([]*store.TaskRow, string, error) {
	var out []*store.TaskRow
	q := listQuery{table: "tasks", conds: []string{"job_lower = ?"}, args: []any{lower(jobID)}, filter: taskFilter,
		entity: func(v any) any { return v.(*store.TaskRow).Task }}
	next, err := s.list(ctx, q, pg, func(body []byte) (any, error) {
		t := new(api.Task)
		if err := json.Unmarshal(body, t); err != nil {
			return nil, err
		}
		return &store.TaskRow{Task: t, JobID: jobID}, nil
	}, func(v any) { out = append(out, v.(*store.TaskRow)) })
	return out, next, err
}

// UpdateTask runs fn on a task in a transaction.
func (s *Store) UpdateTask(ctx context.Context, jobID, taskID string, fn func(*store.TaskRow) error) (*store.TaskRow, error) {
	var row *store.TaskRow
	err := s.tx(ctx, func(tx *Tx) error {
		var err error
		row, err = scanTask(tx.QueryRow(`SELECT `+taskCols+` FROM tasks WHERE job_lower=? AND id_lower=?`+s.d.ForUpdate, lower(jobID), lower(taskID)))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		was := row.NodeID
		if err := fn(row); err != nil {
			return err
		}
		return writeTask(tx, row, was)
	})
	if err != nil {
		return nil, err
	}
	return row, nil
}

// LeaseTasks implements store.Store. The candidates were read outside the
// transaction, so it first reads, and where rows are locked (PostgreSQL)
// locks, the rows of the candidates' jobs in ID order: limited jobs for
// update, so that batches on one limited job follow one another and each
// counts the leases committed before it; the others for share, so that a
// change of the job's state (disable, terminate, delete) waits for the
// batch or is seen by it. Only tasks of jobs still active are leased. It
// then reads and locks the node's row and asks b.NodeTakes, so that
// batches onto one node follow one another and a change of the node's
// state is ordered before or after the batch. The tasks' rows are read
// last, with SKIP LOCKED, so a batch never waits for a task another
// transaction holds (the order every batch takes, so batches do not
// deadlock). SQLite has one writer, which serializes them anyway.
func (s *Store) LeaseTasks(ctx context.Context, b store.LeaseBatch, fn func(*store.TaskRow) error) ([]*store.TaskRow, int, error) {
	if len(b.Candidates) == 0 || b.Want <= 0 {
		return nil, 0, nil
	}
	var (
		out   []*store.TaskRow
		stale int
	)
	err := s.tx(ctx, func(tx *Tx) error {
		out, stale = nil, 0 // the transaction may run again
		var limited []string
		for job, max := range b.MaxParallel {
			if max > 0 {
				limited = append(limited, job)
			}
		}
		slices.Sort(limited)
		var jobs []string
		for _, c := range b.Candidates {
			jobs = append(jobs, c.JobID)
		}
		slices.Sort(jobs)
		active := make(map[string]bool, len(jobs))
		for _, job := range slices.Compact(jobs) {
			lock := s.d.ForShare
			if b.MaxParallel[job] > 0 {
				lock = s.d.ForUpdate
			}
			var state string
			err := tx.QueryRow(`SELECT state FROM jobs WHERE id_lower=?`+lock, job).Scan(&state)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			active[job] = state == string(api.JobActive)
		}
		var body []byte
		switch err := tx.QueryRow(`SELECT body FROM nodes WHERE id=?`+s.d.ForUpdate, b.NodeID).Scan(&body); {
		case errors.Is(err, sql.ErrNoRows):
			if b.NodeTakes != nil {
				return nil // the node is gone
			}
		case err != nil:
			return err
		case b.NodeTakes != nil:
			var n store.Node
			if err := json.Unmarshal(body, &n); err != nil {
				return fmt.Errorf("node %s: %w", b.NodeID, err)
			}
			if !b.NodeTakes(&n) {
				return nil
			}
		}
		var used int32
		if err := tx.QueryRow(`SELECT COALESCE(SUM(slots), 0) FROM leases WHERE node_id = ?`, b.NodeID).Scan(&used); err != nil {
			return err
		}
		if used >= b.NodeSlots {
			return nil
		}
		running := make(map[string]int32, len(limited))
		for _, job := range limited {
			var n int32
			if err := tx.QueryRow(`SELECT COUNT(*) FROM leases WHERE job_lower = ?`, job).Scan(&n); err != nil {
				return err
			}
			running[job] = n
		}
		taken := int32(0)
		for _, c := range b.Candidates {
			if taken >= b.Want {
				break
			}
			if !active[c.JobID] {
				stale++ // the job was disabled, terminated or deleted since the plan
				continue
			}
			if !fits(c.JobID, c.Slots, taken, used, running, b) {
				continue
			}
			// One row by its key, locked only if no other transaction
			// holds it: a candidate another lease holds costs a round
			// trip, not a wait, and the batch locks the candidates it
			// reads one by one, up to its share, not all of them
			// (locking every candidate at once made concurrent batches
			// skip each other's whole plans). A row read but no longer
			// runnable (another node's lease committed first) stays
			// locked until the batch commits: that node's report on it
			// waits that long. The runnable condition is checked here,
			// not in the WHERE clause: with it there, PostgreSQL's generic
			// plan could read the runnable index instead of the key (39
			// pages a call in the scale run, against 4.5).
			row, err := scanTask(tx.QueryRow(`SELECT `+taskCols+` FROM tasks WHERE seq = ?`+s.d.SkipLocked, c.Seq))
			if errors.Is(err, sql.ErrNoRows) {
				stale++
				continue
			}
			if err != nil {
				return err
			}
			if row.Task.State != api.TaskActive || row.Waiting || row.NodeID != "" {
				stale++
				continue
			}
			need := store.TaskSlots(row.Task)
			if !fits(row.JobID, need, taken, used, running, b) {
				continue
			}
			if err := fn(row); err != nil {
				return err
			}
			if err := writeTask(tx, row, ""); err != nil {
				return err
			}
			taken += need
			used += need
			running[row.JobID]++
			out = append(out, row)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("lease tasks onto node %s: %w", b.NodeID, err)
	}
	return out, stale, nil
}

// fits reports whether a task of job needing need slots fits batch b that
// has taken slots so far, on a node using used slots, with running counts
// of the limited jobs.
func fits(job string, need, taken, used int32, running map[string]int32, b store.LeaseBatch) bool {
	if taken+need > b.Free || used+need > b.NodeSlots {
		return false
	}
	max := b.MaxParallel[job]
	return max <= 0 || running[job] < max
}

// writeTask writes a task row read in tx back, with the columns derived
// from its body, and its lease (the leases table) when its node changed
// from was.
func writeTask(tx *Tx, row *store.TaskRow, was string) error {
	body, err := json.Marshal(row.Task)
	if err != nil {
		return err
	}
	args := append([]any{body, string(row.Task.State), taskResult(row.Task), b2i(row.Waiting), row.NodeID, row.Epoch, store.TaskSlots(row.Task),
		row.NodeID, row.NodeID}, taskFilter.values(row.Task)...)
	_, err = tx.Exec(`UPDATE tasks SET body=?, state=?, result=?, waiting=?, node_id=?, epoch=?, slots=?,
		last_node = CASE WHEN ? != '' THEN ? ELSE last_node END`+taskFilter.written(true)+` WHERE seq=?`,
		append(args, row.Seq)...)
	if err != nil || row.NodeID == was {
		return err
	}
	if row.NodeID == "" {
		_, err = tx.Exec(`DELETE FROM leases WHERE seq = ?`, row.Seq)
		return err
	}
	_, err = tx.Exec(`INSERT INTO leases(seq, job_lower, node_id, slots) VALUES(?, ?, ?, ?)
		ON CONFLICT(seq) DO UPDATE SET job_lower = excluded.job_lower, node_id = excluded.node_id, slots = excluded.slots`,
		row.Seq, lower(row.JobID), row.NodeID, store.TaskSlots(row.Task))
	return err
}

// DeleteTask removes a task.
func (s *Store) DeleteTask(ctx context.Context, jobID, taskID string) error {
	return s.tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`DELETE FROM leases WHERE seq IN (SELECT seq FROM tasks WHERE job_lower=? AND id_lower=?)`, lower(jobID), lower(taskID)); err != nil {
			return fmt.Errorf("delete task %s/%s: %w", jobID, taskID, err)
		}
		res, err := tx.Exec(`DELETE FROM tasks WHERE job_lower=? AND id_lower=?`, lower(jobID), lower(taskID))
		if err != nil {
			return fmt.Errorf("delete task %s/%s: %w", jobID, taskID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(`UPDATE jobs SET task_count = task_count - 1 WHERE id_lower = ? AND task_count > 0`, lower(jobID))
		return err
	})
}

// DeleteJobTasks removes every task of a job.
func (s *Store) DeleteJobTasks(ctx context.Context, jobID string) error {
	return s.tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`DELETE FROM leases WHERE job_lower=?`, lower(jobID)); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM tasks WHERE job_lower=?`, lower(jobID)); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE jobs SET task_count = 0 WHERE id_lower = ?`, lower(jobID))
		return err
	})
}

// TaskStateCounts counts a job's tasks and slots by state and result.
func (s *Store) TaskStateCounts(ctx context.Context, jobID string) (api.TaskCountsResult, error) {
	var res api.TaskCountsResult
	rows, err := s.r.QueryContext(ctx, `SELECT state, result, COUNT(*), SUM(slots) FROM tasks WHERE job_lower=? GROUP BY state, result`, lower(jobID))
	if err != nil {
		return res, fmt.Errorf("count tasks of %s: %w", jobID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var state, result string
		var n, slots int32
		if err := rows.Scan(&state, &result, &n, &slots); err != nil {
			return res, err
		}
		add := func(c *api.TaskCounts, v int32) {
			switch api.TaskState(state) {
			case api.TaskActive:
				c.Active += v
			case api.TaskRunning, api.TaskPreparing:
				c.Running += v
			case api.TaskCompleted:
				c.Completed += v
				if api.TaskExecutionResult(result) == api.ResultFailure {
					c.Failed += v
				} else {
					c.Succeeded += v
				}
			}
		}
		add(&res.TaskCounts, n)
		add(&res.TaskSlotCounts, slots)
	}
	return res, rows.Err()
}

// RunnableTasks returns active, non-waiting tasks of active jobs on a pool,
// highest job priority first, then in insertion order. It walks the pool's
// jobs by priority and reads each job's queue through the runnable index,
// so its cost does not grow with the number of queued tasks.
func (s *Store) RunnableTasks(ctx context.Context, poolID string, max int) ([]store.Candidate, error) {
	if s.d.Lateral {
		return s.runnableLateral(ctx, poolID, max)
	}
	jobs, err := s.r.QueryContext(ctx, `SELECT id_lower FROM jobs WHERE pool_lower = ? AND state = 'active' ORDER BY priority DESC, seq`, lower(poolID))
	if err != nil {
		return nil, fmt.Errorf("runnable jobs of pool %s: %w", poolID, err)
	}
	var ids []string
	for jobs.Next() {
		var id string
		if err := jobs.Scan(&id); err != nil {
			jobs.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	jobs.Close()
	if err := jobs.Err(); err != nil {
		return nil, err
	}
	var out []store.Candidate
	for _, id := range ids {
		rows, err := s.r.QueryContext(ctx, `SELECT seq, job_lower, id_lower, slots FROM tasks
			WHERE state = 'active' AND waiting = 0 AND job_lower = ? ORDER BY seq LIMIT ?`, id, max-len(out))
		if err != nil {
			return nil, fmt.Errorf("runnable tasks of job %s: %w", id, err)
		}
		if out, err = collectCandidates(rows, out); err != nil {
			return nil, fmt.Errorf("runnable tasks of job %s: %w", id, err)
		}
		if len(out) >= max {
			break
		}
	}
	return out, nil
}

// RunnableQuery is runnableLateral's statement (exported for the
// PostgreSQL plan test); its arguments are the most tasks per job, the
// lower-case pool ID and the most tasks in all.
//
// The job's queue is read in (job_lower, seq) order, and the job is
// matched by a range rather than "job_lower = j.id_lower": with the
// equality, the order needed is seq's alone, which the primary key offers,
// and PostgreSQL's planner, assuming the job's active tasks spread evenly
// over it, walked the key from the job's first task past every completed
// one (352 pages a call after 1,500 of 3,000 tasks had run; 10 through the
// job's index).
const RunnableQuery = `SELECT t.seq, t.job_lower, t.id_lower, t.slots FROM jobs j
	CROSS JOIN LATERAL (SELECT job_lower, id_lower, slots, seq FROM tasks
		WHERE state = 'active' AND waiting = 0 AND job_lower >= j.id_lower AND job_lower <= j.id_lower
		ORDER BY job_lower, seq LIMIT ?) t
	WHERE j.pool_lower = ? AND j.state = 'active'
	ORDER BY j.priority DESC, j.seq, t.seq LIMIT ?`

// runnableLateral is RunnableTasks in one statement: the same walk of the
// pool's active jobs by priority, each job's queue read through the
// runnable index, up to max in all.
func (s *Store) runnableLateral(ctx context.Context, poolID string, max int) ([]store.Candidate, error) {
	rows, err := s.r.QueryContext(ctx, RunnableQuery, max, lower(poolID), max)
	if err != nil {
		return nil, fmt.Errorf("runnable tasks of pool %s: %w", poolID, err)
	}
	out, err := collectCandidates(rows, nil)
	if err != nil {
		return nil, fmt.Errorf("runnable tasks of pool %s: %w", poolID, err)
	}
	return out, nil
}

// collectCandidates appends the rows (seq, job_lower, id_lower, slots) to out
// and closes them.
func collectCandidates(rows *sql.Rows, out []store.Candidate) ([]store.Candidate, error) {
	defer rows.Close()
	for rows.Next() {
		var c store.Candidate
		if err := rows.Scan(&c.Seq, &c.JobID, &c.TaskID, &c.Slots); err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// TaskState implements store.Store.
func (s *Store) TaskState(ctx context.Context, jobID, taskID string) (api.TaskState, error) {
	var st string
	err := s.r.QueryRowContext(ctx, `SELECT state FROM tasks WHERE job_lower=? AND id_lower=?`, lower(jobID), lower(taskID)).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("state of task %s/%s: %w", jobID, taskID, err)
	}
	return api.TaskState(st), nil
}

// NodeLoads counts the running and preparing tasks leased to each of
// nodeIDs, and sums their slots.
func (s *Store) NodeLoads(ctx context.Context, nodeIDs []string) (map[string]store.NodeLoad, error) {
	out := make(map[string]store.NodeLoad, len(nodeIDs))
	if len(nodeIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(nodeIDs))
	for i, id := range nodeIDs {
		args[i] = id
		out[id] = store.NodeLoad{}
	}
	q := `SELECT node_id, COUNT(*), SUM(slots) FROM leases WHERE node_id IN (?` + strings.Repeat(",?", len(nodeIDs)-1) + `) GROUP BY node_id`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("node loads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l store.NodeLoad
		if err := rows.Scan(&id, &l.Tasks, &l.Slots); err != nil {
			return nil, err
		}
		out[id] = l
	}
	return out, rows.Err()
}

// WaitingTasks returns a job's waiting tasks.
func (s *Store) WaitingTasks(ctx context.Context, jobID string) ([]*store.TaskRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_lower=? AND state='active' AND waiting=1 ORDER BY seq`, lower(jobID))
	if err != nil {
		return nil, fmt.Errorf("waiting tasks of %s: %w", jobID, err)
	}
	return collectTasks(rows)
}

// TasksOnNode returns the tasks leased to a node.
func (s *Store) TasksOnNode(ctx context.Context, nodeID string) ([]*store.TaskRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE seq IN (SELECT seq FROM leases WHERE node_id = ?) ORDER BY seq`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("tasks on node %s: %w", nodeID, err)
	}
	return collectTasks(rows)
}

func collectTasks(rows *sql.Rows) ([]*store.TaskRow, error) {
	defer rows.Close()
	var out []*store.TaskRow
	for rows.Next() {
		r, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LeasesOnNode returns the leases held by a node.
func (s *Store) LeasesOnNode(ctx context.Context, nodeID string) ([]store.Lease, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT job_lower, id_lower, epoch FROM tasks WHERE seq IN (SELECT seq FROM leases WHERE node_id = ?)`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("leases of node %s: %w", nodeID, err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		l := store.Lease{NodeID: nodeID}
		if err := rows.Scan(&l.JobID, &l.TaskID, &l.Epoch); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// NodeHistory returns the tasks that last ran on a node, newest first (at
// most max), with the number of them that completed and that succeeded.
func (s *Store) NodeHistory(ctx context.Context, nodeID string, max int) (store.NodeHistory, error) {
	var h store.NodeHistory
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN result = 'success' THEN 1 ELSE 0 END), 0) FROM tasks
		WHERE last_node != '' AND last_node = ? AND state = 'completed'`, nodeID).Scan(&h.Completed, &h.Succeeded)
	if err != nil {
		return h, fmt.Errorf("history of node %s: %w", nodeID, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE last_node != '' AND last_node = ? ORDER BY seq DESC LIMIT ?`, nodeID, max)
	if err != nil {
		return h, fmt.Errorf("history of node %s: %w", nodeID, err)
	}
	h.Recent, err = collectTasks(rows)
	return h, err
}
