package scheduler

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// A busy node waiting in Acquire must heartbeat often enough never to be
// declared lost: the long poll is capped well below the timeout.
func TestAcquireWaitStaysWithinHeartbeatTimeout(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := service.New(st, nil)
	s := New(svc, Config{HeartbeatTimeout: 3 * time.Second, HeartbeatInterval: 10 * time.Second})
	if s.cfg.HeartbeatInterval > time.Second {
		t.Fatalf("heartbeat interval %v not capped to a third of the timeout", s.cfg.HeartbeatInterval)
	}
	if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 0, Wait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited >= 3*time.Second {
		t.Fatalf("Acquire held the call %v; the heartbeat timeout is 3s", waited)
	}
}

// A task the store says a node holds, but which the node no longer lists as
// running (it restarted, fenced itself, or never got the assignment), goes
// back to the queue.
func TestOrphanedLeaseIsRequeued(t *testing.T) {
	ctx := context.Background()
	st, svc, s := schedulerWithJob(t, 0, "t")
	var mu sync.Mutex
	now := time.Now().UTC()
	svc.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1})
	if err != nil || len(work.Assignments) != 1 {
		t.Fatalf("acquire: %v %+v", err, work)
	}
	lease := work.Assignments[0].Lease
	// Listing the lease keeps it.
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, Running: []nodeproto.Lease{lease}}); err != nil {
		t.Fatal(err)
	}
	if row, _ := st.GetTask(ctx, "j", "t"); row.Task.State != api.TaskRunning {
		t.Fatalf("listed lease lost: %s", row.Task.State)
	}
	// A poll that may have left before the lease was taken (within
	// leaseAnswerMargin of it: the lease could have come in the answer to
	// one of the node's reports) does not requeue it.
	advance(leaseAnswerMargin / 2)
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, Wait: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if row, _ := st.GetTask(ctx, "j", "t"); row.Task.State != api.TaskRunning {
		t.Fatalf("a lease younger than the margin was requeued: %s", row.Task.State)
	}
	// Later, not listing it requeues it, and the old lease's report is
	// refused.
	advance(leaseAnswerMargin)
	if _, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID}); err != nil {
		t.Fatal(err)
	}
	row, _ := st.GetTask(ctx, "j", "t")
	if row.Task.State != api.TaskActive || row.Task.ExecutionInfo.RequeueCount != 1 {
		t.Fatalf("orphan not requeued: %s %+v", row.Task.State, row.Task.ExecutionInfo)
	}
	_, err = s.Complete(ctx, nodeproto.Report{NodeID: cfg.NodeID, PoolID: "p", Lease: lease, ExitCode: api.I32(0)})
	if err != nodeproto.ErrStaleLease {
		t.Fatalf("late report: %v", err)
	}
}

