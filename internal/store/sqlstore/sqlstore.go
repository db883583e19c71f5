// Package sqlstore is the store.Store of openbatch over database/sql, in
// SQL that SQLite and PostgreSQL both run: entities are stored as their
// JSON wire form, with the columns the store filters and orders on (state,
// pool, priority, lease) beside them. A Dialect carries what differs: the
// placeholder style, row locks, and how errors read. The sqlite and
// postgres packages open a database, migrate its schema, and add what is
// theirs alone (leader leases by whose clock, wake-ups between servers).
//
// Isolation: every Update* call is one transaction that reads the row
// (locked FOR UPDATE on PostgreSQL; SQLite has one writer), runs the
// caller's function and writes the row back, so concurrent updates of one
// entity never lose each other's changes; LeaseTasks does the same for
// each task it leases, in one transaction per batch. Reads outside
// updates see committed data and may be stale by the time they return.
// Listings page by a sequence number taken from a counter row that the
// inserting transaction holds locked until it commits, so sequence order
// is commit order and a page never skips a row committed later.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// Dialect is what differs between the databases sqlstore runs on.
type Dialect struct {
	// Name names the database in errors.
	Name string
	// Numbered says placeholders are $1, $2, … rather than ?.
	Numbered bool
	// ForUpdate is appended to the SELECT of a read-modify-write to lock
	// the row ("" where transactions are serialized anyway).
	ForUpdate string
	// SkipLocked is ForUpdate that skips a row another transaction holds
	// rather than waiting for it (a lease's read of its task).
	SkipLocked string
	// ForShare is appended to a SELECT to lock the row against writers
	// but not against other ForShare readers (a lease's read of a job's
	// state: batches on one job do not wait for each other, a change of
	// the job's state waits for them).
	ForShare string
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique func(error) bool
	// Retryable reports whether a transaction that failed with err may be
	// run again (a deadlock or serialization failure); nil: never.
	Retryable func(error) bool
	// CacheStatements says the store prepares each statement once per
	// connection and reuses it (see stmtCache); for drivers that parse
	// every unprepared call (SQLite), not for those that cache themselves
	// (pgx).
	CacheStatements bool
	// Lateral says the database runs LATERAL joins: queries that would
	// otherwise be one per row of an outer query (RunnableTasks, one per
	// job) are one statement, one round trip.
	Lateral bool
}

// Store is a store.Store over database/sql. It does not implement
// store.Coordination: the database packages add that.
type Store struct {
	w *DB // writes (SQLite: one connection)
	r *DB // reads
	d *Dialect
}

// New returns a store over w (for transactions) and r (for reads; may be
// w) in dialect d.
func New(w, r *sql.DB, d *Dialect) *Store {
	wdb := &DB{DB: w, d: d}
	rdb := wdb
	if r != w {
		rdb = &DB{DB: r, d: d}
	}
	if d.CacheStatements {
		wdb.stmts = newStmtCache(w)
		if rdb != wdb {
			rdb.stmts = newStmtCache(r)
		}
	}
	return &Store{w: wdb, r: rdb, d: d}
}

// Close closes the databases.
func (s *Store) Close() error {
	s.w.stmts.close()
	if s.r.DB == s.w.DB {
		return s.w.Close()
	}
	s.r.stmts.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Tx runs fn in a transaction: committed if fn returns nil, rolled back
// (and the error returned unchanged) otherwise.
func (s *Store) Tx(ctx context.Context, fn func(*Tx) error) error { return s.tx(ctx, fn) }

// DB is a *sql.DB whose queries are written with ? placeholders.
type DB struct {
	*sql.DB
	d     *Dialect
	stmts *stmtCache // nil: statements run unprepared
}

// ExecContext runs q.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = db.d.rebind(q)
	if st := db.stmts.get(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.DB.ExecContext(ctx, q, args...)
}

// QueryContext runs q.
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = db.d.rebind(q)
	if st := db.stmts.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.DB.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	q = db.d.rebind(q)
	if st := db.stmts.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.DB.QueryRowContext(ctx, q, args...)
}

