package testenv

import (
	"context"
	"database/sql"
	"testing"
)

func TestStartPostgres(t *testing.T) {
	p, err := StartPostgres(context.Background())
	Require(t, err)
	defer p.Close()
	dsn, err := p.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SHOW server_version").Scan(&v); err != nil || v == "" {
		t.Fatalf("server_version %q, %v", v, err)
	}
}
