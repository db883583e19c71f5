// Package nodeproto is the protocol between the server and its node agents:
// a node registers, then repeatedly acquires work (which is also its
// heartbeat) and reports each task run's outcome.
//
// Every task handed to a node is a lease carrying an epoch. The server bumps
// the epoch whenever the task leaves the node's hands (completed, requeued,
// terminated), and refuses any report with an old epoch: a node that lost
// its lease can never complete a task twice. The same Coordinator interface
// is served over HTTP for `openbatch agent` and called directly in-process by
// `openbatch dev`.
package nodeproto

import (
	"context"
	"errors"
	"time"

	"github.com/openbatch/openbatch/api"
)

// ErrStaleLease is returned for a report whose lease is no longer current.
var ErrStaleLease = errors.New("stale lease: the task was requeued, terminated or completed elsewhere")

// ErrNodeExists is returned for a registration, with only the join token,
// of a node ID that is already registered.
var ErrNodeExists = errors.New("a node with this ID is registered: re-registering it needs the node's own credential (its identity file in the node root), not the join token")

// ErrUnknownNode is returned when a node that is not registered calls.
var ErrUnknownNode = errors.New("unknown node: register again")

// Lease identifies one hand-out of a task to a node.
type Lease struct {
	JobID  string `json:"jobId"`
	TaskID string `json:"taskId"`
	Epoch  int64  `json:"epoch"`
}

// Registration is a node joining a pool.
type Registration struct {
	PoolID string `json:"poolId"`
	// NodeID is the node's ID; empty asks the server to assign one.
	NodeID string `json:"nodeId,omitempty"`
	// Root is the node's root directory on its machine (informational).
	Root string `json:"root"`
	// Address is the base URL of the node's file server ("" in-process).
	Address string `json:"address,omitempty"`
	// IPAddress is reported as the node's ipAddress.
	IPAddress string `json:"ipAddress,omitempty"`
	// Dedicated says whether the node is dedicated (as opposed to spot).
	Dedicated bool `json:"dedicated"`
	// Resume lists leases a restarted node is still finishing: their
	// process exited before the agent stopped and the agent recorded that
	// durably (see agent's run journal), so it resumes their output uploads
	// and reports them without running them again. The server keeps those
	// of them the node still holds (same node, same epoch, task running)
	// and requeues the node's other leases, as for any restart. At most
	// MaxResume.
	Resume []Lease `json:"resume,omitempty"`
	// ByJoinToken is set by the HTTP handler when the caller presented only
	// the join token, not the node's own credential: such a registration
	// may create a node but never take over an existing one.
	ByJoinToken bool `json:"-"`
}

// MaxResume bounds Registration.Resume: more leases than any node has task
// slots (Azure allows at most 256 per node).
const MaxResume = 256

// NodeConfig is what a registered node needs to know about its pool.
type NodeConfig struct {
	NodeID string `json:"nodeId"`
	// Resumed are the leases of Registration.Resume that the node still
	// holds: it finishes and reports them. The others were requeued (the
	// node came back after its heartbeat timeout, or the task was
	// terminated meanwhile); the node discards them.
	Resumed []Lease `json:"resumed,omitempty"`
	// Credential is the node's own credential, which every later call of
	// the node carries (and the server's calls to the node's file service);
	// "" for in-process nodes.
	Credential  string         `json:"credential,omitempty"`
	PoolID      string         `json:"poolId"`
	VMSize      string         `json:"vmSize"`
	Slots       int            `json:"slots"`
	StartTask   *api.StartTask `json:"startTask,omitempty"`
	AccountName string         `json:"accountName"`
	AccountURL  string         `json:"accountUrl"`
	// HeartbeatInterval is how often an idle node must call Acquire.
	HeartbeatInterval time.Duration `json:"heartbeatInterval"`
	// HeartbeatTimeout is how long the server waits before it requeues a
	// silent node's tasks. A node that cannot reach the server for that
	// long stops its tasks itself, so that no task runs on two nodes.
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout"`
	// UserAccounts are the pool's named user accounts (no secrets), which
	// tasks may name in userIdentity.username.
	UserAccounts []UserAccount `json:"userAccounts,omitempty"`
}

