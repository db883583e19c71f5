package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openbatch/openbatch/internal/nodeproto"
)

// Default IDs of the job preparation and release tasks, used for their task
// directories when the job does not name them (as in Azure Batch).
const (
	DefaultJobPreparationTaskID = "jobpreparation"
	DefaultJobReleaseTaskID     = "jobrelease"
)

// Names inside a task directory.
const (
	StdoutFileName        = "stdout.txt"
	StderrFileName        = "stderr.txt"
	FileUploadOutFileName = "fileuploadout.txt"
	FileUploadErrFileName = "fileuploaderr.txt"
	WorkingDirName        = "wd"
	CertsDirName          = "certs"
)

// Modes of the directories the node creates. The node root and a task's
// own directories are readable by all (tasks of a job read its preparation
// task's directory, whatever user each runs as); workitems and the job
// directories below it can be traversed but not listed, so that a task
// cannot discover other jobs; shared is writable by every task's user,
// sticky like /tmp; volatile holds the agent's own state and is the
// agent's alone.
const (
	dirPerm      = 0o755
	traversePerm = 0o711
	sharedPerm   = 0o777 | os.ModeSticky
	privatePerm  = 0o700
)

// Layout is the directory tree of one node, rooted at Root (the value of
// AZ_BATCH_NODE_ROOT_DIR). Every path the node uses is derived from Root, so
// several nodes on one machine never collide as long as each has its own
// root. The zero value is not usable; use NewLayout.
type Layout struct {
	// Root is an absolute, cleaned directory path.
	Root string
}

// NewLayout returns the layout rooted at root, made absolute. It does not
// touch the disk; call Init to create the fixed directories.
func NewLayout(root string) (Layout, error) {
	if root == "" {
		return Layout{}, errors.New("node root directory is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return Layout{}, fmt.Errorf("node root directory %q: %w", root, err)
	}
	return Layout{Root: abs}, nil
}

// Init creates the node's fixed directories (shared, startup, startup/wd,
// applications, fsmounts, volatile, workitems). It is idempotent.
//
// It also sets their modes (see dirPerm), existing directories included, so
// that a node root created by an older version is tightened too.
func (l Layout) Init() error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{l.Root, dirPerm}, {l.SharedDir(), sharedPerm}, {l.StartupDir(), dirPerm}, {l.StartupWorkingDir(), dirPerm},
		{l.ApplicationsDir(), dirPerm}, {l.MountsDir(), dirPerm}, {l.VolatileDir(), privatePerm}, {l.WorkItemsDir(), traversePerm},
	} {
		if err := os.MkdirAll(d.path, dirPerm); err != nil {
			return fmt.Errorf("create node directory: %w", err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("set mode of node directory: %w", err)
		}
	}
	return nil
}

// TaskVisibleDirs are the node directories tasks use: the only places
// outside its task directory an absolute output file pattern may name. The
// node root itself is not one of them: the agent keeps its own files there.
func (l Layout) TaskVisibleDirs() []string {
	return []string{l.SharedDir(), l.StartupDir(), l.ApplicationsDir(), l.MountsDir(), l.WorkItemsDir()}
}

// SharedDir is AZ_BATCH_NODE_SHARED_DIR: shared by all tasks on the node.
func (l Layout) SharedDir() string { return filepath.Join(l.Root, "shared") }

// StartupDir is AZ_BATCH_NODE_STARTUP_DIR: the start task's task directory.
func (l Layout) StartupDir() string { return filepath.Join(l.Root, "startup") }

// StartupWorkingDir is AZ_BATCH_NODE_STARTUP_WORKING_DIR: the start task's wd.
func (l Layout) StartupWorkingDir() string { return filepath.Join(l.StartupDir(), WorkingDirName) }

// ApplicationsDir is where application packages would be deployed.
func (l Layout) ApplicationsDir() string { return filepath.Join(l.Root, "applications") }

// MountsDir is AZ_BATCH_NODE_MOUNTS_DIR.
func (l Layout) MountsDir() string { return filepath.Join(l.Root, "fsmounts") }

