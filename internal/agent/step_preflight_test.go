package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/testenv"
	"github.com/openbatch/openbatch/outputfiles"
)

// TestPreflightExpiredSAS runs a task whose output destination's SAS has
// already expired, against Azurite: by default the task runs and
// fileuploadout.txt says at start that the SAS expired; with
// OPENBATCH_UPLOAD_PREFLIGHT=fail the command never runs and the task fails
// with FileUploadAccessDenied.
func TestPreflightExpiredSAS(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	expired := a.ContainerSAS(t, cn, "rw", time.Now().Add(-time.Minute))
	op, err := outputfiles.NewOpener(azure.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		mode     string
		wantRan  bool
		wantCode string
	}{
		{"default warns", "", true, api.FailureFileUploadAccessDenied}, // the upload itself fails later, as on Azure
		{"fail opts in", "fail", false, api.FailureFileUploadAccessDenied},
		{"off skips", "off", true, api.FailureFileUploadAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := testNode(t)
			r := testRunner(t, func(c *Config) {
				c.BeforeProcess = []Step{PreflightStep{Opener: op}}
				c.AfterProcess = []Step{OutputFilesStep{Opener: op}}
			})
			spec := taskSpec(node, "/bin/sh -c 'echo ran > marker.txt'")
			spec.OutputFiles = []api.OutputFile{{FilePattern: "marker.txt",
				Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: expired, Path: "m.txt"}},
				UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}}
			if tt.mode != "" {
				spec.Environment = []api.EnvironmentSetting{{Name: PreflightEnv, Value: tt.mode}}
			}
			res := r.Run(context.Background(), spec)
			p, _ := node.Layout.TaskPaths("job1", "task1")
			_, statErr := os.Stat(filepath.Join(p.WorkingDir, "marker.txt"))
			if ran := statErr == nil; ran != tt.wantRan {
				t.Errorf("command ran = %v, want %v", ran, tt.wantRan)
			}
			if res.FailureInfo == nil || res.FailureInfo.Code != tt.wantCode {
				t.Fatalf("failure %+v, want %s", res.FailureInfo, tt.wantCode)
			}
			log := readFile(t, filepath.Join(p.Dir, outputfiles.OutLogName))
			hasPreflight := strings.Contains(log, "SAS expired at")
			if hasPreflight != (tt.mode != "off") {
				t.Errorf("fileuploadout.txt preflight line present = %v:\n%s", hasPreflight, log)
			}
			if strings.Contains(log, "sig="+sigValue(expired)) {
				t.Error("fileuploadout.txt shows the SAS signature")
			}
			if !tt.wantRan && res.ExitCode != nil {
				t.Errorf("exit code %v for a command that never ran", *res.ExitCode)
			}
		})
	}
}

func sigValue(u string) string {
	_, after, _ := strings.Cut(u, "sig=")
	v, _, _ := strings.Cut(after, "&")
	return v
}
