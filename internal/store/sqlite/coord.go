package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// TryLead takes or renews a lease row. One server owns an SQLite database
// at a time, so leadership is decided by the process clock.
func (s *Store) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now().UnixNano()
	var got string
	err := s.tx(ctx, func(tx *sql.Tx) error {
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

// Notify does nothing: the one server that opens the database wakes its
// own waiters directly.
func (s *Store) Notify(context.Context) error { return nil }

// Wakeups is nil: no other server shares an SQLite database.
func (s *Store) Wakeups() <-chan struct{} { return nil }
