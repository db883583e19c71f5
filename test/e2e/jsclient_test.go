package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/testenv"
)

// nodeSDK returns the node binary and the node_modules directory holding
// @azure/batch, or an error saying how to install them.
func nodeSDK() (node, modules string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("node is not installed (scripts/setup.sh installs Node 20): %w", err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", "", err
	}
	modules = filepath.Join(root, "tools", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@azure", "batch", "package.json")); err != nil {
		return "", "", fmt.Errorf("@azure/batch is not installed in tools/node (run scripts/setup.sh, which runs npm ci there): %w", err)
	}
	return node, modules, nil
}

// requireNodeSDK is nodeSDK that skips the test (fails it under
// OPENBATCH_REQUIRE_E2E=1) when the SDK is missing.
func requireNodeSDK(t testing.TB) (node, modules string) {
	t.Helper()
	node, modules, err := nodeSDK()
	testenv.Require(t, err)
	return node, modules
}

// runJS runs js/batch_client.js against srv with the OB_* settings in env
// and returns its stdout.
func runJS(t testing.TB, node, modules string, srv *devServer, env ...string) []byte {
	t.Helper()
	script := filepath.Join("js", "batch_client.js")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = cleanEnv(append([]string{
		"NODE_PATH=" + modules,
		"OB_ENDPOINT=" + srv.Endpoint,
		"OB_ACCOUNT=" + srv.Account,
		"OB_KEY=" + srv.Key,
	}, env...))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

func poolSpec(id string, nodes, slots int32) *api.Pool {
	return &api.Pool{ID: id, VMSize: "standard_d2s_v3", TargetDedicatedNodes: &nodes, TaskSlotsPerNode: &slots,
		VirtualMachineConfiguration: json.RawMessage(`{"imageReference":{"publisher":"canonical","offer":"0001-com-ubuntu-server-focal","sku":"20_04-lts"},"nodeAgentSKUId":"batch.node.ubuntu 20.04"}`)}
}

type jsResult struct {
	JobIDs []string `json:"jobIds"`
	Job    struct {
		ID, State, PoolID string
	} `json:"job"`
	AddCollection []struct {
		TaskID string  `json:"taskId"`
		Status string  `json:"status"`
		Error  *string `json:"error"`
	} `json:"addCollection"`
	ListedTaskIDs []string `json:"listedTaskIds"`
	Pages         int      `json:"pages"`
	Selected      []struct {
		ID          string  `json:"id"`
		CommandLine string  `json:"commandLine"`
		State       *string `json:"state"`
	} `json:"selected"`
	Task struct {
		ID          string   `json:"id"`
		State       string   `json:"state"`
		CommandLine string   `json:"commandLine"`
		Env         []string `json:"env"`
		ExitCode    *int     `json:"exitCode"`
		Result      string   `json:"result"`
		NodeID      string   `json:"nodeId"`
	} `json:"task"`
	Stdout      string   `json:"stdout"`
	Stderr      string   `json:"stderr"`
	Files       []string `json:"files"`
	MissingTask jsError  `json:"missingTask"`
	BadKey      jsError  `json:"badKey"`
}

type jsError struct {
	StatusCode int    `json:"statusCode"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

func TestJSClient(t *testing.T) {
	t.Parallel()
	node, modules := requireNodeSDK(t)
	srv := startDev(t, filepath.Join(t.TempDir(), "data"))
	c := srv.Client(t)
	ctx := context.Background()
	if err := c.AddPool(ctx, poolSpec("jspool", 1, 4)); err != nil {
		t.Fatal(err)
	}
	// A second job so that the job listing has more than one page.
	if err := c.AddJob(ctx, &api.Job{ID: "other-job", PoolInfo: &api.PoolInformation{PoolID: "jspool"}}); err != nil {
		t.Fatal(err)
	}

	const nTasks, pageSize = 37, 5
	out := runJS(t, node, modules, srv,
		"OB_POOL=jspool",
		"OB_JOB=jsjob",
		fmt.Sprintf("OB_NTASKS=%d", nTasks),
		fmt.Sprintf("OB_PAGE=%d", pageSize),
		"OB_BAD_KEY="+wrongKey,
	)
	var r jsResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("script output is not JSON: %v\n%s", err, out)
	}

	if got := slices.Sorted(slices.Values(r.JobIDs)); !slices.Equal(got, []string{"jsjob", "other-job"}) {
		t.Errorf("job list (maxResults 1, listNext) = %v", r.JobIDs)
	}
	if r.Job.ID != "jsjob" || r.Job.State != "active" || r.Job.PoolID != "jspool" {
		t.Errorf("job get = %+v", r.Job)
	}

	// addCollection: one success per task.
	if len(r.AddCollection) != nTasks {
		t.Errorf("addCollection returned %d results, want %d", len(r.AddCollection), nTasks)
	}
	want := map[string]bool{"js-single": true}
	for i := 0; i < nTasks; i++ {
		want[fmt.Sprintf("js-coll-%03d", i)] = true
	}
	for _, a := range r.AddCollection {
		if !want[a.TaskID] || a.Status != "success" || a.Error != nil {
			t.Errorf("addCollection result %+v", a)
		}
	}

	// Paging: every task exactly once, across the expected number of pages.
	seen := map[string]int{}
	for _, id := range r.ListedTaskIDs {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 || !want[id] {
			t.Errorf("task %s listed %d times (wanted: %v)", id, n, want[id])
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("task %s missing from the paged listing", id)
		}
	}
	if wantPages := (nTasks + 1 + pageSize - 1) / pageSize; r.Pages != wantPages {
		t.Errorf("paged listing took %d pages, want %d (%d tasks, maxResults %d)", r.Pages, wantPages, nTasks+1, pageSize)
	}

	// $filter + $select.
	if len(r.Selected) != 1 || r.Selected[0].ID != "js-single" || r.Selected[0].CommandLine == "" || r.Selected[0].State != nil {
		t.Errorf("list with $filter startswith and $select id,commandLine = %+v", r.Selected)
	}

	// task get, file getFromTask, listFromTask.
	tk := r.Task
	if tk.ID != "js-single" || tk.State != "completed" || tk.ExitCode == nil || *tk.ExitCode != 0 || tk.Result != "success" ||
		tk.NodeID == "" || !slices.Equal(tk.Env, []string{"GREETING=hi"}) {
		t.Errorf("task get = %+v", tk)
	}
	if r.Stdout != "hello from js\n" {
		t.Errorf("getFromTask stdout.txt = %q", r.Stdout)
	}
	if r.Stderr != "to-stderr\n" {
		t.Errorf("getFromTask stderr.txt = %q", r.Stderr)
	}
	for _, f := range []string{"stdout.txt", "stderr.txt", "wd"} {
		if !slices.Contains(r.Files, f) {
			t.Errorf("listFromTask = %v, missing %s", r.Files, f)
		}
	}

	// Errors as the SDK sees them.
	if r.MissingTask.StatusCode != 404 || r.MissingTask.Code != "TaskNotFound" {
		t.Errorf("get of a missing task: %+v, want 404 TaskNotFound", r.MissingTask)
	}
	if r.BadKey.StatusCode != 403 || r.BadKey.Code != "AuthenticationFailed" {
		t.Errorf("wrong key: %+v, want 403 AuthenticationFailed", r.BadKey)
	}

	// Cross-check with the Go client: the server holds exactly those tasks.
	tasks, err := c.ListTasks(ctx, "jsjob", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != len(want) {
		t.Errorf("server has %d tasks in jsjob, want %d", len(tasks), len(want))
	}
}
