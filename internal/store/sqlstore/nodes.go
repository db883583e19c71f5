package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// PutNode inserts or replaces a node.
func (s *Store) PutNode(ctx context.Context, n *store.Node) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO nodes(pool_lower, id, body) VALUES(?,?,?)
		ON CONFLICT(pool_lower, id) DO UPDATE SET body=excluded.body`, lower(n.PoolID), n.Node.ID, body)
	if err != nil {
		return fmt.Errorf("put node %s: %w", n.Node.ID, err)
	}
	return nil
}

// RegisterNode implements store.Store.
func (s *Store) RegisterNode(ctx context.Context, poolID, nodeID string, fn func(*api.Pool, *store.Node) (*store.Node, error)) (*store.Node, error) {
	var n *store.Node
	err := s.tx(ctx, func(tx *Tx) error {
		p := new(api.Pool)
		if err := readJSON(tx, `SELECT body FROM pools WHERE id_lower=?`+s.d.ForUpdate, p, lower(poolID)); err != nil {
			return err
		}
		old := new(store.Node)
		switch err := readJSON(tx, `SELECT body FROM nodes WHERE pool_lower=? AND id=?`+s.d.ForUpdate, old, lower(poolID), nodeID); {
		case errors.Is(err, store.ErrNotFound):
			old = nil
		case err != nil:
			return err
		}
		var err error
		if n, err = fn(p, old); err != nil {
			return err
		}
		body, err := json.Marshal(n)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO nodes(pool_lower, id, body) VALUES(?,?,?)
			ON CONFLICT(pool_lower, id) DO UPDATE SET body=excluded.body`, lower(poolID), nodeID, body)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("register node %s in pool %s: %w", nodeID, poolID, err)
	}
	return n, nil
}

