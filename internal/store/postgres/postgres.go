// Package postgres is the store for several openbatch servers sharing one
// database: PostgreSQL through pgx, behind sqlstore's SQL, with row locks
// for every read-modify-write, a leader lease timed by the database's
// clock, and LISTEN/NOTIFY to wake the other servers.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlstore"
)

// wakeChannel is the LISTEN/NOTIFY channel servers wake each other on.
const wakeChannel = "openbatch_wake"

//go:embed migrations/*.sql
var migrations embed.FS

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

var dialect = &sqlstore.Dialect{
	Name:       "postgres",
	Numbered:   true,
	ForUpdate:  " FOR UPDATE",
	SkipLocked: " FOR UPDATE SKIP LOCKED",
	ForShare:   " FOR SHARE",
	IsUnique:   func(err error) bool { return pgCode(err) == "23505" },
	// Deadlock detected, serialization failure: the transaction was rolled
	// back and may run again.
	Retryable: func(err error) bool { c := pgCode(err); return c == "40P01" || c == "40001" },
	Lateral:   true,
}

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	*sqlstore.Store
	dsn    string
	log    *slog.Logger
	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (postgres://…), brings its schema
// up to date, and starts listening for other servers' wake-ups.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate schema: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s := &Store{Store: sqlstore.New(db, db, dialect), dsn: dsn, log: log, wake: make(chan struct{}, 1), cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.listen(lctx)
	}()
	return s, nil
}

// migrate applies the versioned migrations in migrations/*.sql. goose takes
// an advisory lock, so servers starting together migrate once.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithGoMigrations(dialect.GoMigrations()...))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close stops listening and closes the database.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.Store.Close()
}

// TryLead takes or renews a lease row, timed by the database's clock so
// that servers whose clocks disagree agree on when it expires.
func (s *Store) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var got string
	err := s.Tx(ctx, func(tx *sqlstore.Tx) error {
		if _, err := tx.Exec(`INSERT INTO leaders(name, holder, expires) VALUES(?, ?, now() + ? * interval '1 microsecond')
			ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			WHERE leaders.holder = excluded.holder OR leaders.expires < now()`, name, holder, ttl.Microseconds()); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT holder FROM leaders WHERE name = ?`, name).Scan(&got)
	})
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return got == holder, nil
}

// Notify wakes every server listening on the database.
func (s *Store) Notify(ctx context.Context) error {
	return s.Tx(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(`SELECT pg_notify(?, '')`, wakeChannel)
		return err
	})
}

// Wakeups receives after any server's Notify (this one's included).
func (s *Store) Wakeups() <-chan struct{} { return s.wake }

// listen holds one connection that LISTENs for wake-ups, reconnecting after
// a failure, until ctx ends. The wait between attempts doubles up to 5 s
// while the database stays out of reach, and starts again from 100 ms
// once a connection has listened.
func (s *Store) listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		listened, err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if listened {
			backoff = 100 * time.Millisecond
		}
		s.log.Warn("listening for other servers' wake-ups", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listenOnce listens on one connection until it fails; listened reports
// that it got as far as LISTEN.
func (s *Store) listenOnce(ctx context.Context) (listened bool, err error) {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+wakeChannel); err != nil {
		return false, err
	}
	// Notifications sent while no connection listened are lost: wake
	// this server once, as if one had come.
	s.wakeUp()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		s.wakeUp()
	}
}

func (s *Store) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default: // one pending wake-up covers any number
	}
}
