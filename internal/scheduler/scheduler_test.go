package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
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
