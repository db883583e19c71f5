package agent_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// listTaskFiles lists a task's files recursively through the Batch API.
func listTaskFiles(t *testing.T, c *client.Client, jobID, taskID string) []string {
	t.Helper()
	files, err := client.ListAll[api.NodeFile](ctxT(t, 10*time.Second), c, "/jobs/"+jobID+"/tasks/"+taskID+"/files?recursive=true")
	if err != nil {
		t.Fatalf("list files of %s/%s: %v", jobID, taskID, err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	return names
}

// wantNotFound asserts that GET of a task file answers 404 FileNotFound.
func wantNotFound(t *testing.T, c *client.Client, jobID, taskID, path string) {
	t.Helper()
	body, err := c.GetTaskFile(ctxT(t, 10*time.Second), jobID, taskID, path)
	var ce *client.Error
	if !asClientError(err, &ce) || ce.Status != http.StatusNotFound || ce.Body.Code != api.CodeFileNotFound {
		t.Fatalf("GET %s of %s/%s: want 404 FileNotFound, got %v (body %q)", path, jobID, taskID, err, body)
	}
}

func asClientError(err error, target **client.Error) bool {
	e, ok := err.(*client.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestRemoteTaskFiles reads the files of a task that runs on an `openbatch
// agent` process through the Batch API, while it runs and after: list,
// download, delete, and refusal of paths that leave the task directory.
func TestRemoteTaskFiles(t *testing.T) {
	srv, c := startServer(t)
	setupPool(t, c, "pool", "job")
	startAgents(t, srv, c, "pool")
	ctx := ctxT(t, 30*time.Second)

	cmd := `/bin/sh -c 'echo hello-remote; echo kept > out.txt; echo gone > del.txt; ln -s /etc/passwd leak; ` +
		`ln -s .. up; sleep 2; echo bye-remote'`
	if err := c.AddTask(ctx, "job", &api.Task{ID: "t1", CommandLine: cmd}); err != nil {
		t.Fatal(err)
	}

	// While it runs: stdout.txt is readable as it is written.
	waitTask(t, c, "job", "t1", 10*time.Second, "running with output", func(tk *api.Task) bool {
		if tk.State != api.TaskRunning {
			return false
		}
		out, err := c.GetTaskFile(ctx, "job", "t1", "stdout.txt")
		return err == nil && strings.Contains(string(out), "hello-remote")
	})
	names := listTaskFiles(t, c, "job", "t1")
	for _, want := range []string{"stdout.txt", "stderr.txt", "wd", "wd/out.txt"} {
		if !slices.Contains(names, want) {
			t.Errorf("listing while running lacks %s: %v", want, names)
		}
	}
	if slices.Contains(names, "wd/leak") {
		t.Errorf("listing shows the escaping symlink wd/leak: %v", names)
	}
	if tk, _ := c.GetTask(ctx, "job", "t1"); tk.State != api.TaskRunning {
		t.Fatalf("task no longer running while its files were read (%s): the sleep is too short for this machine", tk.State)
	}

	tk := waitTask(t, c, "job", "t1", 20*time.Second, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })
	if tk.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("task failed: %+v", tk.ExecutionInfo)
	}
	if tk.NodeInfo == nil || (tk.NodeInfo.NodeID != "node-a" && tk.NodeInfo.NodeID != "node-b") {
		t.Fatalf("task ran on %+v, not on an agent", tk.NodeInfo)
	}

	// After: the whole output, single files, and the node's own files.
	out, err := c.GetTaskFile(ctx, "job", "t1", "stdout.txt")
	if err != nil || string(out) != "hello-remote\nbye-remote\n" {
		t.Fatalf("stdout.txt after the run = %q, %v", out, err)
	}
	if out, err := c.GetTaskFile(ctx, "job", "t1", "wd/out.txt"); err != nil || string(out) != "kept\n" {
		t.Fatalf("wd/out.txt = %q, %v", out, err)
	}
	nodeFiles, err := client.ListAll[api.NodeFile](ctx, c, "/pools/pool/nodes/"+tk.NodeInfo.NodeID+"/files?recursive=true")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(nodeFiles, func(f api.NodeFile) bool { return f.Name == "workitems/job/job-1/t1/stdout.txt" }) {
		t.Errorf("node files lack the task's stdout.txt: %v", nodeFiles)
	}

	// Escapes: "..", a symlink out of the node, a symlink to the parent.
	for _, p := range []string{"../../../../../../etc/passwd", "../t1/../../../../etc/passwd", "wd/leak", "wd/up/../../../../etc/passwd", "/etc/passwd"} {
		wantNotFound(t, c, "job", "t1", p)
	}
	// A task's files are its own directory's: ".." never reaches the node root.
	wantNotFound(t, c, "job", "t1", "../../../../shared")

	// Delete through the API removes the file on the agent.
	if _, err := c.Do(ctx, http.MethodDelete, "/jobs/job/tasks/t1/files/wd/del.txt", nil, nil); err != nil {
		t.Fatalf("delete wd/del.txt: %v", err)
	}
	wantNotFound(t, c, "job", "t1", "wd/del.txt")
	// A non-empty directory needs recursive=true (409), as on a local node.
	_, err = c.Do(ctx, http.MethodDelete, "/jobs/job/tasks/t1/files/wd", nil, nil)
	if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusConflict {
		t.Fatalf("delete of non-empty wd: want 409, got %v", err)
	}

	// Deleting the task removes its directory from the remote node at once.
	nodeID := tk.NodeInfo.NodeID
	if _, err := c.Do(ctx, http.MethodDelete, "/jobs/job/tasks/t1", nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, http.MethodHead, "/pools/pool/nodes/"+nodeID+"/files/workitems/job/job-1/t1/stdout.txt", nil, nil)
	if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusNotFound {
		t.Fatalf("deleted task's stdout.txt on the node: want 404, got %v", err)
	}
}
