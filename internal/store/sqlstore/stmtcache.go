package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a stmtCache. The store's statements are a fixed
// set of a few dozen texts; the ones built per call (a $filter's SQL, an IN
// list of n nodes) vary, and past this bound they run unprepared instead
// of growing the cache without end.
const maxCachedStmts = 256

// stmtCache keeps one prepared *sql.Stmt per statement text on a *sql.DB.
//
// modernc.org/sqlite parses and plans a statement on every call that is not
// prepared: in the node protocol's hot path (lease, complete) that parse
// was about a tenth of the server's CPU. database/sql re-prepares a cached
// statement on each pooled connection the first time it runs there, and a
// transaction reuses the one of its connection (sql.Tx.StmtContext), so a
// statement is parsed once per connection. pgx caches prepared statements
// itself, so the PostgreSQL dialect does not use this cache.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// wanted are texts a transaction ran unprepared: a transaction holds
	// its connection (the only one of SQLite's writer), so it cannot
	// prepare on the DB; Store.tx prepares them once it has ended.
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), wanted: make(map[string]bool)}
}

// lookup returns q's prepared statement, or nil when it is not prepared
// yet, in which case it is recorded for prepareWanted. It never blocks on
// the database: transactions call it.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if len(c.m)+len(c.wanted) < maxCachedStmts {
		c.wanted[q] = true
	}
	return nil
}

// get returns q's prepared statement, preparing it on first use; nil when
// the cache is full or q does not prepare (the caller then runs q
// unprepared, and gets the error there). The caller must hold no
// connection of c's DB (no transaction open on it).
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	st, ok := c.m[q]
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	return c.prepare(ctx, q)
}

// prepare prepares q on the DB, without holding the lock (preparing waits
// for a connection, which a transaction that calls lookup may hold), and
// caches it; of two callers preparing one text, the second's is closed.
func (c *stmtCache) prepare(ctx context.Context, q string) *sql.Stmt {
	// A context that ends meanwhile must not leave a half-made entry:
	// preparing is short and bounded by the database's busy timeout.
	st, err := c.db.PrepareContext(context.WithoutCancel(ctx), q)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.wanted, q)
	if err != nil {
		return nil
	}
	if old, ok := c.m[q]; ok {
		_ = st.Close()
		return old
	}
	if len(c.m) >= maxCachedStmts {
		_ = st.Close()
		return nil
	}
	c.m[q] = st
	return st
}

// prepareWanted prepares the texts transactions ran unprepared. The
// caller must hold no connection of c's DB.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		qs = append(qs, q)
	}
	c.mu.Unlock()
	for _, q := range qs {
		c.prepare(ctx, q)
	}
}

// close closes the cached statements.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}
