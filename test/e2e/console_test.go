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
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/testenv"
)

// chromiumPath is Debian's chromium, which scripts/setup.sh installs; the
// browser test never downloads one.
const chromiumPath = "/usr/bin/chromium"

// requireBrowser returns node and the node_modules directory holding
// playwright-core, and skips the test (fails it under
// OPENBATCH_REQUIRE_E2E=1) when chromium, node or playwright-core is
// missing.
func requireBrowser(t *testing.T) (node, modules string) {
	t.Helper()
	node, modules, err := nodeSDK()
	if err == nil {
		if _, serr := os.Stat(chromiumPath); serr != nil {
			err = fmt.Errorf("chromium is not installed at %s (scripts/setup.sh installs the Debian package chromium): %w", chromiumPath, serr)
		}
	}
	if err == nil {
		if _, serr := os.Stat(filepath.Join(modules, "playwright-core", "package.json")); serr != nil {
			err = fmt.Errorf("playwright-core is not installed in tools/node (run scripts/setup.sh, which runs npm ci there): %w", serr)
		}
	}
	testenv.Require(t, err)
	return node, modules
}

// artifactsDir is where the browser test saves its screenshots:
// $OPENBATCH_ARTIFACTS/<test name> when set (CI keeps it), else a
// directory the test logs and leaves in place.
func artifactsDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("OPENBATCH_ARTIFACTS")
	if root == "" {
		d, err := os.MkdirTemp("", "openbatch-artifacts-")
		if err != nil {
			t.Fatal(err)
		}
		root = d
	}
	dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestConsoleInBrowser drives the web console of a real `openbatch dev`
// in headless chromium (playwright-core, console/console.spec.mjs) over a
// job with succeeded, failed and running tasks whose outputs go to
// Azurite: the job page shows the right counts, the failed task its
// failure code and details, output blobs are listed with their sizes, and
// a running task's stdout grows on the page without a reload.
func TestConsoleInBrowser(t *testing.T) {
	node, modules := requireBrowser(t)
	azr := testenv.SharedAzurite(t)
	container := azr.NewContainer(t)
	// The console lists what landed, so this SAS may list and read too.
	sas := azr.ContainerSAS(t, container, "rwl", time.Now().Add(24*time.Hour))
	missing := azr.ContainerSAS(t, container+"-missing", "rwl", time.Now().Add(24*time.Hour))
	tmp := t.TempDir()
	srv := startDev(t, filepath.Join(tmp, "data"))
	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	if err := c.AddPool(ctx, poolSpec("consolepool", 1, 4)); err != nil {
		t.Fatal(err)
	}
	const job = "consolejob"
	if err := c.AddJob(ctx, &api.Job{ID: job, PoolInfo: &api.PoolInformation{PoolID: "consolepool"}}); err != nil {
		t.Fatal(err)
	}
	out := func(pattern, path, url string) api.OutputFile {
		return api.OutputFile{FilePattern: pattern,
			Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: url, Path: path}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}
	}
	release := filepath.Join(tmp, "release")
	tasks := []*api.Task{
		// Succeeds; its outputs follow the Batch File Conventions layout.
		{ID: "ok", CommandLine: `/bin/sh -c 'echo hello from ok; printf "result\n" > result.txt'`,
			OutputFiles: []api.OutputFile{out("result.txt", "ok/$TaskOutput/result.txt", sas), out("../std*.txt", "ok/$TaskLog", sas)}},
		// Fails with a non-zero exit code.
		{ID: "exit3", CommandLine: `/bin/sh -c 'echo failing >&2; exit 3'`},
		// Exits 0 but its upload fails: the container does not exist.
		{ID: "uploadfail", CommandLine: `/bin/sh -c 'echo data > data.txt'`,
			OutputFiles: []api.OutputFile{out("data.txt", "uploadfail/data.txt", missing)}},
		// Runs until the browser test writes the release file.
		{ID: "live", CommandLine: fmt.Sprintf(`/bin/sh -c 'echo first-line; while [ ! -f %s ]; do sleep 0.2; done; echo appended-after-load'`, release)},
	}
	res, err := c.AddTasks(ctx, job, tasks)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Value {
		if r.Status != api.TaskAddSuccess {
			t.Fatalf("add task %s: %+v", r.TaskID, r.Error)
		}
	}
	eventually(t, 2*time.Minute, 300*time.Millisecond, "three tasks complete and live runs with its first line out", func() error {
		tc, err := c.TaskCounts(ctx, job)
		if err != nil {
			return err
		}
		if n := tc.TaskCounts; n.Completed != 3 || n.Running != 1 {
			return fmt.Errorf("counts %+v", n)
		}
		b, err := c.GetTaskFile(ctx, job, "live", "stdout.txt")
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("first-line")) {
			return errors.New("live has not printed its first line")
		}
		return nil
	})
	failed, err := c.GetTask(ctx, job, "uploadfail")
	if err != nil {
		t.Fatal(err)
	}
	fi := failed.ExecutionInfo.FailureInfo
	if fi == nil || fi.Code != "FileUploadContainerNotFound" || len(fi.Details) == 0 {
		t.Fatalf("uploadfail failureInfo = %+v, want FileUploadContainerNotFound with details", fi)
	}
	details := map[string]string{}
	for _, d := range fi.Details {
		details[d.Name] = d.Value
	}
	stdout, err := c.GetTaskFile(ctx, job, "ok", "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	expect := map[string]any{
		"total":  4,
		"counts": map[string]int{"active": 0, "running": 1, "completed": 3, "succeeded": 1, "failed": 2},
		"failed": map[string]any{"task": "uploadfail", "code": fi.Code, "details": details},
		"outputs": map[string]any{"task": "ok", "kinds": []string{"TaskOutput", "TaskLog"},
			"blobs": map[string]int{"ok/$TaskOutput/result.txt": len("result\n"), "ok/$TaskLog/stdout.txt": len(stdout)}},
		"live": map[string]any{"task": "live", "first": "first-line", "appended": "appended-after-load", "release": release},
	}
	expectJSON, err := json.Marshal(expect)
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("console", "console.spec.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	cmd := exec.CommandContext(sctx, node, script)
	cmd.Env = cleanEnv([]string{
		"OB_CONSOLE=" + srv.Endpoint + "/console/",
		"OB_JOB=" + job,
		"OB_EXPECT=" + string(expectJSON),
		"OB_ARTIFACTS=" + artifactsDir(t),
		"OB_NODE_MODULES=" + modules,
		"OB_CHROMIUM=" + chromiumPath,
	})
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err = cmd.Run()
	t.Logf("console.spec.mjs:\n%s", so.String())
	if err != nil {
		t.Fatalf("console.spec.mjs: %v\nstderr:\n%s", err, se.String())
	}
	// The live task finished once released; its whole stdout is there.
	final, err := c.WaitTask(ctx, job, "live")
	if err != nil {
		t.Fatal(err)
	}
	if final.ExecutionInfo == nil || final.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("live task = %+v", final.ExecutionInfo)
	}
}
