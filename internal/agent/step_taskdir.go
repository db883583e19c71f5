package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	fresh, err := makeTaskDir(run.Paths)
	if err != nil {
		return dirFailure(fmt.Errorf("create task directory: %w", err))
	}
	run.freshDir = fresh
	if run.Spec.Kind != KindStartTask {
		// workitems/{jobId} and workitems/{jobId}/job-1: traverse only.
		// Read first: a job's later tasks find them restricted already,
		// and a read costs the file system less than a write.
		job := filepath.Dir(run.Paths.Dir)
		for _, d := range []string{job, filepath.Dir(job)} {
			if err := restrictDir(d); err != nil {
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

// makeTaskDir creates the task directory with wd/ and certs/ and reports
// whether it created the task directory itself (false: it existed, a
// retry or a rerun). It makes each directory with one mkdir, and the
// job's directories above only when the task directory's parent is
// missing (the job's first task on the node), rather than MkdirAll's
// stat of every level for every task.
func makeTaskDir(p TaskPaths) (fresh bool, err error) {
	switch err := os.Mkdir(p.Dir, dirPerm); {
	case err == nil:
		fresh = true
	case errors.Is(err, fs.ErrExist):
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(p.Dir), dirPerm); err != nil {
			return false, err
		}
		if err := os.Mkdir(p.Dir, dirPerm); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				return false, err
			}
		} else {
			fresh = true
		}
	default:
		return false, err
	}
	for _, d := range []string{p.WorkingDir, p.Certs} {
		if err := os.Mkdir(d, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, err
		}
	}
	return fresh, nil
}

// restrictDir makes the agent's directory d traverse-only, unless it is
// already.
func restrictDir(d string) error {
	fi, err := os.Lstat(d)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == traversePerm {
		return nil
	}
	return os.Chmod(d, traversePerm)
}

func dirFailure(err error) *Failure {
	if errors.Is(err, syscall.ENOSPC) {
		return NewFailure(api.ServerError, api.FailureDiskFull, "There is not enough disk space on the node to create the task directory", true, err)
	}
	return NewFailure(api.ServerError, api.FailureUnknown, "The node could not create the task directory", true, err)
}