// Tx is a *sql.Tx whose queries are written with ? placeholders.
type Tx struct {
	*sql.Tx
	ctx   context.Context
	d     *Dialect
	stmts *stmtCache // the writer's; nil: statements run unprepared
}

// stmt returns the transaction's use of q's cached statement, or nil.
func (tx *Tx) stmt(q string) *sql.Stmt {
	if st := tx.stmts.lookup(q); st != nil {
		return tx.Tx.StmtContext(tx.ctx, st)
	}
	return nil
}

// Exec runs q in the transaction.
func (tx *Tx) Exec(q string, args ...any) (sql.Result, error) {
	q = tx.d.rebind(q)
	if st := tx.stmt(q); st != nil {
		return st.ExecContext(tx.ctx, args...)
	}
	return tx.Tx.ExecContext(tx.ctx, q, args...)
}

// QueryRow runs q in the transaction.
func (tx *Tx) QueryRow(q string, args ...any) *sql.Row {
	q = tx.d.rebind(q)
	if st := tx.stmt(q); st != nil {
		return st.QueryRowContext(tx.ctx, args...)
	}
	return tx.Tx.QueryRowContext(tx.ctx, q, args...)
}

// Query runs q in the transaction.
func (tx *Tx) Query(q string, args ...any) (*sql.Rows, error) {
	q = tx.d.rebind(q)
	if st := tx.stmt(q); st != nil {
		return st.QueryContext(tx.ctx, args...)
	}
	return tx.Tx.QueryContext(tx.ctx, q, args...)
}

// Prepare prepares q in the transaction.
func (tx *Tx) Prepare(q string) (*sql.Stmt, error) {
	return tx.Tx.PrepareContext(tx.ctx, tx.d.rebind(q))
}

// rebind turns ? placeholders into $1, $2, … for numbered dialects. The
// store's statements have no ? inside string literals.
func (d *Dialect) rebind(q string) string {
	if !d.Numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func lower(s string) string { return strings.ToLower(s) }

func (s *Store) tx(ctx context.Context, fn func(*Tx) error) error {
	// The statements the transaction ran unprepared are prepared once it
	// has given its connection back.
	defer s.w.stmts.prepareWanted(ctx)
	for attempt := 0; ; attempt++ {
		err := s.tx1(ctx, fn)
		if err == nil || s.d.Retryable == nil || !s.d.Retryable(err) || attempt == 4 || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) tx1(ctx context.Context, fn func(*Tx) error) error {
	stx, err := s.w.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&Tx{Tx: stx, ctx: ctx, d: s.d, stmts: s.w.stmts}); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func nextSeq(tx *Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRow(`INSERT INTO counters(name, value) VALUES(?, 1)
		ON CONFLICT(name) DO UPDATE SET value = counters.value + 1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next %s sequence: %w", name, err)
	}
	return v, nil
}

func (s *Store) isUnique(err error) bool { return err != nil && s.d.IsUnique(err) }

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
	return s.tx(ctx, func(tx *Tx) error {
		seq, err := nextSeq(tx, "pools")
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO pools(id_lower, seq, body`+poolFilter.written(false)+`) VALUES(?,?,?`+poolFilter.placeholders()+`)`,
			append([]any{lower(p.ID), seq, body}, poolFilter.values(p)...)...)
		if s.isUnique(err) {
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
	next, err := s.list(ctx, listQuery{table: "pools", filter: poolFilter}, pg,
		func(body []byte) (any, error) {
			var p api.Pool
			return &p, json.Unmarshal(body, &p)
		}, func(v any) { out = append(out, v.(*api.Pool)) })
	return out, next, err
}

// UpdatePool runs fn on a pool in a transaction.
func (s *Store) UpdatePool(ctx context.Context, id string, fn func(*api.Pool) error) (*api.Pool, error) {
	return updateJSON(s, ctx, `SELECT body FROM pools WHERE id_lower=?`, []any{lower(id)}, fn,
		func(tx *Tx, p *api.Pool, body []byte) error { return writePool(tx, id, p, body) })
}

// writePool writes a pool's encoded body and its filter columns back.
func writePool(tx *Tx, id string, p *api.Pool, body []byte) error {
	args := append([]any{body}, poolFilter.values(p)...)
	_, err := tx.Exec(`UPDATE pools SET body=?`+poolFilter.written(true)+` WHERE id_lower=?`, append(args, lower(id))...)
	return err
}

// DeletePool removes a pool, its nodes and its autoscale samples.
func (s *Store) DeletePool(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM pools WHERE id_lower=?`, lower(id))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		if _, err = tx.Exec(`DELETE FROM nodes WHERE pool_lower=?`, lower(id)); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM autoscale_samples WHERE pool_lower=?`, lower(id))
		return err
	})
}