// NodeStatus is a node's report of itself on each Acquire.
type NodeStatus struct {
	PoolID    string `json:"poolId"`
	NodeID    string `json:"nodeId"`
	FreeSlots int    `json:"freeSlots"`
	// Running lists the leases the node is running now, those whose runs
	// are over but whose reports are not yet in included (the server
	// requeues a lease its node does not list).
	Running []Lease `json:"running,omitempty"`
	// Ended lists the leases of Running whose runs are over and whose
	// reports are being sent: the server does not cancel them when their
	// tasks have completed meanwhile (the report's commit and this poll
	// crossed), as there is nothing left to stop; a poll answered with a
	// cancel returns at once, so cancelling them made a node poll in a
	// loop while its report was in flight. (An older server ignores the
	// field and cancels them as before, which is harmless.)
	Ended []Lease `json:"ended,omitempty"`
	// State is the node's state (idle, running, starttaskfailed, ...).
	State api.NodeState `json:"state"`
	// StartTaskInfo is the pool start task's latest run, if any.
	StartTaskInfo *api.StartTaskInformation `json:"startTaskInfo,omitempty"`
	// Wait is how long the server may hold the call when it has no work.
	Wait time.Duration `json:"wait"`
}

// Assignment is a task leased to a node, with everything needed to run it.
type Assignment struct {
	Lease Lease    `json:"lease"`
	Task  api.Task `json:"task"`
	// JobEnvironment is the job's commonEnvironmentSettings.
	JobEnvironment []api.EnvironmentSetting `json:"jobEnvironment,omitempty"`
	// JobPreparationTask runs on the node before the job's first task there.
	JobPreparationTask *api.JobPreparationTask `json:"jobPreparationTask,omitempty"`
	// JobReleaseTask runs on the node when the job ends.
	JobReleaseTask *api.JobReleaseTask `json:"jobReleaseTask,omitempty"`
}

// Work is the answer to Acquire.
type Work struct {
	Assignments []Assignment `json:"assignments,omitempty"`
	// Cancel lists leases the node must stop (kill the process, report
	// nothing). A node uploads the outputs of a cancelled run as for a
	// failure (upload on eviction) unless its lease is also in Requeued.
	Cancel []Lease `json:"cancel,omitempty"`
	// Requeued are the leases of Cancel whose task went back to the queue:
	// it may run again elsewhere at once, so the node uploads nothing more
	// for them (the next run's outputs must not race with this one's).
	Requeued []Lease `json:"requeued,omitempty"`
	// RemoveTaskDirs lists task directories to delete (task or job deleted).
	RemoveTaskDirs []TaskRef `json:"removeTaskDirs,omitempty"`
	// Releases are job release tasks to run now: their job completed and
	// its preparation task ran on this node.
	Releases []Release `json:"releases,omitempty"`
	// Leave is true when the node has been removed from its pool.
	Leave bool `json:"leave,omitempty"`
	// Remove is true when the node is being removed through its agent
	// (leavingpool, drained with nodeDeallocationOption requeue or
	// terminate): it takes no new work, stops its running tasks as
	// evictions (uploading their failure outputs), then leaves its pool
	// (Leaver), which requeues the tasks it still held. A node drained
	// with taskcompletion or retaineddata is not told: its tasks finish.
	Remove bool `json:"remove,omitempty"`
}

// Release is a job release task to run on a node.
type Release struct {
	JobID                string                   `json:"jobId"`
	JobPreparationTaskID string                   `json:"jobPreparationTaskId"`
	Task                 api.JobReleaseTask       `json:"task"`
	JobEnvironment       []api.EnvironmentSetting `json:"jobEnvironment,omitempty"`
}

// TaskRef names a task.
type TaskRef struct {
	JobID  string `json:"jobId"`
	TaskID string `json:"taskId"`
}

