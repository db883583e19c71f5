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

func jobColumns(j *api.Job) (state, pool string, prio int32) {
	pool = lower(j.RunsOn())
	if j.Priority != nil {
		prio = *j.Priority
	}
	return string(j.State), pool, prio
}

// CreateJob adds a job.
func (s *Store) CreateJob(ctx context.Context, j *api.Job) error {
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	state, pool, prio := jobColumns(j)
	return s.tx(ctx, func(tx *Tx) error {
		seq, err := nextSeq(tx, "jobs")
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO jobs(id_lower, seq, state, pool_lower, priority, body`+jobFilter.written(false)+
			`) VALUES(?,?,?,?,?,?`+jobFilter.placeholders()+`)`,
			append([]any{lower(j.ID), seq, state, pool, prio, body}, jobFilter.values(j)...)...)
		if s.isUnique(err) {
			return store.ErrExists
		}
		return err
	})
}

// GetJob reads a job.
func (s *Store) GetJob(ctx context.Context, id string) (*api.Job, error) {
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT body FROM jobs WHERE id_lower=?`, lower(id)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	var j api.Job
	return &j, json.Unmarshal(body, &j)
}

// ListJobs lists jobs in creation order.
func (s *Store) ListJobs(ctx context.Context, pg store.Page) ([]*api.Job, string, error) {
	var out []*api.Job
	next, err := s.list(ctx, listQuery{table: "jobs", filter: jobFilter}, pg, func(body []byte) (any, error) {
		var j api.Job
		return &j, json.Unmarshal(body, &j)
	}, func(v any) { out = append(out, v.(*api.Job)) })
	return out, next, err
}

// UpdateJob runs fn on a job in a transaction.
func (s *Store) UpdateJob(ctx context.Context, id string, fn func(*api.Job) error) (*api.Job, error) {
	return updateJSON(s, ctx, `SELECT body FROM jobs WHERE id_lower=?`, []any{lower(id)}, fn,
		func(tx *Tx, j *api.Job, body []byte) error {
			state, pool, prio := jobColumns(j)
			args := append([]any{body, state, pool, prio}, jobFilter.values(j)...)
			_, err := tx.Exec(`UPDATE jobs SET body=?, state=?, pool_lower=?, priority=?`+jobFilter.written(true)+` WHERE id_lower=?`,
				append(args, lower(id))...)
			return err
		})
}

// DeleteJob removes a job and its tasks.
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM jobs WHERE id_lower=?`, lower(id))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(`DELETE FROM leases WHERE job_lower=?`, lower(id)); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM tasks WHERE job_lower=?`, lower(id))
		return err
	})
}