// VolatileDir holds the node's internal state (not for tasks).
func (l Layout) VolatileDir() string { return filepath.Join(l.Root, "volatile") }

// WorkItemsDir holds one directory per job.
func (l Layout) WorkItemsDir() string { return filepath.Join(l.Root, "workitems") }

// JobDir is the directory of a job on this node: workitems/{jobId}/job-1.
func (l Layout) JobDir(jobID string) (string, error) {
	if err := checkID("job", jobID); err != nil {
		return "", err
	}
	return filepath.Join(l.WorkItemsDir(), jobID, "job-1"), nil
}

// TaskRootDirectory is the task directory relative to Root with "/"
// separators, as reported in a task's nodeInfo.taskRootDirectory
// ("workitems/{jobId}/job-1/{taskId}"). The server names it in the
// protocol: nodeproto.TaskRootDirectory.
func TaskRootDirectory(jobID, taskID string) string {
	return nodeproto.TaskRootDirectory(jobID, taskID)
}

// TaskPaths are the paths of one task directory.
type TaskPaths struct {
	Dir           string // AZ_BATCH_TASK_DIR
	WorkingDir    string // AZ_BATCH_TASK_WORKING_DIR, the process's cwd
	Stdout        string // stdout.txt
	Stderr        string // stderr.txt
	Certs         string // AZ_BATCH_CERTIFICATES_DIR
	FileUploadOut string // fileuploadout.txt, written by the output-files step
	FileUploadErr string // fileuploaderr.txt
}

func taskPaths(dir string) TaskPaths {
	return TaskPaths{
		Dir:           dir,
		WorkingDir:    filepath.Join(dir, WorkingDirName),
		Stdout:        filepath.Join(dir, StdoutFileName),
		Stderr:        filepath.Join(dir, StderrFileName),
		Certs:         filepath.Join(dir, CertsDirName),
		FileUploadOut: filepath.Join(dir, FileUploadOutFileName),
		FileUploadErr: filepath.Join(dir, FileUploadErrFileName),
	}
}

// TaskPaths returns the paths of a job's task (also used for the job
// preparation and release tasks, whose directories sit beside the tasks').
func (l Layout) TaskPaths(jobID, taskID string) (TaskPaths, error) {
	jd, err := l.JobDir(jobID)
	if err != nil {
		return TaskPaths{}, err
	}
	if err := checkID("task", taskID); err != nil {
		return TaskPaths{}, err
	}
	return taskPaths(filepath.Join(jd, taskID)), nil
}

// StartTaskPaths returns the paths of the start task: its task directory is
// StartupDir, its wd StartupWorkingDir.
func (l Layout) StartTaskPaths() TaskPaths { return taskPaths(l.StartupDir()) }

// PathsFor returns the task directory of a run of the given kind.
func (l Layout) PathsFor(kind Kind, jobID, taskID string) (TaskPaths, error) {
	if kind == KindStartTask {
		return l.StartTaskPaths(), nil
	}
	return l.TaskPaths(jobID, taskID)
}

// RemoveTaskDir deletes a task's directory and everything in it (used on
// task delete and when retention expires). Symbolic links inside are
// removed, never followed. A missing directory is not an error.
func (l Layout) RemoveTaskDir(jobID, taskID string) error {
	p, err := l.TaskPaths(jobID, taskID)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		return fmt.Errorf("remove task directory of %s/%s: %w", jobID, taskID, err)
	}
	return nil
}

// RemoveJobDir deletes a job's whole directory, workitems/{jobId}, with all
// its task directories. A missing directory is not an error.
func (l Layout) RemoveJobDir(jobID string) error {
	if err := checkID("job", jobID); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(l.WorkItemsDir(), jobID)); err != nil {
		return fmt.Errorf("remove job directory of %s: %w", jobID, err)
	}
	return nil
}

// checkID refuses IDs that are not Batch IDs (letters, digits, '-', '_', at
// most 64 characters), so that no ID can name a path outside its parent.
func checkID(what, id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("invalid %s id %q: must be 1 to 64 characters", what, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("invalid %s id %q: only letters, digits, '-' and '_' are allowed", what, id)
		}
	}
	return nil
}
