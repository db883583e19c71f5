package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/testenv"
)

// azCLI runs the Azure CLI against one openbatch server with one key.
type azCLI struct {
	t   testing.TB
	bin string
	env []string
}

func requireAz(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("az")
	if err != nil {
		err = fmt.Errorf("the Azure CLI (az) is not installed; scripts/setup.sh installs it (apt-get install azure-cli): %w", err)
	}
	testenv.Require(t, err)
	return bin
}

// newAz returns an az runner with its own AZURE_CONFIG_DIR (shared by the
// runners of one test through configDir), pointed at srv with key.
func newAz(t testing.TB, bin, configDir string, srv *devServer, key string) *azCLI {
	return &azCLI{t: t, bin: bin, env: cleanEnv([]string{
		"AZURE_CONFIG_DIR=" + configDir,
		"AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_ONLY_SHOW_ERRORS=true",
		"AZURE_CORE_NO_COLOR=true",
		"AZURE_BATCH_ACCOUNT=" + srv.Account,
		"AZURE_BATCH_ACCESS_KEY=" + key,
		"AZURE_BATCH_ENDPOINT=" + srv.Endpoint,
	})}
}

// run runs `az args...` and returns stdout, stderr and the exit error.
func (a *azCLI) run(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = a.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ok runs az and fails the test if it does not succeed; it returns stdout.
func (a *azCLI) ok(args ...string) string {
	a.t.Helper()
	out, errOut, err := a.run(args...)
	if err != nil {
		a.t.Fatalf("az %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// json runs az with -o json and decodes its output into v.
func (a *azCLI) json(v any, args ...string) {
	a.t.Helper()
	args = append(args, "-o", "json")
	out := a.ok(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("az %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs az, requires it to fail, and returns stdout+stderr.
func (a *azCLI) fails(args ...string) string {
	a.t.Helper()
	out, errOut, err := a.run(args...)
	if err == nil {
		a.t.Fatalf("az %s succeeded, want failure\nstdout:\n%s", strings.Join(args, " "), out)
	}
	return out + errOut
}

// Shapes of az's JSON output (snake_case models serialized back to the
// REST spelling by the CLI).
type azPool struct {
	ID                          string `json:"id"`
	VMSize                      string `json:"vmSize"`
	State                       string `json:"state"`
	AllocationState             string `json:"allocationState"`
	TargetDedicatedNodes        int    `json:"targetDedicatedNodes"`
	CurrentDedicatedNodes       int    `json:"currentDedicatedNodes"`
	TaskSlotsPerNode            int    `json:"taskSlotsPerNode"`
	VirtualMachineConfiguration struct {
		ImageReference struct {
			Publisher, Offer, Sku string
		} `json:"imageReference"`
		NodeAgentSKUID string `json:"nodeAgentSkuId"`
	} `json:"virtualMachineConfiguration"`
}

type azJob struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	PoolInfo struct {
		PoolID string `json:"poolId"`
	} `json:"poolInfo"`
	ExecutionInfo *struct {
		TerminateReason string `json:"terminateReason"`
		EndTime         string `json:"endTime"`
	} `json:"executionInfo"`
}

type azTask struct {
	ID                  string `json:"id"`
	State               string `json:"state"`
	CommandLine         string `json:"commandLine"`
	EnvironmentSettings []struct {
		Name, Value string
	} `json:"environmentSettings"`
	ExecutionInfo *struct {
		ExitCode    *int   `json:"exitCode"`
		Result      string `json:"result"`
		StartTime   string `json:"startTime"`
		EndTime     string `json:"endTime"`
		FailureInfo *struct {
			Code string `json:"code"`
		} `json:"failureInfo"`
	} `json:"executionInfo"`
	NodeInfo *struct {
		PoolID string `json:"poolId"`
		NodeID string `json:"nodeId"`
	} `json:"nodeInfo"`
}

type azAddResult struct {
	TaskID string `json:"taskId"`
	Status string `json:"status"`
	Error  any    `json:"error"`
}

type azFile struct {
	Name        string `json:"name"`
	IsDirectory bool   `json:"isDirectory"`
	URL         string `json:"url"`
	Properties  *struct {
		ContentLength *int64 `json:"contentLength"`
	} `json:"properties"`
}

func writeJSONFile(t testing.TB, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileNames(files []azFile) []string {
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

// download runs `az batch task file download` into a fresh file and returns
// its content (the CLI refuses to overwrite a destination).
func (a *azCLI) download(dir, job, task, path string, extra ...string) string {
	a.t.Helper()
	f, err := os.CreateTemp(dir, "download-*.txt")
	if err != nil {
		a.t.Fatal(err)
	}
	dest := f.Name()
	f.Close()
	os.Remove(dest)
	a.ok(append([]string{"batch", "task", "file", "download", "--job-id", job, "--task-id", task, "--file-path", path, "--destination", dest}, extra...)...)
	b, err := os.ReadFile(dest)
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

func TestAzureCLI(t *testing.T) {
	t.Parallel()
	bin := requireAz(t)
	tmp := t.TempDir()
	srv := startDev(t, filepath.Join(tmp, "data"))
	cfgDir := filepath.Join(tmp, "azconfig")
	az := newAz(t, bin, cfgDir, srv, srv.Key)

	// --- pools -----------------------------------------------------------
	poolFile := writeJSONFile(t, tmp, "pool.json", map[string]any{
		"id": "pjson", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1, "taskSlotsPerNode": 4,
		"virtualMachineConfiguration": map[string]any{
			"imageReference": map[string]any{"publisher": "canonical", "offer": "0001-com-ubuntu-server-focal", "sku": "20_04-lts"},
			"nodeAgentSKUId": "batch.node.ubuntu 20.04",
		},
	})
	az.ok("batch", "pool", "create", "--json-file", poolFile)
	az.ok("batch", "pool", "create", "--id", "pflags", "--vm-size", "standard_d2s_v3", "--target-dedicated-nodes", "0",
		"--image", "canonical:0001-com-ubuntu-server-focal:20_04-lts", "--node-agent-sku-id", "batch.node.ubuntu 20.04")

	var p azPool
	az.json(&p, "batch", "pool", "show", "--pool-id", "pjson")
	if p.ID != "pjson" || !strings.EqualFold(p.VMSize, "standard_d2s_v3") || p.TargetDedicatedNodes != 1 || p.TaskSlotsPerNode != 4 || p.State != "active" {
		t.Fatalf("pool show pjson = %+v", p)
	}
	az.json(&p, "batch", "pool", "show", "--pool-id", "pflags")
	if p.ID != "pflags" || p.TargetDedicatedNodes != 0 || p.VirtualMachineConfiguration.ImageReference.Publisher != "canonical" ||
		p.VirtualMachineConfiguration.ImageReference.Sku != "20_04-lts" || p.VirtualMachineConfiguration.NodeAgentSKUID != "batch.node.ubuntu 20.04" {
		t.Fatalf("pool show pflags = %+v", p)
	}
	var pools []azPool
	az.json(&pools, "batch", "pool", "list")
	if ids := poolIDs(pools); !slices.Equal(ids, []string{"pflags", "pjson"}) {
		t.Fatalf("pool list ids = %v", ids)
	}
	var ids []string
	az.json(&ids, "batch", "pool", "list", "--query", "[?targetDedicatedNodes==`1`].id")
	if !slices.Equal(ids, []string{"pjson"}) {
		t.Fatalf("pool list --query = %v", ids)
	}

	az.ok("batch", "pool", "resize", "--pool-id", "pflags", "--target-dedicated-nodes", "2")
	eventually(t, 30*time.Second, 200*time.Millisecond, "pflags resized to 2 nodes", func() error {
		az.json(&p, "batch", "pool", "show", "--pool-id", "pflags")
		if p.TargetDedicatedNodes != 2 || p.CurrentDedicatedNodes != 2 || p.AllocationState != "steady" {
			return fmt.Errorf("target %d current %d allocation %s", p.TargetDedicatedNodes, p.CurrentDedicatedNodes, p.AllocationState)
		}
		return nil
	})
	eventually(t, 30*time.Second, 200*time.Millisecond, "pjson has its node", func() error {
		az.json(&p, "batch", "pool", "show", "--pool-id", "pjson")
		if p.CurrentDedicatedNodes != 1 || p.AllocationState != "steady" {
			return fmt.Errorf("current %d allocation %s", p.CurrentDedicatedNodes, p.AllocationState)
		}
		return nil
	})
	az.ok("batch", "pool", "delete", "--pool-id", "pflags", "--yes")
	eventually(t, 30*time.Second, 300*time.Millisecond, "pflags gone from pool list", func() error {
		az.json(&pools, "batch", "pool", "list")
		if ids := poolIDs(pools); !slices.Equal(ids, []string{"pjson"}) {
			return fmt.Errorf("pool list ids = %v", ids)
		}
		return nil
	})

	// --- jobs -------------------------------------------------------------
	az.ok("batch", "job", "create", "--id", "j1", "--pool-id", "pjson")
	var j azJob
	az.json(&j, "batch", "job", "show", "--job-id", "j1")
	if j.ID != "j1" || j.State != "active" || j.PoolInfo.PoolID != "pjson" {
		t.Fatalf("job show = %+v", j)
	}
	az.json(&ids, "batch", "job", "list", "--query", "[].id")
	if !slices.Equal(ids, []string{"j1"}) {
		t.Fatalf("job list ids = %v", ids)
	}

	// --- tasks ------------------------------------------------------------
	release := filepath.Join(tmp, "release-sleeper")
	// A task that prints, then waits until the test releases it (bounded to
	// about 5 minutes so a failed test leaves nothing behind).
	sleeperCmd := fmt.Sprintf("/bin/sh -c 'echo started; i=0; while [ ! -f %s ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i+1)); done; echo finished'", release)
	var created azTask
	az.json(&created, "batch", "task", "create", "--job-id", "j1", "--task-id", "sleeper", "--command-line", sleeperCmd)
	if created.ID != "sleeper" || created.CommandLine != sleeperCmd {
		t.Fatalf("task create --task-id output = %+v", created)
	}

	single := writeJSONFile(t, tmp, "task.json", map[string]any{
		"id":                  "tjson",
		"commandLine":         `/bin/sh -c 'echo hello from $GREETING; mkdir -p "sub dir"; printf nested-content > "sub dir/nested file.txt"'`,
		"environmentSettings": []map[string]string{{"name": "GREETING", "value": "az"}},
		"constraints":         map[string]any{"maxWallClockTime": "PT1H", "maxTaskRetryCount": 0},
	})
	az.json(&created, "batch", "task", "create", "--job-id", "j1", "--json-file", single)
	if created.ID != "tjson" || len(created.EnvironmentSettings) != 1 || created.EnvironmentSettings[0].Value != "az" {
		t.Fatalf("task create --json-file (single) output = %+v", created)
	}

	array := writeJSONFile(t, tmp, "tasks.json", []map[string]any{
		{"id": "ta1", "commandLine": "/bin/sh -c 'echo a1'"},
		{"id": "ta2", "commandLine": "/bin/sh -c 'echo a2'"},
		{"id": "ta3", "commandLine": "/bin/sh -c 'echo a3; exit 3'"},
	})
	var added []azAddResult
	az.json(&added, "batch", "task", "create", "--job-id", "j1", "--json-file", array)
	slices.SortFunc(added, func(a, b azAddResult) int { return strings.Compare(a.TaskID, b.TaskID) })
	if len(added) != 3 {
		t.Fatalf("task create (array) results = %+v", added)
	}
	for i, r := range added {
		if want := fmt.Sprintf("ta%d", i+1); r.TaskID != want || r.Status != "success" || r.Error != nil {
			t.Fatalf("task create (array) result %d = %+v, want %s success", i, r, want)
		}
	}

	// A collection with an id that exists: per-task clienterror TaskExists,
	// the other task is added.
	dupArray := writeJSONFile(t, tmp, "dup.json", []map[string]any{
		{"id": "ta2", "commandLine": "/bin/sh -c 'echo again'"},
		{"id": "ta4", "commandLine": "/bin/sh -c 'echo a4'"},
	})
	type azAddError struct {
		TaskID string `json:"taskId"`
		Status string `json:"status"`
		Error  *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	var dupRes []azAddError
	az.json(&dupRes, "batch", "task", "create", "--job-id", "j1", "--json-file", dupArray)
	slices.SortFunc(dupRes, func(a, b azAddError) int { return strings.Compare(a.TaskID, b.TaskID) })
	if len(dupRes) != 2 || dupRes[0].TaskID != "ta2" || dupRes[0].Status != "clienterror" || dupRes[0].Error == nil ||
		dupRes[0].Error.Code != "TaskExists" || dupRes[1].TaskID != "ta4" || dupRes[1].Status != "success" || dupRes[1].Error != nil {
		t.Fatalf("task create (array with an existing id) = %+v", dupRes)
	}
	if out := az.fails("batch", "task", "create", "--job-id", "j1", "--task-id", "ta4", "--command-line", "/bin/true"); !strings.Contains(out, "already exists") {
		t.Fatalf("task create of an existing id: %s", out)
	}

	// stdout of a running task.
	eventually(t, 60*time.Second, 200*time.Millisecond, "sleeper running", func() error {
		var s azTask
		az.json(&s, "batch", "task", "show", "--job-id", "j1", "--task-id", "sleeper")
		if s.State != "running" {
			return fmt.Errorf("state %s", s.State)
		}
		return nil
	})
	eventually(t, 30*time.Second, 200*time.Millisecond, "stdout of running sleeper", func() error {
		got := az.download(tmp, "j1", "sleeper", "stdout.txt")
		if got != "started\n" {
			return fmt.Errorf("stdout.txt = %q, want %q", got, "started\n")
		}
		return nil
	})
	az.ok("batch", "task", "file", "show", "--job-id", "j1", "--task-id", "sleeper", "--file-path", "stdout.txt")
	var s azTask
	az.json(&s, "batch", "task", "show", "--job-id", "j1", "--task-id", "sleeper")
	if s.State != "running" {
		t.Fatalf("sleeper finished too early: %+v", s)
	}

	// Filtered listing: all but the sleeper complete.
	eventually(t, 60*time.Second, 300*time.Millisecond, "completed tasks", func() error {
		az.json(&ids, "batch", "task", "list", "--job-id", "j1", "--filter", "state eq 'completed'", "--query", "[].id")
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"ta1", "ta2", "ta3", "ta4", "tjson"}) {
			return fmt.Errorf("completed = %v", ids)
		}
		return nil
	})
	az.json(&ids, "batch", "task", "list", "--job-id", "j1", "--filter", "state eq 'running'", "--query", "[].id")
	if !slices.Equal(ids, []string{"sleeper"}) {
		t.Fatalf("running tasks = %v", ids)
	}
	type exitRow struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Exit   *int   `json:"exit"`
		Result string `json:"result"`
	}
	var rows []exitRow
	az.json(&rows, "batch", "task", "list", "--job-id", "j1", "--select", "id,state,executionInfo",
		"--query", "[].{id:id,state:state,exit:executionInfo.exitCode,result:executionInfo.result}")
	slices.SortFunc(rows, func(a, b exitRow) int { return strings.Compare(a.ID, b.ID) })
	wantRows := map[string][2]any{"ta1": {0, "success"}, "ta2": {0, "success"}, "ta3": {3, "failure"}, "ta4": {0, "success"}, "tjson": {0, "success"}}
	if len(rows) != 6 {
		t.Fatalf("task list --query rows = %+v", rows)
	}
	for _, r := range rows {
		if r.ID == "sleeper" {
			if r.State != "running" || r.Exit != nil {
				t.Fatalf("sleeper row = %+v", r)
			}
			continue
		}
		w := wantRows[r.ID]
		if r.State != "completed" || r.Exit == nil || *r.Exit != w[0].(int) || r.Result != w[1].(string) {
			t.Fatalf("row %s = %+v (exit %v), want exit %v result %v", r.ID, r, r.Exit, w[0], w[1])
		}
	}

	var tj azTask
	az.json(&tj, "batch", "task", "show", "--job-id", "j1", "--task-id", "tjson")
	if tj.State != "completed" || tj.ExecutionInfo == nil || tj.ExecutionInfo.ExitCode == nil || *tj.ExecutionInfo.ExitCode != 0 ||
		tj.ExecutionInfo.Result != "success" || tj.NodeInfo == nil || tj.NodeInfo.PoolID != "pjson" || tj.NodeInfo.NodeID == "" {
		t.Fatalf("task show tjson = %+v", tj)
	}
	var t3 azTask
	az.json(&t3, "batch", "task", "show", "--job-id", "j1", "--task-id", "ta3")
	if t3.ExecutionInfo == nil || t3.ExecutionInfo.Result != "failure" || t3.ExecutionInfo.FailureInfo == nil ||
		t3.ExecutionInfo.FailureInfo.Code != "FailureExitCode" {
		t.Fatalf("task show ta3 executionInfo = %+v", t3.ExecutionInfo)
	}

	// Task files.
	var files []azFile
	az.json(&files, "batch", "task", "file", "list", "--job-id", "j1", "--task-id", "tjson")
	if names := fileNames(files); !slices.Contains(names, "stdout.txt") || !slices.Contains(names, "stderr.txt") ||
		!slices.Contains(names, "wd") || slices.Contains(names, "wd/sub dir/nested file.txt") {
		t.Fatalf("task file list = %v", names)
	}
	az.json(&files, "batch", "task", "file", "list", "--job-id", "j1", "--task-id", "tjson", "--recursive", "true")
	var nested *azFile
	for i := range files {
		if files[i].Name == "wd/sub dir/nested file.txt" {
			nested = &files[i]
		}
	}
	if nested == nil || nested.IsDirectory || nested.Properties == nil || nested.Properties.ContentLength == nil ||
		*nested.Properties.ContentLength != int64(len("nested-content")) {
		t.Fatalf("task file list --recursive: wd/sub dir/nested file.txt = %+v in %v", nested, fileNames(files))
	}
	if got := az.download(tmp, "j1", "tjson", "stdout.txt"); got != "hello from az\n" {
		t.Fatalf("tjson stdout.txt = %q", got)
	}
	if got := az.download(tmp, "j1", "tjson", "wd/sub dir/nested file.txt"); got != "nested-content" {
		t.Fatalf("tjson wd/sub dir/nested file.txt = %q", got)
	}
	if got := az.download(tmp, "j1", "tjson", "stdout.txt", "--start-range", "6", "--end-range", "9"); got != "from" {
		t.Fatalf("tjson stdout.txt bytes 6-9 = %q, want %q", got, "from")
	}
	az.ok("batch", "task", "file", "show", "--job-id", "j1", "--task-id", "tjson", "--file-path", "stdout.txt")
	az.fails("batch", "task", "file", "show", "--job-id", "j1", "--task-id", "tjson", "--file-path", "no-such-file.txt")

	// Release the sleeper; its stdout is complete afterwards.
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, 300*time.Millisecond, "sleeper completed", func() error {
		az.json(&s, "batch", "task", "show", "--job-id", "j1", "--task-id", "sleeper")
		if s.State != "completed" {
			return fmt.Errorf("state %s", s.State)
		}
		return nil
	})
	if got := az.download(tmp, "j1", "sleeper", "stdout.txt"); got != "started\nfinished\n" {
		t.Fatalf("sleeper stdout.txt after completion = %q", got)
	}

	// Delete a task.
	az.ok("batch", "task", "delete", "--job-id", "j1", "--task-id", "ta1", "--yes")
	if out := az.fails("batch", "task", "show", "--job-id", "j1", "--task-id", "ta1"); !strings.Contains(out, "does not exist") {
		t.Fatalf("task show of a deleted task: %s", out)
	}
	az.json(&ids, "batch", "task", "list", "--job-id", "j1", "--query", "[].id")
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"sleeper", "ta2", "ta3", "ta4", "tjson"}) {
		t.Fatalf("tasks after delete = %v", ids)
	}

	// --- wrong key: every command fails with 403 AuthenticationFailed ---------
	bad := newAz(t, bin, cfgDir, srv, wrongKey)
	badCmds := [][]string{
		{"batch", "pool", "list"},
		{"batch", "pool", "show", "--pool-id", "pjson"},
		{"batch", "pool", "create", "--json-file", poolFile},
		{"batch", "job", "list"},
		{"batch", "job", "show", "--job-id", "j1"},
		{"batch", "job", "create", "--id", "jbad", "--pool-id", "pjson"},
		{"batch", "task", "create", "--job-id", "j1", "--task-id", "tbad", "--command-line", "/bin/true"},
		{"batch", "task", "create", "--job-id", "j1", "--json-file", array},
		{"batch", "task", "list", "--job-id", "j1"},
		{"batch", "task", "show", "--job-id", "j1", "--task-id", "tjson"},
		{"batch", "task", "delete", "--job-id", "j1", "--task-id", "ta2", "--yes"},
		{"batch", "task", "file", "list", "--job-id", "j1", "--task-id", "tjson"},
		{"batch", "task", "file", "download", "--job-id", "j1", "--task-id", "tjson", "--file-path", "stdout.txt", "--destination", filepath.Join(tmp, "bad-download.txt")},
		{"batch", "job", "stop", "--job-id", "j1"},
		{"batch", "job", "delete", "--job-id", "j1", "--yes"},
	}
	for _, args := range badCmds {
		out := bad.fails(append(args, "--debug")...)
		if !strings.Contains(out, "HTTP/1.1\" 403 ") {
			t.Errorf("az %s with a wrong key: no 403 in the output:\n%s", strings.Join(args, " "), tail(out, 3000))
		}
		if !strings.Contains(out, "AuthenticationFailed") {
			t.Errorf("az %s with a wrong key: no AuthenticationFailed in the output:\n%s", strings.Join(args, " "), tail(out, 3000))
		}
	}
	// HEAD has no body, so only the status is visible.
	out := bad.fails("batch", "task", "file", "show", "--job-id", "j1", "--task-id", "tjson", "--file-path", "stdout.txt", "--debug")
	if !strings.Contains(out, "HTTP/1.1\" 403 ") {
		t.Errorf("az batch task file show with a wrong key: no 403:\n%s", tail(out, 3000))
	}
	// Nothing changed.
	az.json(&ids, "batch", "task", "list", "--job-id", "j1", "--query", "[].id")
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"sleeper", "ta2", "ta3", "ta4", "tjson"}) {
		t.Fatalf("tasks after wrong-key calls = %v", ids)
	}
	az.json(&ids, "batch", "job", "list", "--query", "[].id")
	if !slices.Equal(ids, []string{"j1"}) {
		t.Fatalf("jobs after wrong-key calls = %v", ids)
	}

	// --- job stop and delete -----------------------------------------------
	az.ok("batch", "job", "stop", "--job-id", "j1", "--terminate-reason", "e2e-stop")
	eventually(t, 30*time.Second, 300*time.Millisecond, "j1 completed", func() error {
		az.json(&j, "batch", "job", "show", "--job-id", "j1")
		if j.State != "completed" {
			return fmt.Errorf("state %s", j.State)
		}
		return nil
	})
	if j.ExecutionInfo == nil || j.ExecutionInfo.TerminateReason != "e2e-stop" || j.ExecutionInfo.EndTime == "" {
		t.Fatalf("stopped job executionInfo = %+v", j.ExecutionInfo)
	}
	az.ok("batch", "job", "delete", "--job-id", "j1", "--yes")
	eventually(t, 30*time.Second, 300*time.Millisecond, "j1 deleted", func() error {
		out, errOut, err := az.run("batch", "job", "show", "--job-id", "j1", "-o", "json")
		if err == nil {
			var j azJob
			_ = json.Unmarshal([]byte(out), &j)
			if j.State != "deleting" {
				return fmt.Errorf("job show after delete: state %q, want deleting or not found", j.State)
			}
			return errors.New("still deleting")
		}
		if !strings.Contains(errOut, "does not exist") {
			return fmt.Errorf("job show after delete: %s", errOut)
		}
		return nil
	})
	az.ok("batch", "pool", "delete", "--pool-id", "pjson", "--yes")
}

func poolIDs(pools []azPool) []string {
	var ids []string
	for _, p := range pools {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids
}