// The follow-up of a completion (releasing dependents, onAllTasksComplete)
// runs right after the completion commits; if the process dies in between,
// the reconcile loop's sweep re-derives it from the store.
func TestSweepFinishesLostFollowUps(t *testing.T) {
	cases := []struct {
		name  string
		job   *api.Job
		tasks []*api.Task
		// then changes the stored job after its tasks are added
		then  func(*api.Job)
		check func(*testing.T, context.Context, *Scheduler)
	}{
		{
			name: "onAllTasksComplete terminatejob",
			job:  &api.Job{ID: "j"},
			tasks: []*api.Task{
				{ID: "t1", CommandLine: "/bin/true"},
			},
			// Set in the store: through the API a job with no task left
			// would terminate at once.
			then: func(j *api.Job) { j.OnAllTasksComplete = api.OnAllTasksCompleteTerminateJob },
			check: func(t *testing.T, ctx context.Context, s *Scheduler) {
				j, err := s.store.GetJob(ctx, "j")
				if err != nil {
					t.Fatal(err)
				}
				if j.State != api.JobCompleted || j.ExecutionInfo.TerminateReason != "AllTasksComplete" {
					t.Fatalf("job %s, reason %q", j.State, j.ExecutionInfo.TerminateReason)
				}
			},
		},
		{
			name: "dependents released",
			job:  &api.Job{ID: "j", UsesTaskDependencies: api.B(true)},
			tasks: []*api.Task{
				{ID: "t1", CommandLine: "/bin/true"},
				{ID: "t2", CommandLine: "/bin/true", DependsOn: &api.TaskDependencies{TaskIDs: []string{"t1"}}},
			},
			check: func(t *testing.T, ctx context.Context, s *Scheduler) {
				r, err := s.store.GetTask(ctx, "j", "t2")
				if err != nil {
					t.Fatal(err)
				}
				if r.Waiting {
					t.Fatal("t2 still waits on a completed t1")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := service.New(st, nil)
			s := New(svc, Config{HeartbeatTimeout: 30 * time.Second})
			if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
				t.Fatal(err)
			}
			tc.job.PoolInfo = &api.PoolInformation{PoolID: "p"}
			if err := svc.AddJob(ctx, tc.job); err != nil {
				t.Fatal(err)
			}
			for _, tk := range tc.tasks {
				if err := svc.AddTask(ctx, "j", tk); err != nil {
					t.Fatal(err)
				}
			}
			if tc.then != nil {
				if _, err := st.UpdateJob(ctx, "j", func(j *api.Job) error { tc.then(j); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			// t1 completes in the store, and the process dies before the
			// follow-up: nothing but the sweep will notice.
			if _, err := st.UpdateTask(ctx, "j", "t1", func(r *store.TaskRow) error {
				r.Task.State = api.TaskCompleted
				r.Task.ExecutionInfo = &api.TaskExecutionInformation{ExitCode: api.I32(0), Result: api.ResultSuccess}
				r.Epoch++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			s.checkJobs(ctx, false)
			if j, _ := st.GetJob(ctx, "j"); j.State != api.JobActive {
				t.Fatalf("without a sweep the job moved to %s", j.State)
			}
			s.checkJobs(ctx, true)
			tc.check(t, ctx, s)
		})
	}
}

// Of several schedulers sharing a database, one does the periodic work.
func TestOneSchedulerLeads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	var scheds []*Scheduler
	for range 3 {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		scheds = append(scheds, New(service.New(st, nil), Config{}))
	}
	for round := range 3 {
		leaders := 0
		for _, s := range scheds {
			if s.tick(ctx, &loopState{}) {
				leaders++
			}
		}
		if leaders != 1 {
			t.Fatalf("round %d: %d schedulers led", round, leaders)
		}
	}
}

// A node that restarts keeps the leases it says it is finishing (their
// process exited before the restart) when it still holds them; its other
// leases, stale epochs and other nodes' tasks are requeued or refused.
func TestRestartedNodeKeepsResumedLeases(t *testing.T) {
	ctx := context.Background()
	st, _, s := schedulerWithJob(t, 3, "finishing", "lost", "other")
	reg := nodeproto.Registration{PoolID: "p", NodeID: "n1"}
	if _, err := s.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	leases := map[string]nodeproto.Lease{}
	for len(leases) < 3 {
		work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: "n1", FreeSlots: 3 - len(leases), Running: values(leases)})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range work.Assignments {
			leases[a.Lease.TaskID] = a.Lease
		}
	}
	tooMany := reg
	tooMany.Resume = make([]nodeproto.Lease, nodeproto.MaxResume+1)
	if _, err := s.Register(ctx, tooMany); err == nil {
		t.Fatal("registration with more leases to resume than MaxResume accepted")
	}
	stale := leases["other"]
	stale.Epoch-- // an epoch the node no longer holds
	reg.Resume = []nodeproto.Lease{leases["finishing"], stale, {JobID: "j", TaskID: "nosuch", Epoch: 1}}
	cfg, err := s.Register(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Resumed) != 1 || cfg.Resumed[0] != leases["finishing"] {
		t.Fatalf("resumed %+v, want only %+v", cfg.Resumed, leases["finishing"])
	}
	for id, want := range map[string]api.TaskState{"finishing": api.TaskRunning, "lost": api.TaskActive, "other": api.TaskActive} {
		if row, _ := st.GetTask(ctx, "j", id); row.Task.State != want {
			t.Errorf("task %s: %s, want %s", id, row.Task.State, want)
		}
	}
	if _, err := s.Complete(ctx, nodeproto.Report{NodeID: "n1", PoolID: "p", Lease: leases["finishing"], ExitCode: api.I32(3)}); err != nil {
		t.Fatalf("report of the resumed lease: %v", err)
	}
	if row, _ := st.GetTask(ctx, "j", "finishing"); row.Task.State != api.TaskCompleted || *row.Task.ExecutionInfo.ExitCode != 3 ||
		row.Task.ExecutionInfo.RequeueCount != 0 {
		t.Fatalf("resumed task: %s %+v", row.Task.State, row.Task.ExecutionInfo)
	}
}

func values(m map[string]nodeproto.Lease) []nodeproto.Lease {
	var out []nodeproto.Lease
	for _, l := range m {
		out = append(out, l)
	}
	return out
}

// Nodes registering at once all count: the pool's currentDedicatedNodes
// is the number of its nodes once every registration has returned (the
// scale-out benchmark once saw 45 for 50 agents started together).
func TestConcurrentRegistrationsCount(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{"sqlite": sqliteStore, "postgres": postgresStore} {
		t.Run(name, func(t *testing.T) { concurrentRegistrationsCount(t, open(t)) })
	}
}

func concurrentRegistrationsCount(t *testing.T, st store.Store) {
	ctx := context.Background()
	svc := service.New(st, nil)
	s := New(svc, Config{})
	if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	const n = 30
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Register(ctx, nodeproto.Registration{PoolID: "p", NodeID: fmt.Sprintf("node%02d", i), Dedicated: true})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p, err := st.GetPool(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if p.CurrentDedicatedNodes == nil || *p.CurrentDedicatedNodes != n {
		got := int32(-1)
		if p.CurrentDedicatedNodes != nil {
			got = *p.CurrentDedicatedNodes
		}
		t.Fatalf("currentDedicatedNodes %d after %d registrations", got, n)
	}
}

// A report that offers slots (Report.Next) gets the node's next tasks in
// its answer, within the node's slots and the job's maxParallelTasks as
// checked in the lease's transaction; one that offers none gets none.
func TestCompleteLeasesNextWork(t *testing.T) {
	ctx := context.Background()
	st, _, s := schedulerWithJob(t, 2, "t1", "t2", "t3", "t4", "t5")
	cfg, held := registerAndFill(t, s)
	for _, tc := range []struct {
		name string
		next int
		want int
	}{
		// The node offers both slots, but the other run still holds one:
		// the lease's transaction counts the store's leases.
		{"offers more than is free", 2, 1},
		{"offers nothing", 0, 0},
		{"offers its one slot", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, err := s.Complete(ctx, nodeproto.Report{NodeID: cfg.NodeID, PoolID: "p", Lease: held[0], ExitCode: api.I32(0), Next: tc.next})
			if err != nil {
				t.Fatal(err)
			}
			if len(done.Assignments) != tc.want {
				t.Fatalf("got %d assignments, want %d", len(done.Assignments), tc.want)
			}
			held = held[1:]
			for _, a := range done.Assignments {
				held = append(held, a.Lease)
				if row, _ := st.GetTask(ctx, "j", a.Lease.TaskID); row.Task.State != api.TaskRunning || row.NodeID != cfg.NodeID {
					t.Errorf("%s: %s on %q, want running on the node", a.Lease.TaskID, row.Task.State, row.NodeID)
				}
			}
		})
	}
	// A report refused as stale leases nothing.
	if done, err := s.Complete(ctx, nodeproto.Report{NodeID: cfg.NodeID, PoolID: "p", Lease: nodeproto.Lease{JobID: "j", TaskID: "t1", Epoch: 1}, ExitCode: api.I32(0), Next: 2}); err != nodeproto.ErrStaleLease || done != nil {
		t.Fatalf("stale report: %+v, %v", done, err)
	}
	counts, err := st.TaskStateCounts(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	// t1–t3 completed, t4 leased by the last report, t5 waiting: the
	// report that offered nothing left its slot empty.
	if c := counts.TaskCounts; c.Running != 1 || c.Completed != 3 || c.Active != 1 {
		t.Fatalf("counts %+v; want 1 running, 3 completed, 1 active", c)
	}
}

// A poll that crosses its node's report (the task completed, the node
// still lists the run) cancels the run only if the node does not say it is
// over (Ended): a cancel answers the poll at once, and cancelling ended
// runs made nodes poll in a loop while their reports were in flight.
func TestPollCrossingReportCancelsOnlyLiveRuns(t *testing.T) {
	ctx := context.Background()
	_, _, s := schedulerWithJob(t, 2, "t1", "t2")
	cfg, held := registerAndFill(t, s)
	for _, l := range held {
		if _, err := s.Complete(ctx, nodeproto.Report{NodeID: cfg.NodeID, PoolID: "p", Lease: l, ExitCode: api.I32(0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		ended []nodeproto.Lease
		want  []nodeproto.Lease
	}{
		{"both runs ended", held, nil},
		{"one run ended", held[:1], held[1:]},
		{"an older agent (no Ended)", nil, held},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, Running: held, Ended: tc.ended})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(work.Cancel, tc.want) {
				t.Fatalf("cancel %v, want %v", work.Cancel, tc.want)
			}
		})
	}
}

// registerAndFill registers a node in pool "p" and leases tasks into its
// two slots with one poll; it returns the node and its two leases.
func registerAndFill(t *testing.T, s *Scheduler) (*nodeproto.NodeConfig, []nodeproto.Lease) {
	t.Helper()
	ctx := context.Background()
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 2})
	if err != nil || len(work.Assignments) != 2 {
		t.Fatalf("acquire: %v %+v", err, work)
	}
	return cfg, []nodeproto.Lease{work.Assignments[0].Lease, work.Assignments[1].Lease}
}

