package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// openOneWriter opens a SQLite database with one connection, as the
// sqlite store's writer is, in a store that caches statements.
func openOneWriter(t *testing.T) *Store {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "c.db")+"?_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE kv(k INTEGER PRIMARY KEY, v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	s := New(db, db, &Dialect{Name: "sqlite", IsUnique: func(error) bool { return false }, CacheStatements: true})
	t.Cleanup(func() { s.Close() })
	return s
}

// Transactions hold the only connection of the writer: a statement they
// meet for the first time must not be prepared on the DB from inside them
// (that waits for the connection forever), while other goroutines run
// statements outside transactions and prepare theirs.
func TestStmtCacheNoDeadlockOnOneConnection(t *testing.T) {
	s := openOneWriter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				// A few texts, each new to the cache at first.
				q := fmt.Sprintf(`INSERT INTO kv(k, v) VALUES(?, %d) ON CONFLICT(k) DO UPDATE SET v = kv.v + 1`, i%5)
				err := s.tx(ctx, func(tx *Tx) error {
					if _, err := tx.Exec(q, g*1000+i); err != nil {
						return err
					}
					var n int
					return tx.QueryRow(`SELECT COUNT(*) FROM kv WHERE v >= ?`, 0).Scan(&n)
				})
				if err == nil {
					var n int
					err = s.w.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM kv WHERE k > %d`, i%3)).Scan(&n)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("deadlocked: ", ctx.Err())
	}
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM kv`).Scan(&n); err != nil || n != 400 {
		t.Fatalf("rows = %d, %v; want 400", n, err)
	}
	c := s.w.stmts
	c.mu.Lock()
	cached, wanted := len(c.m), len(c.wanted)
	c.mu.Unlock()
	// 5 inserts, the transaction's count and 3 counts outside, all
	// prepared once their transactions ended.
	if cached != 10 || wanted != 0 {
		t.Errorf("cached %d, still wanted %d; want 10 and 0", cached, wanted)
	}
}

// Statement texts built per call (filters, IN lists) do not grow the
// cache past its bound; past it they still run, unprepared.
func TestStmtCacheBounded(t *testing.T) {
	s := openOneWriter(t)
	ctx := context.Background()
	for i := range maxCachedStmts + 40 {
		var n int
		if err := s.w.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM kv WHERE k != %d`, i)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := s.tx(ctx, func(tx *Tx) error {
			return tx.QueryRow(fmt.Sprintf(`SELECT COUNT(*) FROM kv WHERE v != %d`, i)).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
	}
	c := s.w.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > maxCachedStmts || len(c.m)+len(c.wanted) > maxCachedStmts {
		t.Errorf("cache holds %d (+%d wanted); bound %d", len(c.m), len(c.wanted), maxCachedStmts)
	}
	if len(c.m) < maxCachedStmts {
		t.Errorf("cache holds %d; want it full (%d)", len(c.m), maxCachedStmts)
	}
}

// A statement that does not prepare is not cached and fails where it runs.
func TestStmtCacheBadStatement(t *testing.T) {
	s := openOneWriter(t)
	if _, err := s.w.ExecContext(context.Background(), `INSERT INTO nosuch VALUES(1)`); err == nil {
		t.Fatal("statement on a missing table ran")
	}
	if n := len(s.w.stmts.m); n != 0 {
		t.Errorf("cached %d statements; want 0", n)
	}
}
