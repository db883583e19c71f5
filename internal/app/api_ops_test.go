package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// TestAPIPoolAndNodeOperations pins the status code of every pool and node
// operation to the one azure-batch (Python) requires.
func TestAPIPoolAndNodeOperations(t *testing.T) {
	srv, _ := startDev(t)
	ep := srv.Endpoint

	w := send(t, ep, "POST", "/pools", map[string]any{"id": "p1", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1})
	wantStatus(t, "pool add", w, http.StatusCreated)
	if len(w.Body) != 0 || !strings.HasSuffix(w.Header.Get("Location"), "/pools/p1") || w.Header.Get("DataServiceId") == "" ||
		!etagRE.MatchString(w.Header.Get("ETag")) || w.Header.Get("Last-Modified") == "" {
		t.Fatalf("pool add headers %v body %q", w.Header, w.Body)
	}

	w = send(t, ep, "GET", "/pools/p1", nil)
	wantStatus(t, "pool get", w, http.StatusOK)
	m := w.JSON(t)
	if m["id"] != "p1" || m["state"] != "active" || m["eTag"] != w.Header.Get("ETag") {
		t.Fatalf("pool get = %s", w.Body)
	}

	wantStatus(t, "pool list", send(t, ep, "GET", "/pools", nil), http.StatusOK)
	w = send(t, ep, "HEAD", "/pools/p1", nil)
	wantStatus(t, "pool exists", w, http.StatusOK)
	if len(w.Body) != 0 {
		t.Fatalf("HEAD body %q", w.Body)
	}
	w = send(t, ep, "HEAD", "/pools/nope", nil)
	wantStatus(t, "pool exists (missing)", w, http.StatusNotFound)
	if len(w.Body) != 0 || w.Header.Get("request-id") == "" {
		t.Fatalf("HEAD 404: headers %v body %q", w.Header, w.Body)
	}

	w = send(t, ep, "PATCH", "/pools/p1", map[string]any{"metadata": []map[string]string{{"name": "a", "value": "b"}}})
	wantStatus(t, "pool patch", w, http.StatusOK)
	if !etagRE.MatchString(w.Header.Get("ETag")) {
		t.Fatalf("pool patch ETag %q", w.Header.Get("ETag"))
	}
	w = send(t, ep, "POST", "/pools/p1/updateproperties", map[string]any{"certificateReferences": []any{},
		"applicationPackageReferences": []any{}, "metadata": []map[string]string{{"name": "c", "value": "d"}}})
	wantStatus(t, "pool updateproperties", w, http.StatusNoContent)
	m = send(t, ep, "GET", "/pools/p1", nil).JSON(t)
	if md := get(m, "metadata", 0, "name"); md != "c" {
		t.Fatalf("metadata after updateproperties = %v", get(m, "metadata"))
	}

	// Nodes: the dev server starts one local node for targetDedicatedNodes 1.
	var nodeID string
	deadline := time.Now().Add(10 * time.Second)
	for nodeID == "" {
		w = send(t, ep, "GET", "/pools/p1/nodes", nil)
		wantStatus(t, "node list", w, http.StatusOK)
		if id, ok := get(w.JSON(t), "value", 0, "id").(string); ok {
			nodeID = id
		} else if time.Now().After(deadline) {
			t.Fatalf("no node appeared: %s", w.Body)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	w = send(t, ep, "GET", "/pools/p1/nodes/"+nodeID, nil)
	wantStatus(t, "node get", w, http.StatusOK)
	if m := w.JSON(t); m["id"] != nodeID || !strings.HasSuffix(m["url"].(string), "/pools/p1/nodes/"+nodeID) {
		t.Fatalf("node get = %s", w.Body)
	}
	wantError(t, "node get (missing)", send(t, ep, "GET", "/pools/p1/nodes/nope", nil), 404, api.CodeNodeNotFound, "nope")

	wantStatus(t, "pool resize", send(t, ep, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 2}), http.StatusAccepted)
	if m := send(t, ep, "GET", "/pools/p1", nil).JSON(t); m["targetDedicatedNodes"] != 2.0 {
		t.Fatalf("targetDedicatedNodes after resize = %v", m["targetDedicatedNodes"])
	}
	wantStatus(t, "pool stopresize", send(t, ep, "POST", "/pools/p1/stopresize", nil), http.StatusAccepted)
	wantStatus(t, "pool delete", send(t, ep, "DELETE", "/pools/p1", nil), http.StatusAccepted)
	wantStatus(t, "pool exists after delete", send(t, ep, "HEAD", "/pools/p1", nil), http.StatusNotFound)
	wantError(t, "pool get after delete", send(t, ep, "GET", "/pools/p1", nil), 404, api.CodePoolNotFound, "p1")
}

// TestAPIJobOperations pins the status codes of the job operations.
func TestAPIJobOperations(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	if err := c.AddPool(ctxT(t, 5*time.Second), &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}

	w := send(t, ep, "POST", "/jobs", map[string]any{"id": "j1", "poolInfo": map[string]any{"poolId": "p1"}})
	wantStatus(t, "job add", w, http.StatusCreated)
	if len(w.Body) != 0 || !strings.HasSuffix(w.Header.Get("Location"), "/jobs/j1") || w.Header.Get("DataServiceId") == "" ||
		!etagRE.MatchString(w.Header.Get("ETag")) || w.Header.Get("Last-Modified") == "" {
		t.Fatalf("job add headers %v body %q", w.Header, w.Body)
	}
	w = send(t, ep, "GET", "/jobs/j1", nil)
	wantStatus(t, "job get", w, http.StatusOK)
	if m := w.JSON(t); m["id"] != "j1" || m["state"] != "active" || get(m, "poolInfo", "poolId") != "p1" {
		t.Fatalf("job get = %s", w.Body)
	}
	w = send(t, ep, "GET", "/jobs", nil)
	wantStatus(t, "job list", w, http.StatusOK)
	if get(w.JSON(t), "value", 0, "id") != "j1" {
		t.Fatalf("job list = %s", w.Body)
	}

	w = send(t, ep, "PATCH", "/jobs/j1", map[string]any{"priority": 5})
	wantStatus(t, "job patch", w, http.StatusOK)
	if m := send(t, ep, "GET", "/jobs/j1", nil).JSON(t); m["priority"] != 5.0 {
		t.Fatalf("priority after patch = %v", m["priority"])
	}
	w = send(t, ep, "PUT", "/jobs/j1", map[string]any{"poolInfo": map[string]any{"poolId": "p1"}, "priority": 7})
	wantStatus(t, "job update", w, http.StatusOK)
	if m := send(t, ep, "GET", "/jobs/j1", nil).JSON(t); m["priority"] != 7.0 {
		t.Fatalf("priority after update = %v", m["priority"])
	}

	w = send(t, ep, "GET", "/jobs/j1/taskcounts", nil)
	wantStatus(t, "taskcounts", w, http.StatusOK)
	if m := w.JSON(t); get(m, "taskCounts", "active") != 0.0 || get(m, "taskSlotCounts", "active") != 0.0 || m["odata.metadata"] == nil {
		t.Fatalf("taskcounts = %s", w.Body)
	}
	wantError(t, "prep/release status without prep task", send(t, ep, "GET", "/jobs/j1/jobpreparationandreleasetaskstatus", nil),
		http.StatusConflict, api.CodeJobPreparationTaskNotSpecified, "j1")

	wantStatus(t, "job disable", send(t, ep, "POST", "/jobs/j1/disable", map[string]any{"disableTasks": "requeue"}), http.StatusAccepted)
	if m := send(t, ep, "GET", "/jobs/j1", nil).JSON(t); m["state"] != "disabled" {
		t.Fatalf("state after disable = %v", m["state"])
	}
	wantStatus(t, "job enable", send(t, ep, "POST", "/jobs/j1/enable", nil), http.StatusAccepted)
	if m := send(t, ep, "GET", "/jobs/j1", nil).JSON(t); m["state"] != "active" {
		t.Fatalf("state after enable = %v", m["state"])
	}
	// Python sends terminate with Content-Length: 0 and no body.
	wantStatus(t, "job terminate", send(t, ep, "POST", "/jobs/j1/terminate", []byte{}), http.StatusAccepted)
	if m := send(t, ep, "GET", "/jobs/j1", nil).JSON(t); m["state"] != "completed" || get(m, "executionInfo", "terminateReason") != "UserTerminate" {
		t.Fatalf("job after terminate = %v", m)
	}
	wantStatus(t, "job delete", send(t, ep, "DELETE", "/jobs/j1", nil), http.StatusAccepted)
	wantError(t, "job get after delete", send(t, ep, "GET", "/jobs/j1", nil), 404, api.CodeJobNotFound, "j1")
}

// TestAPITaskOperations pins the status codes of the task operations.
func TestAPITaskOperations(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 1, nil)

	w := send(t, ep, "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": "/bin/sh -c 'exit 3'"})
	wantStatus(t, "task add", w, http.StatusCreated)
	if len(w.Body) != 0 {
		t.Fatalf("task add body %q, want empty", w.Body)
	}
	loc := w.Header.Get("Location")
	if !strings.HasPrefix(loc, ep+"/jobs/j1/tasks/t1") || w.Header.Get("DataServiceId") != loc ||
		!etagRE.MatchString(w.Header.Get("ETag")) {
		t.Fatalf("task add headers %v", w.Header)
	}
	if _, err := http.ParseTime(w.Header.Get("Last-Modified")); err != nil {
		t.Fatalf("task add Last-Modified %q: %v", w.Header.Get("Last-Modified"), err)
	}
	addETag := w.Header.Get("ETag")

	// addtaskcollection: 200 with per-task results; an existing ID (in any
	// case) is a clienterror with TaskExists, the others succeed.
	w = send(t, ep, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": []map[string]any{
		{"id": "t2", "commandLine": "/bin/sh -c 'sleep 30'"},
		{"id": "T1", "commandLine": "echo dup"},
		{"id": "t3", "commandLine": "/bin/sh -c 'exit 0'"},
	}})
	wantStatus(t, "addtaskcollection", w, http.StatusOK)
	res := w.JSON(t)
	if res["odata.metadata"] == nil {
		t.Fatalf("addtaskcollection lacks odata.metadata: %s", w.Body)
	}
	byID := map[string]map[string]any{}
	for _, v := range res["value"].([]any) {
		r := v.(map[string]any)
		byID[r["taskId"].(string)] = r
	}
	for _, id := range []string{"t2", "t3"} {
		r := byID[id]
		if r == nil || r["status"] != "success" || !etagRE.MatchString(r["eTag"].(string)) || r["lastModified"] == nil ||
			!strings.HasSuffix(r["location"].(string), "/jobs/j1/tasks/"+id) || r["error"] != nil {
			t.Fatalf("result for %s = %v", id, r)
		}
	}
	if r := byID["T1"]; r == nil || r["status"] != "clienterror" || get(r, "error", "code") != api.CodeTaskExists {
		t.Fatalf("result for T1 = %v (body %s)", r, w.Body)
	}

	w = send(t, ep, "GET", "/jobs/j1/tasks/t1", nil)
	wantStatus(t, "task get", w, http.StatusOK)
	if m := w.JSON(t); m["id"] != "t1" || m["eTag"] == nil {
		t.Fatalf("task get = %s", w.Body)
	} else if m["eTag"] != addETag && m["state"] == "active" {
		t.Fatalf("task get eTag %v differs from add ETag %s while untouched", m["eTag"], addETag)
	}
	w = send(t, ep, "GET", "/jobs/j1/tasks", nil)
	wantStatus(t, "task list", w, http.StatusOK)
	if n := len(w.JSON(t)["value"].([]any)); n != 3 {
		t.Fatalf("task list has %d tasks, want 3: %s", n, w.Body)
	}

	wantStatus(t, "task update", send(t, ep, "PUT", "/jobs/j1/tasks/t2", map[string]any{"constraints": map[string]any{"maxTaskRetryCount": 2}}), http.StatusOK)
	if m := send(t, ep, "GET", "/jobs/j1/tasks/t2", nil).JSON(t); get(m, "constraints", "maxTaskRetryCount") != 2.0 {
		t.Fatalf("constraints after update = %v", m["constraints"])
	}
	w = send(t, ep, "GET", "/jobs/j1/tasks/t1/subtasksinfo", nil)
	wantStatus(t, "subtasksinfo", w, http.StatusOK)
	if v, ok := w.JSON(t)["value"].([]any); !ok || len(v) != 0 {
		t.Fatalf("subtasksinfo = %s", w.Body)
	}

	// t1 fails (exit 3): reactivate is 204 and puts it back in the queue.
	waitTask(t, c, "j1", "t1")
	w = send(t, ep, "POST", "/jobs/j1/tasks/t1/reactivate", nil)
	wantStatus(t, "task reactivate", w, http.StatusNoContent)
	if len(w.Body) != 0 {
		t.Fatalf("reactivate body %q", w.Body)
	}
	// terminate of the running t2 is 204 and completes it with TaskEnded.
	waitState(t, c, "j1", "t2", api.TaskRunning)
	wantStatus(t, "task terminate", send(t, ep, "POST", "/jobs/j1/tasks/t2/terminate", nil), http.StatusNoContent)
	if task, _ := c.GetTask(ctxT(t, 5*time.Second), "j1", "t2"); task.State != api.TaskCompleted ||
		task.ExecutionInfo.FailureInfo == nil || task.ExecutionInfo.FailureInfo.Code != api.FailureTaskEnded {
		t.Fatalf("t2 after terminate: %+v", task)
	}
	w = send(t, ep, "DELETE", "/jobs/j1/tasks/t3", nil)
	wantStatus(t, "task delete", w, http.StatusOK)
	wantError(t, "task get after delete", send(t, ep, "GET", "/jobs/j1/tasks/t3", nil), 404, api.CodeTaskNotFound, "t3")
	wantError(t, "task get in missing job", send(t, ep, "GET", "/jobs/nope/tasks/t1", nil), 404, api.CodeJobNotFound, "nope")
}
