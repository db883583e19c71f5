package app

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// TestNodeRebootAndReimage pins reboot and reimage as openbatch maps them
// (docs/compatibility.md, "Node reboot and reimage"): 202 with the node's
// DataServiceId, the option deciding the running tasks' fate, lastBootTime
// moving on, and refusals that change nothing.
func TestNodeRebootAndReimage(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 1, 1, nil)
	node := waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })[0]
	nodePath := "/pools/p1/nodes/" + node.ID
	boot0 := *node.LastBootTime

	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"unknown reboot option", nodePath + "/reboot", `{"nodeRebootOption":"later"}`, 400, api.CodeInvalidPropertyValue},
		{"unknown reimage option", nodePath + "/reimage", `{"nodeReimageOption":"now"}`, 400, api.CodeInvalidPropertyValue},
		{"unknown property", nodePath + "/reboot", `{"nodeRebootOptoin":"requeue"}`, 400, api.CodeInvalidRequestBody},
		{"unknown node", "/pools/p1/nodes/tvmps_nope_d/reboot", ``, 404, api.CodeNodeNotFound},
		{"unknown pool", "/pools/nope/nodes/" + node.ID + "/reimage", ``, 404, api.CodePoolNotFound},
	} {
		wantError(t, tc.name, send(t, ep, "POST", tc.path, tc.body), tc.status, tc.code)
	}
	if n := getNode(t, ep, nodePath); !n.LastBootTime.Equal(boot0) {
		t.Fatalf("refused requests moved lastBootTime from %v to %v", boot0, n.LastBootTime)
	}

	// reboot with terminate ends the running task.
	addTaskOK(t, c, "j1", &api.Task{ID: "long", CommandLine: "/bin/sleep 60"})
	waitState(t, c, "j1", "long", api.TaskRunning)
	w := send(t, ep, "POST", nodePath+"/reboot", `{"nodeRebootOption":"terminate"}`)
	wantStatus(t, "reboot terminate", w, http.StatusAccepted)
	if w.Header.Get("DataServiceId") == "" {
		t.Errorf("reboot: no DataServiceId header")
	}
	waitState(t, c, "j1", "long", api.TaskCompleted)
	n := getNode(t, ep, nodePath)
	if !n.LastBootTime.After(boot0) {
		t.Errorf("reboot did not move lastBootTime (%v, was %v)", n.LastBootTime, boot0)
	}

	// reimage with no body requeues the running task, which runs again.
	addTaskOK(t, c, "j1", &api.Task{ID: "again", CommandLine: "/bin/sleep 60"})
	waitState(t, c, "j1", "again", api.TaskRunning)
	wantStatus(t, "reimage", send(t, ep, "POST", nodePath+"/reimage", nil), http.StatusAccepted)
	ctx := ctxT(t, 30*time.Second)
	for {
		tk, err := c.GetTask(ctx, "j1", "again")
		if err != nil {
			t.Fatal(err)
		}
		if tk.ExecutionInfo != nil && tk.ExecutionInfo.RequeueCount >= 1 {
			break
		}
		if tk.State == api.TaskCompleted {
			t.Fatalf("reimage with requeue completed the task: %+v", tk.ExecutionInfo)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// taskcompletion leaves the running task alone.
	wantStatus(t, "reboot taskcompletion", send(t, ep, "POST", nodePath+"/reboot", `{"nodeRebootOption":"taskcompletion"}`), http.StatusAccepted)
	if tk, err := c.GetTask(ctx, "j1", "again"); err != nil || tk.State == api.TaskCompleted {
		t.Fatalf("reboot taskcompletion ended the task: %+v %v", tk, err)
	}
}

func getNode(t *testing.T, ep, path string) api.ComputeNode {
	t.Helper()
	var n api.ComputeNode
	w := send(t, ep, "GET", path, nil)
	wantStatus(t, "get node", w, http.StatusOK)
	if err := json.Unmarshal(w.Body, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
