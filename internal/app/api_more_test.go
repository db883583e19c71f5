package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// TestAPIListsAndLookups covers node-list paging and filtering, IDs in
// URLs matched case-insensitively, task counts, the job preparation and
// release status list, and deleting a running task.
func TestAPIListsAndLookups(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 3, &api.Job{JobPreparationTask: &api.JobPreparationTask{CommandLine: "/bin/sh -c 'exit 0'"}})

	// Wait for the three nodes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, _ := listIDs(t, ep, "/pools/p1/nodes")
		if len(ids) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes: %v", ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ids, pages := listIDs(t, ep, "/pools/p1/nodes?maxresults=2")
	if len(ids) != 3 || pages != 2 || ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Errorf("node paging: %v in %d pages, want 3 distinct nodes in 2 pages", ids, pages)
	}
	if ids2, _ := listIDs(t, ep, "/pools/p1/nodes?$filter="+url.QueryEscape("id eq '"+ids[1]+"'")); len(ids2) != 1 || ids2[0] != ids[1] {
		t.Errorf("node filter: %v", ids2)
	}
	w := send(t, ep, "GET", "/pools/p1/nodes?$select=id,state", nil)
	for _, v := range w.JSON(t)["value"].([]any) {
		if keys := keysOf(v.(map[string]any)); strings.Join(keys, ",") != "id,state" {
			t.Errorf("node $select=id,state item has %v", keys)
		}
	}
	wantError(t, "node filter bad", send(t, ep, "GET", "/pools/p1/nodes?$filter="+url.QueryEscape("bogus eq 1"), nil), 400, api.CodeInvalidQueryParameterValue, "bogus")
	wantError(t, "node maxresults", send(t, ep, "GET", "/pools/p1/nodes?maxresults=0", nil), 400, api.CodeOutOfRangeQueryParameterValue, "maxresults")
	wantError(t, "node list bad token", send(t, ep, "GET", "/pools/p1/nodes?$skiptoken=%21%21", nil), 400, api.CodeInvalidQueryParameterValue, "skiptoken")
	wantError(t, "nodes of missing pool", send(t, ep, "GET", "/pools/nope/nodes", nil), 404, api.CodePoolNotFound)

	// IDs in URLs: the service keeps the case they were created with and
	// finds them in any case.
	addTaskOK(t, c, "j1", &api.Task{ID: "MixedCase", CommandLine: "/bin/sh -c 'exit 0'"})
	waitTask(t, c, "j1", "MixedCase")
	for _, p := range []string{"/jobs/J1", "/pools/P1", "/jobs/j1/tasks/mixedcase", "/jobs/J1/tasks/MIXEDCASE"} {
		w := send(t, ep, "GET", p, nil)
		wantStatus(t, "GET "+p, w, http.StatusOK)
		if id := w.JSON(t)["id"]; id != "j1" && id != "p1" && id != "MixedCase" {
			t.Errorf("GET %s: id %v, want the stored spelling", p, id)
		}
	}
	wantStatus(t, "HEAD /pools/P1", send(t, ep, "HEAD", "/pools/P1", nil), http.StatusOK)

	// Task counts.
	addTaskOK(t, c, "j1", &api.Task{ID: "bad", CommandLine: "/bin/sh -c 'exit 1'", RequiredSlots: api.I32(2)})
	waitTask(t, c, "j1", "bad")
	w = send(t, ep, "GET", "/jobs/j1/taskcounts", nil)
	wantStatus(t, "taskcounts", w, http.StatusOK)
	m := w.JSON(t)
	for k, want := range map[string]float64{"active": 0, "running": 0, "completed": 2, "succeeded": 1, "failed": 1} {
		if got := get(m, "taskCounts", k); got != want {
			t.Errorf("taskCounts.%s = %v, want %v (%s)", k, got, want, w.Body)
		}
	}
	if got := get(m, "taskSlotCounts", "completed"); got != 3.0 {
		t.Errorf("taskSlotCounts.completed = %v, want 3", got)
	}
	wantError(t, "taskcounts of missing job", send(t, ep, "GET", "/jobs/nope/taskcounts", nil), 404, api.CodeJobNotFound)

	// The job preparation task ran on the node(s) that ran tasks.
	w = send(t, ep, "GET", "/jobs/j1/jobpreparationandreleasetaskstatus", nil)
	wantStatus(t, "prep/release status", w, http.StatusOK)
	v, _ := w.JSON(t)["value"].([]any)
	if len(v) == 0 || get(v[0], "poolId") != "p1" || get(v[0], "jobPreparationTaskExecutionInfo", "state") != "completed" ||
		!strings.HasPrefix(get(v[0], "nodeUrl").(string), ep+"/pools/p1/nodes/") {
		t.Errorf("prep/release status = %s", w.Body)
	}
	wantError(t, "task with the prep task's id", send(t, ep, "POST", "/jobs/j1/tasks", `{"id":"JobPreparation","commandLine":"echo"}`),
		409, api.CodeTaskIDSameAsJobPreparationTask)

	// Deleting a running task answers 200 and removes it.
	addTaskOK(t, c, "j1", &api.Task{ID: "slow", CommandLine: "/bin/sh -c 'sleep 30'"})
	waitState(t, c, "j1", "slow", api.TaskRunning)
	wantStatus(t, "delete running task", send(t, ep, "DELETE", "/jobs/j1/tasks/slow", nil), http.StatusOK)
	wantError(t, "deleted running task", send(t, ep, "GET", "/jobs/j1/tasks/slow", nil), 404, api.CodeTaskNotFound)
	deadline = time.Now().Add(10 * time.Second)
	for {
		w := send(t, ep, "GET", "/jobs/j1/taskcounts", nil)
		if get(w.JSON(t), "taskCounts", "running") == 0.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted task still counted as running: %s", w.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The timeout parameter is accepted in both spellings.
	wantStatus(t, "timeout", send(t, ep, "GET", "/jobs?timeout=30", nil), http.StatusOK)
	wantStatus(t, "timeOut", send(t, ep, "GET", "/jobs?timeOut=300", nil), http.StatusOK)
}