// FailureKind says at which stage a run failed (see lifecycle.FailureKind).
type FailureKind int

// Report is the outcome of one task run.
type Report struct {
	NodeID      string                      `json:"nodeId"`
	PoolID      string                      `json:"poolId"`
	Lease       Lease                       `json:"lease"`
	StartTime   time.Time                   `json:"startTime"`
	EndTime     time.Time                   `json:"endTime"`
	ExitCode    *int32                      `json:"exitCode,omitempty"`
	FailureInfo *api.TaskFailureInformation `json:"failureInfo,omitempty"`
	Kind        FailureKind                 `json:"kind"`
	Stats       *api.TaskStatistics         `json:"stats,omitempty"`
	// Uploads summarises the run's output file upload (nil when the task
	// has no outputFiles or nothing was attempted); the server counts it in
	// its metrics.
	Uploads *UploadStats `json:"uploads,omitempty"`
	// Next is how many slots the node offers for new leases now that this
	// run has ended (its own included): the server leases tasks into them
	// in the same call and returns them (Completed), so that a node keeps
	// its slots busy with one call per task rather than a report and a
	// poll. 0 (a draining node, or an agent older than the field) asks for
	// nothing: the node's waiting poll is woken instead.
	Next int `json:"next,omitempty"`
}

// Completed is the answer to Complete: the leases taken for the node's
// Report.Next slots, to be run as if an Acquire had returned them.
type Completed struct {
	Assignments []Assignment `json:"assignments,omitempty"`
}

// UploadStats summarises one task run's output file upload.
type UploadStats struct {
	// Uploaded and Failed count files.
	Uploaded int `json:"uploaded"`
	Failed   int `json:"failed"`
	// Bytes is the number of bytes uploaded.
	Bytes int64 `json:"bytes"`
	// Retries counts retried storage requests.
	Retries int `json:"retries"`
	// Duration is the upload's wall time.
	Duration time.Duration `json:"duration"`
	// FailureCode is the FileUpload* code when the upload failed.
	FailureCode string `json:"failureCode,omitempty"`
}

// PrepReleaseReport records a job preparation or release task run.
type PrepReleaseReport struct {
	NodeID  string                                      `json:"nodeId"`
	PoolID  string                                      `json:"poolId"`
	JobID   string                                      `json:"jobId"`
	Prep    *api.JobPrepReleaseTaskExecutionInformation `json:"prep,omitempty"`
	Release *api.JobPrepReleaseTaskExecutionInformation `json:"release,omitempty"`
}

// TaskRootDirectory is where a node keeps a task's directory, relative to
// its root with "/" separators ("workitems/{jobId}/job-1/{taskId}"), as
// Azure's Linux nodes do and as a task's nodeInfo.taskRootDirectory
// reports it. The server and the agent agree on it here.
func TaskRootDirectory(jobID, taskID string) string {
	return "workitems/" + jobID + "/job-1/" + taskID
}

// Leaver is a Coordinator a node can leave its pool through (a drained
// agent): the node is removed and any lease it still holds is requeued.
type Leaver interface {
	Leave(ctx context.Context, poolID, nodeID string) error
}

// Coordinator is the server side of the protocol.
type Coordinator interface {
	// Register adds a node to a pool and returns its configuration.
	Register(ctx context.Context, reg Registration) (*NodeConfig, error)
	// Acquire records the node's heartbeat and returns work: new leases,
	// leases to cancel, directories to remove. With no work it may block up
	// to status.Wait.
	Acquire(ctx context.Context, status NodeStatus) (*Work, error)
	// Complete reports a run's outcome; ErrStaleLease if the lease is gone.
	// It returns the leases taken for rep.Next (none when rep.Next is 0):
	// they are the node's, as leases an Acquire returns are.
	Complete(ctx context.Context, rep Report) (*Completed, error)
	// PrepRelease records a job preparation or release task run.
	PrepRelease(ctx context.Context, rep PrepReleaseReport) error
}
