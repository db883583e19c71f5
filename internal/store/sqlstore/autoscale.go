package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openbatch/openbatch/internal/store"
)

// AddAutoScaleSample records a pool's sample (a second sample at the same
// millisecond is ignored) and, in the same transaction, drops the pool's
// samples taken before keepAfter.
func (s *Store) AddAutoScaleSample(ctx context.Context, poolID string, sm store.AutoScaleSample, keepAfter time.Time) error {
	body, err := json.Marshal(sm.Values)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO autoscale_samples(pool_lower, at, body) VALUES(?,?,?)
			ON CONFLICT(pool_lower, at) DO NOTHING`, lower(poolID), sm.Time.UnixMilli(), body); err != nil {
			return fmt.Errorf("add autoscale sample of pool %s: %w", poolID, err)
		}
		if _, err := tx.Exec(`DELETE FROM autoscale_samples WHERE pool_lower=? AND at<?`, lower(poolID), keepAfter.UnixMilli()); err != nil {
			return fmt.Errorf("drop old autoscale samples of pool %s: %w", poolID, err)
		}
		return nil
	})
}

// AutoScaleSamples returns a pool's samples taken at or after since,
// oldest first.
func (s *Store) AutoScaleSamples(ctx context.Context, poolID string, since time.Time) ([]store.AutoScaleSample, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, body FROM autoscale_samples WHERE pool_lower=? AND at>=? ORDER BY at`,
		lower(poolID), since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("autoscale samples of pool %s: %w", poolID, err)
	}
	defer rows.Close()
	var out []store.AutoScaleSample
	for rows.Next() {
		var at int64
		var body []byte
		if err := rows.Scan(&at, &body); err != nil {
			return nil, err
		}
		sm := store.AutoScaleSample{Time: time.UnixMilli(at).UTC()}
		if err := json.Unmarshal(body, &sm.Values); err != nil {
			return nil, fmt.Errorf("autoscale sample of pool %s: %w", poolID, err)
		}
		out = append(out, sm)
	}
	return out, rows.Err()
}
