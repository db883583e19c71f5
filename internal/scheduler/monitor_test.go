package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// unreachable is a store whose leader lease cannot be taken while down is
// set, as when the database is out of reach.
type unreachable struct {
	store.Store
	down atomic.Bool
}

func (u *unreachable) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if u.down.Load() {
		return false, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return u.Store.TryLead(ctx, name, holder, ttl)
}

// While the database is out of reach no server can record a heartbeat, so
// a leader that reaches it again gives every node a full heartbeat timeout
// from then, rather than declaring the whole fleet lost and requeueing its
// tasks; a node that stays silent after that is declared lost as usual.
func TestLeaderGivesNodesGraceAfterDatabaseOutage(t *testing.T) {
	ctx := context.Background()
	sq := sqliteStore(t)
	st := &unreachable{Store: sq}
	svc := service.New(st, nil)
	var mu sync.Mutex
	now := time.Now().UTC()
	svc.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	const timeout = 30 * time.Second
	s := New(svc, Config{HeartbeatTimeout: timeout})
	if err := svc.AddPool(ctx, &api.Pool{ID: "p", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddJob(ctx, &api.Job{ID: "j", PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddTask(ctx, "j", &api.Task{ID: "t", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Register(ctx, nodeproto.Registration{PoolID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	work, err := s.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p", NodeID: cfg.NodeID, FreeSlots: 1})
	if err != nil || len(work.Assignments) != 1 {
		t.Fatalf("acquire: %v %+v", err, work)
	}
	state := func() (api.NodeState, api.TaskState) {
		t.Helper()
		n, err := sq.GetNode(ctx, "p", cfg.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		row, err := sq.GetTask(ctx, "j", "t")
		if err != nil {
			t.Fatal(err)
		}
		return n.Node.State, row.Task.State
	}

	var ls loopState
	if !s.tick(ctx, &ls) {
		t.Fatal("the only scheduler does not lead")
	}
	// The database is out of reach for twice the heartbeat timeout.
	st.down.Store(true)
	for range 2 {
		advance(timeout)
		if s.tick(ctx, &ls) {
			t.Fatal("led without its database")
		}
	}
	st.down.Store(false)
	if !s.tick(ctx, &ls) {
		t.Fatal("did not lead again")
	}
	if n, tk := state(); n == api.NodeUnknown || tk != api.TaskRunning {
		t.Fatalf("after the outage: node %s, task %s; want the node kept and its task running", n, tk)
	}
	// A node that stays silent for a timeout after the outage is lost.
	advance(timeout + time.Second)
	s.tick(ctx, &ls)
	if n, tk := state(); n != api.NodeUnknown || tk != api.TaskActive {
		t.Fatalf("silent for a timeout after the outage: node %s, task %s; want unknown and the task requeued", n, tk)
	}
}