// schedulerWithJob opens a SQLite store holding pool "p" (slots task
// slots per node; 0: the default) and job "j" with tasks ids (command
// /bin/true), and returns it with the service and a scheduler over it
// (heartbeat timeout 30 s). The store is closed when the test ends.
func schedulerWithJob(t *testing.T, slots int32, ids ...string) (*sqlite.Store, *service.Service, *Scheduler) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, nil)
	s := New(svc, Config{HeartbeatTimeout: 30 * time.Second})
	pool := &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}
	if slots > 0 {
		pool.TaskSlotsPerNode = api.I32(slots)
	}
	if err := svc.AddPool(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddJob(ctx, &api.Job{ID: "j", PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := svc.AddTask(ctx, "j", &api.Task{ID: id, CommandLine: "/bin/true"}); err != nil {
			t.Fatal(err)
		}
	}
	return st, svc, s
}

// A task another poll of this server is leasing at that moment is put off
// to the end of the plan: the poll takes the next one instead; and when
// it has room left after the others, it still tries the one it put off
// (that lease may have failed), so no task waits on a hint.
func TestLeasingPutsOffTasksBeingLeased(t *testing.T) {
	ctx := context.Background()
	_, _, s := schedulerWithJob(t, 2, "t1", "t2")
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	cands, err := s.store.RunnableTasks(ctx, "p", 10)
	if err != nil || len(cands) == 0 || cands[0].TaskID != "t1" {
		t.Fatalf("runnable: %v, %v", cands, err)
	}
	t1 := cands[0]
	if _, marked := s.orderByLeasing([]store.Candidate{t1}, 1); !slices.Equal(marked, []store.Candidate{t1}) {
		t.Fatalf("orderByLeasing marked %v, want t1", marked)
	}
	if order, marked := s.orderByLeasing(cands, 1); len(marked) != 1 || marked[0].TaskID != "t2" || order[len(order)-1] != t1 {
		t.Fatalf("with t1 being leased: order %v, marked %v; want t1 last and t2 marked", order, marked)
	}
	s.endLeasing(cands[1:])
	ids := func(w *nodeproto.Work) []string {
		var out []string
		for _, a := range w.Assignments {
			out = append(out, a.Task.ID)
		}
		return out
	}
	work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(work); !slices.Equal(got, []string{"t2"}) {
		t.Fatalf("with t1 being leased elsewhere, one slot got %v, want [t2]", got)
	}
	// The other "lease" of t1 never happens: a poll with room left after
	// the rest of its plan takes t1 all the same.
	work, err = s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1,
		Running: []nodeproto.Lease{work.Assignments[0].Lease}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(work); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("t1 put off and nothing else to run: got %v, want [t1]", got)
	}
	s.endLeasing([]store.Candidate{t1})
	if _, marked := s.orderByLeasing([]store.Candidate{t1}, 1); len(marked) != 1 {
		t.Fatal("endLeasing did not clear the lease under way")
	}
}

