package e2e

import (
	"crypto/md5"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/testenv"
)

// The seed document's C# example as a JSON task, created with
// `az batch task create --json-file` against openbatch dev, uploading to
// Azurite with a write-only SAS: exactly {taskId}/stdout.txt,
// {taskId}/stderr.txt and {taskId}/output.txt, each with a correct
// Content-MD5.
func TestSeedExampleThroughAzureCLI(t *testing.T) {
	t.Parallel()
	bin := requireAz(t)
	azr := testenv.SharedAzurite(t)
	container := azr.NewContainer(t)
	sas := azr.ContainerSAS(t, container, "w", time.Now().Add(24*time.Hour))
	tmp := t.TempDir()
	srv := startDev(t, filepath.Join(tmp, "data"))
	az := newAz(t, bin, filepath.Join(tmp, "azconfig"), srv, srv.Key)

	az.ok("batch", "pool", "create", "--id", "seedpool", "--vm-size", "standard_d2s_v3", "--target-dedicated-nodes", "1",
		"--image", "canonical:0001-com-ubuntu-server-focal:20_04-lts", "--node-agent-sku-id", "batch.node.ubuntu 20.04")
	az.ok("batch", "job", "create", "--id", "seedjob", "--pool-id", "seedpool")
	const taskID = "seedtask"
	// C#: cmd /v:ON /c "echo off && set && (FOR /L %i IN (1,1,100000) DO (ECHO !RANDOM!)) > output.txt"
	task := map[string]any{
		"id":          taskID,
		"commandLine": `/bin/bash -c 'set; for i in $(seq 1 100000); do echo $RANDOM; done > output.txt'`,
		"outputFiles": []any{
			map[string]any{
				"filePattern":   "../std*.txt",
				"destination":   map[string]any{"container": map[string]any{"containerUrl": sas, "path": taskID}},
				"uploadOptions": map[string]any{"uploadCondition": "TaskCompletion"},
			},
			map[string]any{
				"filePattern":   "output.txt",
				"destination":   map[string]any{"container": map[string]any{"containerUrl": sas, "path": taskID + "/output.txt"}},
				"uploadOptions": map[string]any{"uploadCondition": "TaskCompletion"},
			},
		},
	}
	az.ok("batch", "task", "create", "--job-id", "seedjob", "--json-file", writeJSONFile(t, tmp, "task.json", task))

	var shown struct {
		State         string `json:"state"`
		ExecutionInfo struct {
			Result   string `json:"result"`
			ExitCode *int   `json:"exitCode"`
		} `json:"executionInfo"`
	}
	eventually(t, 60*time.Second, 500*time.Millisecond, "seed task completes", func() error {
		az.json(&shown, "batch", "task", "show", "--job-id", "seedjob", "--task-id", taskID)
		if shown.State != "completed" {
			return errState(shown.State)
		}
		return nil
	})
	if shown.ExecutionInfo.Result != "success" || shown.ExecutionInfo.ExitCode == nil || *shown.ExecutionInfo.ExitCode != 0 {
		t.Fatalf("seed task = %+v", shown)
	}
	blobs := azr.Blobs(t, container)
	want := []string{taskID + "/output.txt", taskID + "/stderr.txt", taskID + "/stdout.txt"}
	if !slices.Equal(blobs, want) {
		t.Fatalf("blobs = %v, want exactly %v", blobs, want)
	}
	for _, b := range want {
		data, props := azr.Download(t, container, b)
		sum := md5.Sum(data)
		if string(props.ContentMD5) != string(sum[:]) {
			t.Errorf("%s: Content-MD5 %x, want %x", b, props.ContentMD5, sum)
		}
		if b == taskID+"/output.txt" && len(data) < 100000 {
			t.Errorf("output.txt has %d bytes; want 100000 lines", len(data))
		}
	}
}

type errState string

func (e errState) Error() string { return "task is " + string(e) }
