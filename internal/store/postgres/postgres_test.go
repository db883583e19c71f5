package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/storetest"
	"github.com/openbatch/openbatch/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopSharedPostgres()
	os.Exit(code)
}

// Open returns a store on a fresh database of the shared test server.
func open(t *testing.T) *Store {
	t.Helper()
	pg, err := testenv.SharedPostgres()
	testenv.Require(t, err)
	dsn, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the store conformance suite on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// FuzzTaskFilter checks fuzzed task filters against the Go evaluator on
// PostgreSQL: go test -fuzz FuzzTaskFilter ./internal/store/postgres/
func FuzzTaskFilter(f *testing.F) {
	storetest.FuzzTaskFilter(f, func(t *testing.T) store.Store { return open(t) })
}

// A Notify on one server's store reaches another's Wakeups.
func TestWakeupsCrossStores(t *testing.T) {
	pg, err := testenv.SharedPostgres()
	testenv.Require(t, err)
	dsn, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// LISTEN starts in the background: notify until b hears one.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := a.Notify(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.Wakeups():
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("no wake-up reached the other store")
		}
	}
}

// Two servers' stores on one database elect one leader by the database's
// clock.
func TestLeaderAcrossStores(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if ok, err := s.TryLead(ctx, "x", "a", time.Minute); err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, err := s.TryLead(ctx, "x", "b", time.Minute); err != nil || ok {
		t.Fatalf("b took a held lease: %v %v", ok, err)
	}
}