// listQuery describes a paged listing: the rows of table that meet the
// conditions conds (with args), in seq order.
type listQuery struct {
	table string
	conds []string
	args  []any
	// filter is the table's filter columns (nil: none); entity turns a
	// decoded row into the entity the filter reads (nil: the row is it).
	filter *filterTable
	entity func(any) any
}

// list reads one page of q: the page's $filter runs in SQL as far as the
// table's filter columns allow, the rest of it and the caller's Match in
// Go on the rows read. It keeps reading until the page is full, the rows
// are exhausted, or it has read pg.Scan rows (store.DefaultScanBudget):
// then the page is short, or empty, with a token after the last row read.
func (s *Store) list(ctx context.Context, q listQuery, pg store.Page,
	decode func([]byte) (any, error), emit func(any)) (string, error) {
	after, err := decodeToken(pg.Token)
	if err != nil {
		return "", fmt.Errorf("%w: %v", store.ErrBadToken, err)
	}
	conds, args := q.conds, q.args
	if pg.State != "" {
		conds = append(conds[:len(conds):len(conds)], "state = ?")
		args = append(args[:len(args):len(args)], pg.State)
	}
	sf := q.filter.translate(pg.Filter)
	if sf.where != "" {
		conds = append(conds[:len(conds):len(conds)], sf.where)
		args = append(args[:len(args):len(args)], sf.args...)
	}
	entity := q.entity
	if entity == nil {
		entity = func(v any) any { return v }
	}
	match := residual(sf.rest, pg.Match, entity)
	conds = append(conds[:len(conds):len(conds)], "seq > ?")
	query := `SELECT seq, body FROM ` + q.table + ` WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY seq LIMIT ?`

	want := pageSize(pg)
	budget := pg.Scan
	if budget <= 0 {
		budget = store.DefaultScanBudget
	}
	got, scanned := 0, 0
	for {
		batch := want - got + 1
		if match != nil {
			batch = min(max(batch, 200), budget-scanned)
			if batch <= 0 {
				// Read as much as a page may: the client continues
				// after the last row read.
				return encodeToken(after), nil
			}
		}
		rows, err := s.r.QueryContext(ctx, query, append(append([]any{}, args...), after, batch)...)
		if err != nil {
			return "", fmt.Errorf("list %s: %w", q.table, err)
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
			scanned++
			v, err := decode(body)
			if err != nil {
				rows.Close()
				return "", err
			}
			if match != nil && !match(v) {
				lastSeq, after = seq, seq
				continue
			}
			if got == want {
				// One more matching row exists beyond the page: there is a next page.
				full = true
				break
			}
			lastSeq, after = seq, seq
			emit(v)
			got++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		if full {
			return encodeToken(lastSeq), nil
		}
		if n < batch {
			return "", nil // rows exhausted
		}
	}
}

// updateJSON reads one row's JSON body with query, runs fn on it, and
// writes it back with write, all in one transaction. A missing row is
// store.ErrNotFound; an error from fn is returned unchanged and nothing is
// written.
func updateJSON[T any](s *Store, ctx context.Context, query string, args []any, fn func(*T) error,
	write func(tx *Tx, v *T, body []byte) error) (*T, error) {
	v := new(T)
	err := s.tx(ctx, func(tx *Tx) error {
		var body []byte
		err := tx.QueryRow(query+s.d.ForUpdate, args...).Scan(&body)
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
