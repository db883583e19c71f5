package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// Deallocate parks a node (its running task requeued, no new task taken)
// until start; start only from deallocated.
func TestNodeDeallocateAndStart(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 1, 1, nil)
	nodes := waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	id := nodes[0].ID
	addTaskOK(t, c, "j1", &api.Task{ID: "long", CommandLine: "/bin/sleep 30"})
	waitState(t, c, "j1", "long", api.TaskRunning)

	wantError(t, "start an idle node", send(t, ep, "POST", "/pools/p1/nodes/"+id+"/start", nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	wantError(t, "bad option", send(t, ep, "POST", "/pools/p1/nodes/"+id+"/deallocate", `{"nodeDeallocateOption":"later"}`), http.StatusBadRequest, api.CodeInvalidPropertyValue)
	wantStatus(t, "deallocate", send(t, ep, "POST", "/pools/p1/nodes/"+id+"/deallocate", nil), http.StatusAccepted)
	tk := waitState(t, c, "j1", "long", api.TaskActive)
	if tk.ExecutionInfo.RequeueCount != 1 {
		t.Fatalf("requeueCount %d", tk.ExecutionInfo.RequeueCount)
	}
	// Deallocated it stays, through its agent's heartbeats, and runs nothing.
	time.Sleep(1500 * time.Millisecond)
	if n := waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return true }); n[0].State != api.NodeDeallocated {
		t.Fatalf("node after deallocate: %s", n[0].State)
	}
	if tk, _ := c.GetTask(ctxT(t, 5*time.Second), "j1", "long"); tk.State != api.TaskActive {
		t.Fatalf("a deallocated node took the task: %s", tk.State)
	}
	wantError(t, "deallocate again", send(t, ep, "POST", "/pools/p1/nodes/"+id+"/deallocate", nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	wantStatus(t, "start", send(t, ep, "POST", "/pools/p1/nodes/"+id+"/start", nil), http.StatusAccepted)
	waitState(t, c, "j1", "long", api.TaskRunning)
}
