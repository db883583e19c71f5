package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/openbatch/openbatch/api"
)

// taskDirStep creates the node's fixed directories and the run's task
// directory with wd/ and certs/. An existing directory (a retry, or a start
// task rerun) is reused as is: stdout.txt and stderr.txt are appended to.
type taskDirStep struct{}

func (taskDirStep) Name() string { return "taskdir" }

func (taskDirStep) Run(_ context.Context, run *TaskRun) error {
	if _, err := os.Stat(run.Spec.Node.Layout.WorkItemsDir()); err != nil {
		if err := run.Spec.Node.Layout.Init(); err != nil {
			return dirFailure(err)
		}
	}
	// wd and certs are created with their parent, the task directory.
	for _, d := range []string{run.Paths.WorkingDir, run.Paths.Certs} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return dirFailure(fmt.Errorf("create task directory: %w", err))
		}
	}
	return nil
}

func dirFailure(err error) *Failure {
	if errors.Is(err, syscall.ENOSPC) {
		return NewFailure(api.ServerError, api.FailureDiskFull, "There is not enough disk space on the node to create the task directory", true, err)
	}
	return NewFailure(api.ServerError, api.FailureUnknown, "The node could not create the task directory", true, err)
}
