// Package sqlite is the embedded store: SQLite through a pure-Go driver
// (modernc.org/sqlite, no cgo), in WAL mode, in one file of the data
// directory.
//
// Entities are stored as their JSON wire form, with the columns the store
// filters and orders on (state, pool, priority, lease) kept beside them.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	w *sql.DB // single writer connection
	r *sql.DB // readers
}

var _ store.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS pools (
	id_lower TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,
	body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
	id_lower TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,
	state TEXT NOT NULL,
	pool_lower TEXT NOT NULL,
	priority INTEGER NOT NULL,
	body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_pool ON jobs(pool_lower, state);
CREATE TABLE IF NOT EXISTS tasks (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	job_lower TEXT NOT NULL,
	id_lower TEXT NOT NULL,
	state TEXT NOT NULL,
	result TEXT NOT NULL DEFAULT '',
	waiting INTEGER NOT NULL DEFAULT 0,
	node_id TEXT NOT NULL DEFAULT '',
	epoch INTEGER NOT NULL DEFAULT 0,
	slots INTEGER NOT NULL DEFAULT 1,
	body BLOB NOT NULL,
	UNIQUE(job_lower, id_lower)
);
CREATE INDEX IF NOT EXISTS tasks_runnable ON tasks(state, waiting, job_lower, seq);
CREATE INDEX IF NOT EXISTS tasks_node ON tasks(node_id) WHERE node_id != '';
CREATE INDEX IF NOT EXISTS tasks_counts ON tasks(job_lower, state, result, slots);
CREATE TABLE IF NOT EXISTS nodes (
	pool_lower TEXT NOT NULL,
	id TEXT NOT NULL,
	body BLOB NOT NULL,
	PRIMARY KEY(pool_lower, id)
);
CREATE TABLE IF NOT EXISTS prep_release (
	job_lower TEXT NOT NULL,
	node_id TEXT NOT NULL,
	body BLOB NOT NULL,
	PRIMARY KEY(job_lower, node_id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_schedules (
	id_lower TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,
	state TEXT NOT NULL,
	body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS job_schedules_state ON job_schedules(state, seq);
CREATE TABLE IF NOT EXISTS leaders (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires INTEGER NOT NULL);
`

// Open opens (creating if needed) the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.ExecContext(ctx, schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate schema in %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	return &Store{w: w, r: r}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

func lower(s string) string { return strings.ToLower(s) }

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func nextSeq(tx *sql.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRow(`INSERT INTO counters(name, value) VALUES(?, 1)
		ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next %s sequence: %w", name, err)
	}
	return v, nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func encodeToken(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(seq, 10)))
}

// decodeToken returns the sequence number after which the next page starts.
func decodeToken(tok string) (int64, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || b[0] != 's' {
		return 0, fmt.Errorf("malformed continuation token")
	}
	return strconv.ParseInt(string(b[1:]), 10, 64)
}

func pageSize(pg store.Page) int {
	if pg.Max <= 0 || pg.Max > 1000 {
		return 1000
	}
	return pg.Max
}

// ---- pools ----

// CreatePool adds a pool.
func (s *Store) CreatePool(ctx context.Context, p *api.Pool) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		seq, err := nextSeq(tx, "pools")
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO pools(id_lower, seq, body) VALUES(?,?,?)`, lower(p.ID), seq, body)
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	})
}

// GetPool reads a pool.
func (s *Store) GetPool(ctx context.Context, id string) (*api.Pool, error) {
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT body FROM pools WHERE id_lower=?`, lower(id)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get pool %s: %w", id, err)
	}
	var p api.Pool
	return &p, json.Unmarshal(body, &p)
}