// Under pack, a node takes what the live nodes ranked before it (fuller,
// or as full with a smaller ID) cannot hold, first-fit in queue order.
func TestPackShare(t *testing.T) {
	cand := func(slots ...int32) []store.Candidate {
		var out []store.Candidate
		for i, s := range slots {
			out = append(out, store.Candidate{JobID: "j", TaskID: fmt.Sprint(i), Slots: s})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		self  string
		loads map[string]int32
		cands []store.Candidate
		want  int32
	}{
		{"alone", "b", map[string]int32{"b": 0}, cand(2, 2), 4},
		{"an idle peer with a smaller ID takes it all", "b", map[string]int32{"a": 0, "b": 0}, cand(2, 2), 0},
		{"the peer with the smaller ID is the one that takes", "a", map[string]int32{"a": 0, "b": 0}, cand(2, 2), 4},
		{"a fuller peer first", "a", map[string]int32{"a": 0, "b": 2}, cand(2, 2), 2},
		{"a full peer holds nothing", "b", map[string]int32{"a": 4, "b": 0}, cand(1), 1},
		{"less loaded peers come after", "b", map[string]int32{"a": 0, "b": 1}, cand(1, 1), 2},
		{"what fits nowhere before is mine", "b", map[string]int32{"a": 3, "b": 0}, cand(2), 2},
		{"peers' spare slots do not add up for a big task", "c", map[string]int32{"a": 3, "b": 3, "c": 0}, cand(2), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := packShareOf(tc.self, tc.loads, tc.cands, 4); got != tc.want {
				t.Fatalf("share %d, want %d", got, tc.want)
			}
		})
	}
}
