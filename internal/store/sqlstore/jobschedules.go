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

// CreateJobSchedule adds a job schedule.
func (s *Store) CreateJobSchedule(ctx context.Context, js *api.JobSchedule) error {
	body, err := json.Marshal(js)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Tx) error {
		seq, err := nextSeq(tx, "job_schedules")
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO job_schedules(id_lower, seq, state, body) VALUES(?,?,?,?)`,
			lower(js.ID), seq, string(js.State), body)
		if s.isUnique(err) {
			return store.ErrExists
		}
		return err
	})
}

// GetJobSchedule reads a job schedule.
func (s *Store) GetJobSchedule(ctx context.Context, id string) (*api.JobSchedule, error) {
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT body FROM job_schedules WHERE id_lower=?`, lower(id)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get job schedule %s: %w", id, err)
	}
	var js api.JobSchedule
	return &js, json.Unmarshal(body, &js)
}

// ListJobSchedules lists job schedules in creation order.
func (s *Store) ListJobSchedules(ctx context.Context, pg store.Page) ([]*api.JobSchedule, string, error) {
	var out []*api.JobSchedule
	next, err := s.list(ctx, listQuery{table: "job_schedules"}, pg, func(body []byte) (any, error) {
		var js api.JobSchedule
		return &js, json.Unmarshal(body, &js)
	}, func(v any) { out = append(out, v.(*api.JobSchedule)) })
	return out, next, err
}

// UpdateJobSchedule runs fn on a job schedule in a transaction.
func (s *Store) UpdateJobSchedule(ctx context.Context, id string, fn func(*api.JobSchedule) error) (*api.JobSchedule, error) {
	return updateJSON(s, ctx, `SELECT body FROM job_schedules WHERE id_lower=?`, []any{lower(id)}, fn,
		func(tx *Tx, js *api.JobSchedule, body []byte) error {
			_, err := tx.Exec(`UPDATE job_schedules SET body=?, state=? WHERE id_lower=?`, body, string(js.State), lower(id))
			return err
		})
}

// DeleteJobSchedule removes a job schedule (its jobs are the caller's).
func (s *Store) DeleteJobSchedule(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM job_schedules WHERE id_lower=?`, lower(id))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
