package service

import (
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// TestViews: what the service hands the HTTP layer is the API's shape,
// without the server's bookkeeping.
func TestViews(t *testing.T) {
	row := &store.Node{PoolID: "Pool1", Address: "http://10.0.0.1:1", Root: "/srv", CredentialGen: 3,
		Node: &api.ComputeNode{ID: "n1", State: api.NodeIdle}}
	v := nodeView(row)
	if v.PoolID != "Pool1" || v.Node.ID != "n1" || v.Node.AffinityID != "TVM:n1" {
		t.Errorf("nodeView = %+v / %+v", v, v.Node)
	}
	if v.Node == row.Node {
		t.Error("nodeView shares the stored node; decorating it would change the row")
	}
	j := jobView(&api.Job{ID: "j", Pending: &api.JobPending{TerminateReason: "x"}})
	if j.Pending != nil {
		t.Errorf("jobView kept pending work: %+v", j.Pending)
	}
	jobs, _, _ := jobViews([]*api.Job{{ID: "a", Pending: &api.JobPending{}}}, "", nil)
	if jobs[0].Pending != nil {
		t.Error("jobViews kept pending work")
	}
}