// ListPools lists pools in creation order.
func (s *Store) ListPools(ctx context.Context, pg store.Page) ([]*api.Pool, string, error) {
	var out []*api.Pool
	next, err := s.list(ctx, `SELECT seq, body FROM pools WHERE seq > ? ORDER BY seq LIMIT ?`, nil, pg,
		func(body []byte) (any, error) {
			var p api.Pool
			return &p, json.Unmarshal(body, &p)
		}, func(v any) { out = append(out, v.(*api.Pool)) })
	return out, next, err
}

// UpdatePool runs fn on a pool in a transaction.
func (s *Store) UpdatePool(ctx context.Context, id string, fn func(*api.Pool) error) (*api.Pool, error) {
	return updateJSON(s, ctx, `SELECT body FROM pools WHERE id_lower=?`, []any{lower(id)}, fn,
		func(tx *sql.Tx, _ *api.Pool, body []byte) error {
			_, err := tx.Exec(`UPDATE pools SET body=? WHERE id_lower=?`, body, lower(id))
			return err
		})
}

// DeletePool removes a pool and its nodes.
func (s *Store) DeletePool(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM pools WHERE id_lower=?`, lower(id))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(`DELETE FROM nodes WHERE pool_lower=?`, lower(id))
		return err
	})
}

// list runs a paged query whose first two placeholders are (after-seq, limit)
// preceded by args, decoding and filtering rows in Go. It keeps reading until
// the page is full or the table is exhausted, so a selective filter still
// returns full pages.
func (s *Store) list(ctx context.Context, q string, args []any, pg store.Page,
	decode func([]byte) (any, error), emit func(any)) (string, error) {
	after, err := decodeToken(pg.Token)
	if err != nil {
		return "", fmt.Errorf("%w: %v", store.ErrBadToken, err)
	}
	want := pageSize(pg)
	got := 0
	for {
		batch := want - got + 1
		if pg.Match != nil && batch < 200 {
			batch = 200
		}
		rows, err := s.r.QueryContext(ctx, q, append(append([]any{}, args...), after, batch)...)
		if err != nil {
			return "", fmt.Errorf("list: %w", err)
		}
		n := 0
		var lastSeq int64
		full := false
		for rows.Next() {
			var seq int64
			var body []byte
			if err := rows.Scan(&seq, &body); err != nil {
				rows.Close()
				return "", err
			}
			n++
			if got == want {
				// One more matching row exists beyond the page: there is a next page.
				v, err := decode(body)
				if err != nil {
					rows.Close()
					return "", err
				}
				if pg.Match == nil || pg.Match(v) {
					full = true
					break
				}
				lastSeq = seq
				after = seq
				continue
			}
			v, err := decode(body)
			if err != nil {
				rows.Close()
				return "", err
			}
			lastSeq = seq
			after = seq
			if pg.Match == nil || pg.Match(v) {
				emit(v)
				got++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		if full {
			return encodeToken(lastSeq), nil
		}
		if n < batch {
			return "", nil // table exhausted
		}
		_ = lastSeq
	}
}

// updateJSON reads one row's JSON body with query, runs fn on it, and
// writes it back with write, all in one transaction. A missing row is
// store.ErrNotFound; an error from fn is returned unchanged and nothing is
// written.
func updateJSON[T any](s *Store, ctx context.Context, query string, args []any, fn func(*T) error,
	write func(tx *sql.Tx, v *T, body []byte) error) (*T, error) {
	v := new(T)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var body []byte
		err := tx.QueryRow(query, args...).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		if body, err = json.Marshal(v); err != nil {
			return err
		}
		return write(tx, v, body)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// migrate brings a database made by an earlier version up to the current
// schema.
func migrate(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('tasks') WHERE name = 'last_node'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		// last_node is the node a task last ran on; it keeps node history
		// (recentTasks, totals) without writing the node on every completion.
		if _, err := db.ExecContext(ctx, `ALTER TABLE tasks ADD COLUMN last_node TEXT NOT NULL DEFAULT ''`); err != nil {
			return err
		}
	}
	_, err := db.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS tasks_last_node ON tasks(last_node, seq) WHERE last_node != ''`)
	return err
}