// GetNode reads a node.
func (s *Store) GetNode(ctx context.Context, poolID, nodeID string) (*store.Node, error) {
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT body FROM nodes WHERE pool_lower=? AND id=?`, lower(poolID), nodeID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var n store.Node
	return &n, json.Unmarshal(body, &n)
}

// ListNodes lists a pool's nodes by ID.
func (s *Store) ListNodes(ctx context.Context, poolID string) ([]*store.Node, error) {
	rows, err := s.r.QueryContext(ctx, poolNodesQuery, lower(poolID))
	if err != nil {
		return nil, err
	}
	return scanNodes(rows)
}

// poolNodesQuery reads a pool's nodes by ID; scanNodes decodes them.
const poolNodesQuery = `SELECT body FROM nodes WHERE pool_lower=? ORDER BY id`

// scanNodes decodes the node bodies rows holds, and closes it.
func scanNodes(rows *sql.Rows) ([]*store.Node, error) {
	defer rows.Close()
	var out []*store.Node
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var n store.Node
		if err := json.Unmarshal(body, &n); err != nil {
			return nil, err
		}
		out = append(out, &n)
	}
	return out, rows.Err()
}

// UpdateNode runs fn on a node in a transaction.
func (s *Store) UpdateNode(ctx context.Context, poolID, nodeID string, fn func(*store.Node) error) (*store.Node, error) {
	return updateJSON(s, ctx, `SELECT body FROM nodes WHERE pool_lower=? AND id=?`, []any{lower(poolID), nodeID}, fn,
		func(tx *Tx, _ *store.Node, body []byte) error { return writeNode(tx, poolID, nodeID, body) })
}

// writeNode writes a node's encoded body back.
func writeNode(tx *Tx, poolID, nodeID string, body []byte) error {
	_, err := tx.Exec(`UPDATE nodes SET body=? WHERE pool_lower=? AND id=?`, body, lower(poolID), nodeID)
	return err
}

// UpdatePoolNodes implements store.Store. Where rows are locked
// (PostgreSQL) the pool is locked first, then its nodes in the order
// given, as DeletePool deletes them.
func (s *Store) UpdatePoolNodes(ctx context.Context, poolID string, nodeIDs []string, nodeFn func(*store.Node) error, poolFn func(*api.Pool) error) (*api.Pool, error) {
	return s.updateLockedPool(ctx, poolID, func(tx *Tx, p *api.Pool) error {
		for _, id := range nodeIDs {
			n := new(store.Node)
			if err := readJSON(tx, `SELECT body FROM nodes WHERE pool_lower=? AND id=?`+s.d.ForUpdate, n, lower(poolID), id); err != nil {
				return err
			}
			if err := nodeFn(n); err != nil {
				return err
			}
			body, err := json.Marshal(n)
			if err == nil {
				err = writeNode(tx, poolID, id, body)
			}
			if err != nil {
				return err
			}
		}
		return poolFn(p)
	})
}

// UpdatePoolWithNodes implements store.Store.
func (s *Store) UpdatePoolWithNodes(ctx context.Context, poolID string, fn func(*api.Pool, []*store.Node) error) (*api.Pool, error) {
	return s.updateLockedPool(ctx, poolID, func(tx *Tx, p *api.Pool) error {
		rows, err := tx.Query(poolNodesQuery, lower(poolID))
		if err != nil {
			return err
		}
		nodes, err := scanNodes(rows)
		if err != nil {
			return err
		}
		return fn(p, nodes)
	})
}

// updateLockedPool reads the pool with its row locked, runs fn on it in
// the same transaction and writes the pool back; an error from fn writes
// nothing.
func (s *Store) updateLockedPool(ctx context.Context, poolID string, fn func(*Tx, *api.Pool) error) (*api.Pool, error) {
	var p *api.Pool
	err := s.tx(ctx, func(tx *Tx) error {
		p = new(api.Pool)
		if err := readJSON(tx, `SELECT body FROM pools WHERE id_lower=?`+s.d.ForUpdate, p, lower(poolID)); err != nil {
			return err
		}
		if err := fn(tx, p); err != nil {
			return err
		}
		body, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return writePool(tx, poolID, p, body)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// readJSON decodes into v the one JSON body query returns; no row is
// store.ErrNotFound.
func readJSON(tx *Tx, query string, v any, args ...any) error {
	var body []byte
	err := tx.QueryRow(query, args...).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// DeleteNode removes a node.
func (s *Store) DeleteNode(ctx context.Context, poolID, nodeID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM nodes WHERE pool_lower=? AND id=?`, lower(poolID), nodeID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// UpdatePrepRelease implements store.Store. The row is made first (an
// insert that does nothing if it exists) and then read locked, so that two
// transactions on a new record follow one another like those on an old
// one.
func (s *Store) UpdatePrepRelease(ctx context.Context, jobID, nodeID string, fn func(*api.JobPreparationAndReleaseTaskExecutionInformation) error) error {
	return s.tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO prep_release(job_lower, node_id, body) VALUES(?,?,?) ON CONFLICT(job_lower, node_id) DO NOTHING`,
			lower(jobID), nodeID, []byte("{}")); err != nil {
			return err
		}
		info := new(api.JobPreparationAndReleaseTaskExecutionInformation)
		if err := readJSON(tx, `SELECT body FROM prep_release WHERE job_lower=? AND node_id=?`+s.d.ForUpdate, info, lower(jobID), nodeID); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
		body, err := json.Marshal(info)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE prep_release SET body=? WHERE job_lower=? AND node_id=?`, body, lower(jobID), nodeID)
		return err
	})
}

// PrepReleaseStatus lists a job's preparation/release runs by node.
func (s *Store) PrepReleaseStatus(ctx context.Context, jobID string) ([]api.JobPreparationAndReleaseTaskExecutionInformation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT body FROM prep_release WHERE job_lower=? ORDER BY node_id`, lower(jobID))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.JobPreparationAndReleaseTaskExecutionInformation{}
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var v api.JobPreparationAndReleaseTaskExecutionInformation
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PendingReleases returns the completed jobs whose release task is due on
// nodeID.
func (s *Store) PendingReleases(ctx context.Context, nodeID string) ([]*api.Job, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT pr.body, j.body FROM prep_release pr JOIN jobs j ON j.id_lower = pr.job_lower
		WHERE pr.node_id = ? AND j.state IN ('completed', 'terminating', 'deleting')
		AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.node_id = pr.node_id AND l.job_lower = pr.job_lower)`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("pending release tasks of node %s: %w", nodeID, err)
	}
	defer rows.Close()
	var out []*api.Job
	for rows.Next() {
		var prb, jb []byte
		if err := rows.Scan(&prb, &jb); err != nil {
			return nil, err
		}
		var pr api.JobPreparationAndReleaseTaskExecutionInformation
		var j api.Job
		if err := json.Unmarshal(prb, &pr); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(jb, &j); err != nil {
			return nil, err
		}
		if j.JobReleaseTask != nil && pr.JobReleaseTaskExecutionInfo == nil {
			out = append(out, &j)
		}
	}
	return out, rows.Err()
}
