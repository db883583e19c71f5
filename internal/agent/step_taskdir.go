package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/openbatch/openbatch/api"
)

// taskDirStep decides the user the run's process runs as (Config.Users),
// creates the node's fixed directories and the run's task directory with
// wd/ and certs/, and gives the task directory to that user. An existing
// directory (a retry, or a start task rerun) is reused as is: stdout.txt
// and stderr.txt are appended to.
//
// The directories above a task directory (workitems/{jobId}/job-1) are
// owned by the agent and can be traversed but not listed by tasks, so that
// a task cannot discover other jobs' directories.
type taskDirStep struct{}

func (taskDirStep) Name() string { return "taskdir" }

func (taskDirStep) Run(ctx context.Context, run *TaskRun) error {
	id, err := run.cfg.Users.Resolve(ctx, run.Spec)
	if err != nil {
		return err
	}
	run.User = id
	l := run.Spec.Node.Layout
	if _, err := os.Stat(l.WorkItemsDir()); err != nil {
		if err := l.Init(); err != nil {
			return dirFailure(err)
		}
	}
	// wd and certs are created with their parent, the task directory.
	for _, d := range []string{run.Paths.WorkingDir, run.Paths.Certs} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return dirFailure(fmt.Errorf("create task directory: %w", err))
		}
	}
	if run.Spec.Kind != KindStartTask {
		// workitems/{jobId} and workitems/{jobId}/job-1: traverse only.
		job := filepath.Dir(run.Paths.Dir)
		for _, d := range []string{job, filepath.Dir(job)} {
			if err := os.Chmod(d, traversePerm); err != nil {
				return dirFailure(fmt.Errorf("restrict job directory: %w", err))
			}
		}
	}
	if id != nil {
		for _, d := range []string{run.Paths.Dir, run.Paths.WorkingDir, run.Paths.Certs} {
			if err := os.Lchown(d, int(id.UID), int(id.GID)); err != nil {
				return dirFailure(fmt.Errorf("give the task directory to user %s: %w", id.Name, err))
			}
		}
		if err := os.Chmod(run.Paths.Certs, 0o700); err != nil {
			return dirFailure(fmt.Errorf("restrict certs directory: %w", err))
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
