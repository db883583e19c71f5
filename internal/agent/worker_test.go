package agent

import (
	"context"
	"errors"
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
		return &nodeproto.Work{Assignments: []nodeproto.Assignment{{
			Lease: nodeproto.Lease{JobID: "j", TaskID: "t", Epoch: 1},
			Task:  api.Task{ID: "t", CommandLine: "/bin/sleep 30"},
		}}}, nil
	}
	return nil, errors.New("connection refused")
}

func (p *partitioned) Complete(context.Context, nodeproto.Report) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.completes++
	return nil
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
