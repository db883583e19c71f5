package agent

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// partitioned is a coordinator that hands out one long task and then
// becomes unreachable, as a network partition would (a fault no real server
// produces on demand).
type partitioned struct {
	mu        sync.Mutex
	acquires  int
	completes int
}

func (p *partitioned) Register(_ context.Context, reg nodeproto.Registration) (*nodeproto.NodeConfig, error) {
	return &nodeproto.NodeConfig{NodeID: "n1", PoolID: reg.PoolID, Slots: 1,
		HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 400 * time.Millisecond}, nil
}

func (p *partitioned) Acquire(context.Context, nodeproto.NodeStatus) (*nodeproto.Work, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acquires++
	if p.acquires == 1 {
		return assignment("/bin/sleep 30"), nil
	}
	return nil, errors.New("connection refused")
}

func (p *partitioned) Complete(context.Context, nodeproto.Report) (*nodeproto.Completed, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.completes++
	return &nodeproto.Completed{}, nil
}

func (p *partitioned) PrepRelease(context.Context, nodeproto.PrepReleaseReport) error { return nil }

// A node cut off from the server for longer than the heartbeat timeout
// stops its tasks (the server has requeued them elsewhere) and does not
// report them.
func TestWorkerFencesItselfWhenPartitioned(t *testing.T) {
	coord := &partitioned{}
	w := &Worker{Coord: coord, Runner: NewRunner(Config{KillGrace: 100 * time.Millisecond}), RetryInterval: 50 * time.Millisecond,
		Registration: nodeproto.Registration{PoolID: "p", Root: t.TempDir()}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(50 * time.Millisecond)
		coord.mu.Lock()
		assigned := coord.acquires > 1 // the task was handed out, the partition began
		coord.mu.Unlock()
		if assigned && len(w.leases()) == 0 {
			break // the run is over
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task still runs %v after the partition; it should have been stopped", 10*time.Second)
		}
	}
	cancel()
	<-done
	coord.mu.Lock()
	defer coord.mu.Unlock()
	if coord.completes != 0 {
		t.Fatalf("a fenced run reported %d times", coord.completes)
	}
}

// hanging is a coordinator that hands out one long task and then holds
// every poll open until its caller gives up: a server that accepts
// connections but never answers. The node must stop its run by the fence
// timer, before the call returns, within the heartbeat timeout less the
// margin.
type hanging struct {
	partitioned
	returned chan struct{} // closed when the first hung call returns
	once     sync.Once
}

func (h *hanging) Register(_ context.Context, reg nodeproto.Registration) (*nodeproto.NodeConfig, error) {
	// A long poll of a minute: the call's own deadline is far beyond the
	// heartbeat timeout.
	return &nodeproto.NodeConfig{NodeID: "n1", PoolID: reg.PoolID, Slots: 1,
		HeartbeatInterval: time.Minute, HeartbeatTimeout: 800 * time.Millisecond}, nil
}

func (h *hanging) Acquire(ctx context.Context, st nodeproto.NodeStatus) (*nodeproto.Work, error) {
	h.mu.Lock()
	h.acquires++
	first := h.acquires == 1
	h.mu.Unlock()
	if first {
		return assignment("/bin/sleep 30"), nil
	}
	<-ctx.Done()
	h.once.Do(func() { close(h.returned) })
	return nil, ctx.Err()
}

// assignment is work of one task, j/t, running cmd.
func assignment(cmd string) *nodeproto.Work {
	return &nodeproto.Work{Assignments: []nodeproto.Assignment{{
		Lease: nodeproto.Lease{JobID: "j", TaskID: "t", Epoch: 1},
		Task:  api.Task{ID: "t", CommandLine: cmd},
	}}}
}

func TestFenceTimerStopsRunsWhileACallHangs(t *testing.T) {
	coord := &hanging{returned: make(chan struct{})}
	w := &Worker{Coord: coord, Runner: NewRunner(Config{KillGrace: 100 * time.Millisecond}), RetryInterval: 50 * time.Millisecond,
		Registration: nodeproto.Registration{PoolID: "p", Root: t.TempDir()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for {
		time.Sleep(20 * time.Millisecond)
		coord.mu.Lock()
		polled := coord.acquires > 1
		coord.mu.Unlock()
		if polled && len(w.leases()) == 0 {
			break
		}
		select {
		case <-coord.returned:
			t.Fatal("the hung call returned before the run was stopped: the fence waited for it")
		default:
		}
	}
	select {
	case <-coord.returned:
		t.Fatal("the hung call had returned when the run stopped")
	default:
	}
	coord.mu.Lock()
	defer coord.mu.Unlock()
	if coord.completes != 0 {
		t.Fatalf("a fenced run reported %d times", coord.completes)
	}
}

// leaving is a coordinator that hands out one short task and records the
// node leaving.
type leaving struct {
	partitioned
	left bool
}

func (l *leaving) Acquire(context.Context, nodeproto.NodeStatus) (*nodeproto.Work, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquires++
	if l.acquires == 1 {
		return &nodeproto.Work{Assignments: []nodeproto.Assignment{{
			Lease: nodeproto.Lease{JobID: "j", TaskID: "t", Epoch: 1},
			Task:  api.Task{ID: "t", CommandLine: "/bin/sleep 0.5"},
		}}}, nil
	}
	return &nodeproto.Work{}, nil
}

func (l *leaving) Leave(context.Context, string, string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.left = true
	return nil
}

// A drained node finishes and reports its running task, takes no more,
// leaves its pool, and Run returns nil; with no grace left the run is
// stopped instead, unreported.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		grace     time.Duration
		completes int
	}{
		{"finishes within the grace", time.Minute, 1},
		{"stopped when the grace ends", time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coord := &leaving{}
			drain := make(chan struct{})
			w := &Worker{Coord: coord, Runner: NewRunner(Config{KillGrace: 100 * time.Millisecond}), RetryInterval: 20 * time.Millisecond,
				Registration: nodeproto.Registration{PoolID: "p", Root: t.TempDir()}, Drain: drain, DrainGrace: tc.grace}
			done := make(chan error, 1)
			go func() { done <- w.Run(context.Background()) }()
			for len(w.leases()) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			close(drain)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the drained node did not stop")
			}
			coord.mu.Lock()
			defer coord.mu.Unlock()
			if coord.completes != tc.completes || !coord.left {
				t.Fatalf("completes %d (want %d), left %v", coord.completes, tc.completes, coord.left)
			}
		})
	}
}

