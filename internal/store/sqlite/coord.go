package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/openbatch/openbatch/internal/store/sqlstore"
)

// TryLead takes or renews a lease row. One server owns an SQLite database
// at a time, so leadership is decided by the process clock.
func (s *Store) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now().UnixNano()
	var got string
	err := s.Tx(ctx, func(tx *sqlstore.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO leaders(name, holder, expires) VALUES(?,?,?)
			ON CONFLICT(name) DO UPDATE SET holder=excluded.holder, expires=excluded.expires
			WHERE leaders.holder=excluded.holder OR leaders.expires < ?`, name, holder, now+int64(ttl), now); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT holder FROM leaders WHERE name=?`, name).Scan(&got)
	})
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return got == holder, nil
}

// Notify wakes the receivers of Wakeups in this process: one server owns
// an SQLite database, so the in-process channel is the equivalent of
// PostgreSQL's NOTIFY. Like it, wake-ups coalesce: one pending covers any
// number.
func (s *Store) Notify(context.Context) error {
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Wakeups receives after a Notify in this process.
func (s *Store) Wakeups() <-chan struct{} { return s.wake }
