package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/agent/nodefiles"
)

// outputFilesStep stands for the output-files step the outputfiles package
// will provide: it runs after the process, also after failures.
type outputFilesStep struct{}

func (outputFilesStep) Name() string           { return "outputfiles" }
func (outputFilesStep) RunsAfterFailure() bool { return true }
func (outputFilesStep) Run(ctx context.Context, run *agent.TaskRun) error {
	// run.Result.ExitCode / FailureInfo decide the upload condition;
	// run.Env expands $VAR in patterns; run.Paths.FileUploadOut is the log.
	return nil
}

func Example() {
	layout, err := agent.NewLayout("/var/lib/openbatch/nodes/node-1")
	if err != nil {
		panic(err)
	}
	runner := agent.NewRunner(agent.Config{
		AutoStorage:  &agent.StorageAccount{BlobEndpoint: "http://127.0.0.1:10000/devstoreaccount1", AccountName: "devstoreaccount1", AccountKey: "…"},
		AfterProcess: []agent.Step{outputFilesStep{}},
	})
	node := agent.Node{AccountName: "dev", AccountURL: "http://127.0.0.1:8080", PoolID: "pool", NodeID: "node-1", IsDedicated: true, Layout: layout}

	ctx, terminate := context.WithCancelCause(context.Background())
	defer terminate(nil)
	res := runner.Run(ctx, agent.Spec{
		Kind: agent.KindTask, Node: node, JobID: "job1", TaskID: "task1",
		CommandLine:      `/bin/sh -c 'echo hello > out.txt'`,
		Environment:      []api.EnvironmentSetting{{Name: "GREETING", Value: "hi $AZ_BATCH_TASK_ID"}},
		MaxWallClockTime: time.Hour,
	})
	// elsewhere, on task terminate: terminate(agent.ErrTerminated)
	fmt.Println(res.Outcome(), res.ExitCode, res.FailureInfo, res.PreProcessingError)

	// Serving the task's files (GET /jobs/job1/tasks/task1/files/...).
	paths, _ := layout.TaskPaths("job1", "task1")
	files, _ := nodefiles.List(paths.Dir, "", true, "wd/")
	f, props, err := nodefiles.Open(paths.Dir, "wd/out.txt")
	switch {
	case errors.Is(err, nodefiles.ErrNotFound), errors.Is(err, nodefiles.ErrInvalidPath):
		// 404 FileNotFound
	case err == nil:
		defer f.Close()
		_, _ = io.Copy(io.Discard, io.NewSectionReader(f, 0, props.Properties.ContentLength))
	}
	_ = files
}
