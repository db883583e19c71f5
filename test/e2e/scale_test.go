package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

const (
	scaleTasks   = 10000
	scaleBatch   = 100 // tasks per addtaskcollection call (the API's maximum)
	scalePageMax = 1000
)

// TestScale10kTasks adds 10,000 tasks through addtaskcollection, lists them
// back through paging, restarts the server on the same data directory and
// lists them again. The pool has no nodes, so the tasks stay active.
//
// It logs one line:
//
//	BENCH e2e_10k_tasks tasks=10000 batch=100 add_s=… list_s=… list_pages=… relist_s=… js_list_s=… peak_rss_kb=…
//
// add_s is the wall time of the 100 sequential addtaskcollection calls,
// list_s of the Go client's paged listing (maxresults 1000), relist_s of the
// same listing after the restart, js_list_s of @azure/batch's listing after
// the restart (-1 when node is missing), and peak_rss_kb the server's VmHWM
// before the restart.
//
// and appends the same line to $OPENBATCH_BENCH_OUT when set.
func TestScale10kTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-task scale test skipped in -short mode")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	srv := startDev(t, dataDir)
	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if err := c.AddPool(ctx, poolSpec("scalepool", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.AddJob(ctx, &api.Job{ID: "scalejob", PoolInfo: &api.PoolInformation{PoolID: "scalepool"}}); err != nil {
		t.Fatal(err)
	}

	addStart := time.Now()
	for first := 0; first < scaleTasks; first += scaleBatch {
		batch := make([]*api.Task, 0, scaleBatch)
		for i := first; i < first+scaleBatch; i++ {
			batch = append(batch, &api.Task{ID: scaleTaskID(i), CommandLine: fmt.Sprintf("/bin/sh -c 'echo task %d'", i)})
		}
		res, err := c.AddTasks(ctx, "scalejob", batch)
		if err != nil {
			t.Fatalf("addtaskcollection of tasks %d..%d: %v", first, first+scaleBatch-1, err)
		}
		if len(res.Value) != scaleBatch {
			t.Fatalf("addtaskcollection of tasks %d..: %d results, want %d", first, len(res.Value), scaleBatch)
		}
		for _, r := range res.Value {
			if r.Status != api.TaskAddSuccess {
				t.Fatalf("addtaskcollection: task %s: status %s error %+v", r.TaskID, r.Status, r.Error)
			}
		}
	}
	addDur := time.Since(addStart)

	listStart := time.Now()
	pages := checkAllTasksListedOnce(ctx, t, c, "before restart")
	listDur := time.Since(listStart)

	counts, err := c.TaskCounts(ctx, "scalejob")
	if err != nil {
		t.Fatal(err)
	}
	if counts.TaskCounts.Active != scaleTasks {
		t.Errorf("taskcounts = %+v, want %d active", counts.TaskCounts, scaleTasks)
	}

	rss, err := srv.PeakRSSKB()
	if err != nil {
		t.Fatalf("peak RSS: %v", err)
	}

	// Restart on the same data directory.
	srv.Stop(t)
	srv2 := startDev(t, dataDir)
	c2 := srv2.Client(t)
	relistStart := time.Now()
	checkAllTasksListedOnce(ctx, t, c2, "after restart")
	relistDur := time.Since(relistStart)
	tk, err := c2.GetTask(ctx, "scalejob", scaleTaskID(4242))
	if err != nil {
		t.Fatal(err)
	}
	if tk.State != api.TaskActive || tk.CommandLine != "/bin/sh -c 'echo task 4242'" {
		t.Errorf("task %s after restart: state %s commandLine %q", tk.ID, tk.State, tk.CommandLine)
	}

	// The official JS SDK pages through the same 10,000 tasks.
	jsSeconds := -1.0
	if node, modules, err := nodeSDK(); err != nil {
		if os.Getenv("OPENBATCH_REQUIRE_E2E") == "1" {
			t.Fatalf("required test tool missing: %v", err)
		}
		t.Logf("skipping the JS listing: %v", err)
	} else {
		out := runJS(t, node, modules, srv2, "OB_MODE=list-tasks", "OB_JOB=scalejob", fmt.Sprintf("OB_PAGE=%d", scalePageMax))
		var r struct {
			Count, Distinct, Pages int
			Duplicates             []string
			IDs                    []string
			Seconds                float64
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("JS listing output: %v\n%s", err, tail(string(out), 2000))
		}
		want := make(map[string]bool, scaleTasks)
		for i := 0; i < scaleTasks; i++ {
			want[scaleTaskID(i)] = true
		}
		for _, id := range r.IDs {
			delete(want, id)
		}
		if r.Count != scaleTasks || r.Distinct != scaleTasks || len(r.Duplicates) != 0 || len(want) != 0 || r.Pages != scaleTasks/scalePageMax {
			t.Errorf("JS listing: %d tasks, %d distinct, %d pages, %d duplicates, %d missing; want %d once each over %d pages",
				r.Count, r.Distinct, r.Pages, len(r.Duplicates), len(want), scaleTasks, scaleTasks/scalePageMax)
		}
		jsSeconds = r.Seconds
	}

	line := fmt.Sprintf("BENCH e2e_10k_tasks tasks=%d batch=%d add_s=%.3f list_s=%.3f list_pages=%d relist_s=%.3f js_list_s=%.3f peak_rss_kb=%d",
		scaleTasks, scaleBatch, addDur.Seconds(), listDur.Seconds(), pages, relistDur.Seconds(), jsSeconds, rss)
	t.Log(line)
	if out := os.Getenv("OPENBATCH_BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatalf("OPENBATCH_BENCH_OUT: %v", err)
		}
		if _, err := fmt.Fprintln(f, line); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func scaleTaskID(i int) string { return fmt.Sprintf("task-%05d", i) }

// checkAllTasksListedOnce lists scalejob's tasks page by page (maxresults
// 1000, following odata.nextLink) and requires each of the 10,000 tasks
// exactly once. It returns the number of pages.
func checkAllTasksListedOnce(ctx context.Context, t *testing.T, c *client.Client, when string) int {
	t.Helper()
	type page struct {
		Value []struct {
			ID    string        `json:"id"`
			State api.TaskState `json:"state"`
		} `json:"value"`
		NextLink string `json:"odata.nextLink"`
	}
	seen := make(map[string]int, scaleTasks)
	pages := 0
	path := fmt.Sprintf("/jobs/scalejob/tasks?maxresults=%d", scalePageMax)
	for path != "" {
		var p page
		if _, err := c.Do(ctx, http.MethodGet, path, nil, &p); err != nil {
			t.Fatalf("%s: list page %d: %v", when, pages+1, err)
		}
		pages++
		if len(p.Value) > scalePageMax {
			t.Fatalf("%s: page %d has %d tasks, more than maxresults %d", when, pages, len(p.Value), scalePageMax)
		}
		for _, v := range p.Value {
			seen[v.ID]++
			if v.State != api.TaskActive {
				t.Errorf("%s: task %s is %s, want active (pool has no nodes)", when, v.ID, v.State)
			}
		}
		path = p.NextLink
		if pages > scaleTasks { // a server that never ends the listing
			t.Fatalf("%s: more than %d pages", when, scaleTasks)
		}
	}
	dups, missing := 0, 0
	for i := 0; i < scaleTasks; i++ {
		switch n := seen[scaleTaskID(i)]; {
		case n == 0:
			missing++
		case n > 1:
			dups++
		}
	}
	if dups != 0 || missing != 0 || len(seen) != scaleTasks {
		t.Fatalf("%s: listing over %d pages: %d distinct ids, %d missing, %d listed more than once", when, pages, len(seen), missing, dups)
	}
	return pages
}
