package app

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// Low-priority (spot) nodes are counted apart from dedicated ones
// everywhere: the pool's current counts, each node's isDedicated, the
// account's node counts, and removenodes lowering the right target.
func TestLowPriorityNodes(t *testing.T) {
	srv, c := startDev(t)
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: "spot", VMSize: "x", TargetDedicatedNodes: api.I32(1), TargetLowPriorityNodes: api.I32(2)}); err != nil {
		t.Fatal(err)
	}
	nodes := waitNodes(t, c, "spot", 3, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	var lowIDs []string
	ded := 0
	for _, n := range nodes {
		if n.IsDedicated {
			ded++
		} else {
			lowIDs = append(lowIDs, n.ID)
		}
	}
	if ded != 1 || len(lowIDs) != 2 {
		t.Fatalf("%d dedicated and %d low-priority nodes, want 1 and 2", ded, len(lowIDs))
	}
	var p api.Pool
	for {
		_, err := c.Do(ctx, "GET", "/pools/spot", nil, &p)
		if err == nil && *p.CurrentDedicatedNodes == 1 && *p.CurrentLowPriorityNodes == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pool counts: %d dedicated, %d low-priority (%v)", *p.CurrentDedicatedNodes, *p.CurrentLowPriorityNodes, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var counts struct {
		Value []api.PoolNodeCounts `json:"value"`
	}
	if _, err := c.Do(ctx, "GET", "/nodecounts", nil, &counts); err != nil || len(counts.Value) != 1 ||
		counts.Value[0].Dedicated.Total != 1 || counts.Value[0].LowPriority.Total != 2 {
		t.Fatalf("node counts %+v, %v", counts.Value, err)
	}
	waitSteady(t, c, "spot")
	wantStatus(t, "remove a low-priority node", send(t, srv.Endpoint, "POST", "/pools/spot/removenodes", map[string]any{"nodeList": []string{lowIDs[0]}}), http.StatusAccepted)
	if _, err := c.Do(context.Background(), "GET", "/pools/spot", nil, &p); err != nil || *p.TargetDedicatedNodes != 1 || *p.TargetLowPriorityNodes != 1 {
		t.Fatalf("targets after removing a low-priority node: %d dedicated, %d low-priority (%v)", *p.TargetDedicatedNodes, *p.TargetLowPriorityNodes, err)
	}
	waitNodes(t, c, "spot", 2, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
}