// reporting is a coordinator that hands out one short task and holds its
// report until release is closed, recording what the node's polls list.
type reporting struct {
	partitioned
	release  chan struct{}
	statuses []nodeproto.NodeStatus
}

func (r *reporting) Acquire(ctx context.Context, st nodeproto.NodeStatus) (*nodeproto.Work, error) {
	r.mu.Lock()
	r.acquires++
	first := r.acquires == 1
	r.statuses = append(r.statuses, st)
	r.mu.Unlock()
	if first {
		return &nodeproto.Work{Assignments: []nodeproto.Assignment{{
			Lease: nodeproto.Lease{JobID: "j", TaskID: "t", Epoch: 1},
			Task:  api.Task{ID: "t", CommandLine: "/bin/true"},
		}}}, nil
	}
	time.Sleep(10 * time.Millisecond) // a short long poll
	return &nodeproto.Work{}, nil
}

func (r *reporting) Complete(ctx context.Context, rep nodeproto.Report) (*nodeproto.Completed, error) {
	<-r.release
	return r.partitioned.Complete(ctx, rep)
}

// While a run's report is in flight, the node's polls list the run both
// as running (the server must not requeue it) and as ended (the server
// must not cancel it); once the report is in, neither.
func TestPollsListEndedRunsWhileReporting(t *testing.T) {
	coord := &reporting{release: make(chan struct{})}
	w := &Worker{Coord: coord, Runner: NewRunner(Config{KillGrace: 100 * time.Millisecond}), RetryInterval: 20 * time.Millisecond,
		Registration: nodeproto.Registration{PoolID: "p", Root: t.TempDir()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	lease := nodeproto.Lease{JobID: "j", TaskID: "t", Epoch: 1}
	// seen waits for a poll that satisfies ok, started after from polls.
	seen := func(from int, what string, ok func(nodeproto.NodeStatus) bool) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			coord.mu.Lock()
			for i := from; i < len(coord.statuses); i++ {
				if ok(coord.statuses[i]) {
					coord.mu.Unlock()
					return i + 1
				}
			}
			coord.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no poll %s", what)
		return 0
	}
	n := seen(1, "listing the run as running and ended while its report is held", func(st nodeproto.NodeStatus) bool {
		return slices.Contains(st.Running, lease) && slices.Contains(st.Ended, lease)
	})
	close(coord.release)
	seen(n, "listing nothing once the report is in", func(st nodeproto.NodeStatus) bool {
		return len(st.Running) == 0 && len(st.Ended) == 0
	})
	coord.mu.Lock()
	defer coord.mu.Unlock()
	if coord.completes != 1 {
		t.Fatalf("%d reports, want 1", coord.completes)
	}
}

// outage is a coordinator that hands out one short task and then answers
// nothing, neither polls nor reports, until back is closed: a server whose
// database is down, or a partition that heals.
type outage struct {
	partitioned
	back chan struct{}
}

func (o *outage) Acquire(context.Context, nodeproto.NodeStatus) (*nodeproto.Work, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.acquires++
	if o.acquires == 1 {
		return assignment("/bin/true"), nil
	}
	select {
	case <-o.back:
		return &nodeproto.Work{}, nil
	default:
		return nil, errors.New("503 Service Unavailable")
	}
}

func (o *outage) Complete(ctx context.Context, rep nodeproto.Report) (*nodeproto.Completed, error) {
	select {
	case <-o.back:
		return o.partitioned.Complete(ctx, rep)
	default:
		return nil, errors.New("503 Service Unavailable")
	}
}

// A run that ended while the node still held its lease is reported once
// contact comes back, even though contact was lost for longer than the
// fence limit meanwhile: fencing stops processes that still run, not the
// reports of runs that are over (the server refuses those as stale if it
// requeued the task).
func TestRunEndedBeforeFenceIsStillReported(t *testing.T) {
	coord := &outage{back: make(chan struct{})}
	w := &Worker{Coord: coord, Runner: NewRunner(Config{KillGrace: 100 * time.Millisecond}), RetryInterval: 20 * time.Millisecond,
		Registration: nodeproto.Registration{PoolID: "p", Root: t.TempDir()}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// Past the fence limit (heartbeat timeout 400 ms less the margin)
	// with the run's report still refused.
	deadline := time.Now().Add(10 * time.Second)
	for len(w.endedLeases()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the run did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(coord.back)
	for {
		coord.mu.Lock()
		n := coord.completes
		coord.mu.Unlock()
		if n == 1 && len(w.leases()) == 0 {
			break
		}
		if n > 1 || time.Now().After(deadline) {
			t.Fatalf("%d reports of the run that ended before the fence, want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
