// Package sqlite is the embedded store: SQLite through a pure-Go driver
// (modernc.org/sqlite, no cgo), in WAL mode, in one file of the data
// directory, behind sqlstore's SQL. One server owns the database; writes
// go through one connection, so transactions are serialized.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlstore"
)

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	*sqlstore.Store
	// wake carries Notify to Wakeups (see coord.go).
	wake chan struct{}
}

var _ store.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	Name:            "sqlite",
	IsUnique:        func(err error) bool { return strings.Contains(err.Error(), "UNIQUE constraint failed") },
	CacheStatements: true,
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + uriPath(path) + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
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
	return &Store{Store: sqlstore.New(w, r, dialect), wake: make(chan struct{}, 1)}, nil
}

// migrate brings the database to the current schema with goose's
// versioned migrations (migrations/*.sql). Databases made before
// openbatch used goose have the tables of the first migration, which is
// written to be a no-op on them, and perhaps lack what later versions
// added before goose came: legacy adds that first.
func migrate(ctx context.Context, db *sql.DB) error {
	if err := legacy(ctx, db); err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations), goose.WithGoMigrations(dialect.GoMigrations()...))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// legacy adds tasks.last_node to a database made before it existed (and
// before migrations were versioned).
func legacy(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='tasks'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('tasks') WHERE name = 'last_node'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		_, err := db.ExecContext(ctx, `ALTER TABLE tasks ADD COLUMN last_node TEXT NOT NULL DEFAULT ''`)
		return err
	}
	return nil
}

// uriPath escapes the characters that end or escape a path in an SQLite
// URI filename, so that a data directory named with '?' or '#' opens the
// file it names (unescaped, "#" would cut the path short and open another
// file).
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

func mustSub(f embed.FS) fs.FS {
	sub, err := fs.Sub(f, "migrations")
	if err != nil {
		panic(err) // the embedded directory is there at build time
	}
	return sub
}
