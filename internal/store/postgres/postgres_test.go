package postgres

import (
	"context"
	"errors"
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

// openTwo opens two stores on dsn, as two servers sharing a database do.
func openTwo(t *testing.T, dsn string) (a, b *Store) {
	t.Helper()
	for _, s := range []**Store{&a, &b} {
		st, err := Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		*s = st
	}
	return a, b
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
	a, b := openTwo(t, dsn)
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

// While its database is down, a store's calls fail at once with errors
// store.Unavailable recognises (which clients get as a retryable
// ServerBusy); once the database is back, the same store serves again and
// its LISTEN connection comes back, so other servers' wake-ups reach it
// without a restart of its own.
func TestDatabaseCrashAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := testenv.StartPostgres(ctx)
	testenv.Require(t, err)
	defer pg.Close()
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := openTwo(t, dsn)
	hears := func(within time.Duration) bool {
		deadline := time.After(within)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := a.Notify(ctx); err != nil && !store.Unavailable(err) {
				t.Fatal(err)
			}
			select {
			case <-b.Wakeups():
				return true
			case <-tick.C:
			case <-deadline:
				return false
			}
		}
	}
	if !hears(30 * time.Second) {
		t.Fatal("no wake-up before the crash")
	}

	if err := pg.Crash(); err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { _, err := a.GetJob(ctx, "j"); return err },
		func() error { _, err := a.TryLead(ctx, "x", "a", time.Minute); return err },
		func() error { return a.Notify(ctx) },
	} {
		if err := call(); !store.Unavailable(err) {
			t.Fatalf("with the database down: %v, want an error store.Unavailable recognises", err)
		}
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := a.GetJob(ctx, "j")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The reconnected listener wakes its server once (notifications sent
	// while it was away are lost); after that, a Notify reaches it.
	if !hears(15 * time.Second) {
		t.Fatal("no wake-up after the restart")
	}
	for len(b.Wakeups()) > 0 {
		<-b.Wakeups()
	}
	if !hears(5 * time.Second) {
		t.Fatal("another server's wake-up did not arrive after the restart")
	}
}
