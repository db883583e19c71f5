package agent_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// An agent killed and started again on the same root rejoins as the same
// node (its identity and credential are kept in the root), so the pool does
// not collect dead nodes.
func TestRestartedAgentKeepsItsNodeID(t *testing.T) {
	srv, c := startServer(t)
	ctx := ctxT(t, 60*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "node")
	a := startAgent(t, srv, "p1", "", root) // the server assigns the ID
	var first []api.ComputeNode
	for len(first) != 1 {
		var err error
		if first, err = client.ListAll[api.ComputeNode](ctx, c, "/pools/p1/nodes"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.kill(t)
	startAgent(t, srv, "p1", "", root)
	waitNodesIdle(t, c, "p1", first[0].ID)
}
