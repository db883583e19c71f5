package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/postgres"
	"github.com/openbatch/openbatch/internal/store/sqlite"
	"github.com/openbatch/openbatch/internal/testenv"
)

// ConcurrentPollers has many nodes poll one scheduler at once, each running
// what it gets for a moment and reporting it (half of them taking their
// next tasks in their reports' answers), and checks that a node never
// holds more than its slots and the job never runs more than its
// maxParallelTasks. What a poller counts as running is incremented after
// its lease committed and decremented before its report commits, so it
// never exceeds what the store had leased: a count over a limit is a real
// violation. Every task must complete exactly once.
func concurrentPollers(t *testing.T, st store.Store) {
	cases := []struct {
		name                     string
		nodes, slots, tasks, max int32
		required                 int32
	}{
		{"maxParallelTasks 1, 8 nodes", 8, 4, 40, 1, 1},
		{"maxParallelTasks 3, 8 nodes", 8, 2, 60, 3, 1},
		{"slots only, 8 nodes x 2", 8, 2, 120, -1, 1},
		{"two-slot tasks, 4 nodes x 3", 4, 3, 40, -1, 2},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			svc := service.New(st, nil)
			s := New(svc, Config{HeartbeatTimeout: time.Minute})
			pool, job := fmt.Sprintf("p%d", i), fmt.Sprintf("j%d", i)
			if err := svc.AddPool(ctx, &api.Pool{ID: pool, VMSize: "x", TargetDedicatedNodes: api.I32(0), TaskSlotsPerNode: api.I32(tc.slots)}); err != nil {
				t.Fatal(err)
			}
			if err := svc.AddJob(ctx, &api.Job{ID: job, PoolInfo: &api.PoolInformation{PoolID: pool}, MaxParallelTasks: api.I32(tc.max)}); err != nil {
				t.Fatal(err)
			}
			var tasks []*api.Task
			for k := range tc.tasks {
				tasks = append(tasks, &api.Task{ID: fmt.Sprintf("t%d", k), CommandLine: "/bin/true", RequiredSlots: api.I32(tc.required)})
			}
			if _, err := svc.AddTasks(ctx, job, tasks, make([]error, len(tasks))); err != nil {
				t.Fatal(err)
			}
			var running, peak atomic.Int32
			var completed, viaReport atomic.Int32
			seen := sync.Map{}
			var wg sync.WaitGroup
			errs := make(chan error, tc.nodes)
			for n := range tc.nodes {
				cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: pool})
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				// Half the nodes offer their free slots in their reports
				// and run what the answers lease (Report.Next); the others
				// poll for all their work.
				go func(nodeID string, offer bool) {
					defer wg.Done()
					var mine int32
					var held []nodeproto.Assignment
					take := func(as []nodeproto.Assignment) {
						for _, a := range as {
							mine += tc.required
							if mine > tc.slots {
								errs <- fmt.Errorf("node %s holds %d slots of %d", nodeID, mine, tc.slots)
							}
							if n := running.Add(1); n > peak.Load() {
								peak.Store(n)
							}
							if _, dup := seen.LoadOrStore(a.Lease.TaskID, true); dup {
								errs <- fmt.Errorf("task %s leased twice", a.Lease.TaskID)
							}
							held = append(held, a)
						}
					}
					for completed.Load() < tc.tasks && ctx.Err() == nil {
						if len(held) == 0 {
							w, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: pool, NodeID: nodeID, FreeSlots: int(tc.slots - mine), Wait: 20 * time.Millisecond})
							if err != nil {
								errs <- err
								return
							}
							take(w.Assignments)
							continue
						}
						time.Sleep(time.Millisecond)
						a := held[0]
						held = held[1:]
						mine -= tc.required
						running.Add(-1)
						next := 0
						if offer {
							next = int(tc.slots - mine)
						}
						done, err := s.Complete(ctx, nodeproto.Report{NodeID: nodeID, PoolID: pool, Lease: a.Lease, ExitCode: api.I32(0), Next: next})
						if err != nil {
							errs <- err
							return
						}
						completed.Add(1)
						viaReport.Add(int32(len(done.Assignments)))
						take(done.Assignments)
					}
					if len(held) > 0 {
						errs <- fmt.Errorf("node %s still holds %d leases after the job completed", nodeID, len(held))
					}
				}(cfg.NodeID, n%2 == 0)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// Without a job limit the offering nodes' reports always find
			// work; with one, a report's lease races the other nodes' polls
			// for the job's one free place and may lose every time on a
			// loaded machine (a CI run saw it), so it is not counted there.
			if tc.max < 0 && viaReport.Load() == 0 {
				t.Error("no task was leased in a report's answer")
			}
			if tc.max > 0 && peak.Load() > tc.max {
				t.Errorf("%d tasks ran at once; maxParallelTasks is %d", peak.Load(), tc.max)
			}
			c, err := st.TaskStateCounts(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			if c.TaskCounts.Completed != tc.tasks || c.TaskCounts.Succeeded != tc.tasks {
				t.Fatalf("counts after the run: %+v", c.TaskCounts)
			}
		})
	}
}

// sqliteStore and postgresStore open a fresh store of each kind for a
// test, closed when it ends.
func sqliteStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func postgresStore(t *testing.T) store.Store {
	t.Helper()
	pg, err := testenv.SharedPostgres()
	testenv.Require(t, err)
	dsn, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConcurrentPollersSQLite(t *testing.T)   { concurrentPollers(t, sqliteStore(t)) }
func TestConcurrentPollersPostgres(t *testing.T) { concurrentPollers(t, postgresStore(t)) }

// concurrentRegistrations has machines register the same new node ID
// with the join token at once, as two agents started with the same
// --node-id would: one becomes the node, every other is refused
// (ErrNodeExists), so no two machines share a node's credential.
func concurrentRegistrations(t *testing.T, st store.Store) {
	ctx := context.Background()
	svc := service.New(st, nil)
	s := New(svc, Config{HeartbeatTimeout: time.Minute, AccountKey: []byte("key")})
	if err := svc.AddPool(ctx, &api.Pool{ID: "rp", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		id := fmt.Sprintf("twin%d", round)
		const machines = 8
		var wg sync.WaitGroup
		var joined, refused atomic.Int32
		errs := make(chan error, machines)
		for range machines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Register(ctx, nodeproto.Registration{PoolID: "rp", NodeID: id, ByJoinToken: true})
				switch {
				case err == nil:
					joined.Add(1)
				case errors.Is(err, nodeproto.ErrNodeExists):
					refused.Add(1)
				default:
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if joined.Load() != 1 || refused.Load() != machines-1 {
			t.Fatalf("round %d: %d machines became node %s, %d were refused; want 1 and %d", round, joined.Load(), id, refused.Load(), machines-1)
		}
	}
}

func TestConcurrentRegistrationsSQLite(t *testing.T)   { concurrentRegistrations(t, sqliteStore(t)) }
func TestConcurrentRegistrationsPostgres(t *testing.T) { concurrentRegistrations(t, postgresStore(t)) }

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopSharedPostgres()
	os.Exit(code)
}
