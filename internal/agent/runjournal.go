package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/outputfiles"
	"github.com/openbatch/openbatch/outputfiles/journal"
)

// The run journal makes a task's outputs exactly-once across an agent
// crash. Once a task's process has exited, and before anything is
// uploaded or reported, the agent records durably (in volatile/, next to
// the node identity, out of every task's reach) that it exited — exit code,
// times, failure so far — and then which files its outputFiles matched;
// each large upload journals its staged blocks beside it. An agent started
// again on the same root with the same node identity registers the leases
// it finds recorded (nodeproto.Registration.Resume); for those the server
// still gives it, it does not run the command again but resumes the
// uploads and reports the recorded outcome. A record is removed once its
// task is reported (or refused as stale), or when the server has requeued
// the task meanwhile.

// Directories of the run journal under the node's volatile directory.
const (
	runsDirName    = "runs"
	uploadsDirName = "uploads"
)

// runRecord is what the run journal keeps of one task run whose process
// has ended.
type runRecord struct {
	Lease  nodeproto.Lease `json:"lease"`
	PoolID string          `json:"poolId"`
	NodeID string          `json:"nodeId"`
	// Slots is the number of task slots the run takes.
	Slots int `json:"slots"`
	// Retention is how long the task directory is kept after the task
	// ends (-1: forever).
	Retention time.Duration `json:"retention"`

	StartTime          time.Time                   `json:"startTime"`
	ExitedAt           time.Time                   `json:"exitedAt"`
	ExitCode           *int32                      `json:"exitCode,omitempty"`
	FailureInfo        *api.TaskFailureInformation `json:"failureInfo,omitempty"`
	PreProcessingError bool                        `json:"preProcessingError,omitempty"`
	Stats              *api.TaskStatistics         `json:"stats,omitempty"`

	// What the output-files step needs to upload again.
	Retryable   bool              `json:"retryable,omitempty"`
	OutputFiles []api.OutputFile  `json:"outputFiles,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	// Planned is set once the output-files step has matched the files;
	// Uploads are then those files and their blobs.
	Planned bool                  `json:"planned,omitempty"`
	Uploads []outputfiles.Mapping `json:"uploads,omitempty"`
}

// runJournal is a node's run journal.
type runJournal struct {
	runs    *journal.Dir
	uploads *journal.Dir
}

func openRunJournal(l Layout) (*runJournal, error) {
	runs, err := journal.Open(filepath.Join(l.VolatileDir(), runsDirName))
	if err != nil {
		return nil, fmt.Errorf("run journal: %w", err)
	}
	uploads, err := journal.Open(filepath.Join(l.VolatileDir(), uploadsDirName))
	if err != nil {
		return nil, fmt.Errorf("run journal: %w", err)
	}
	return &runJournal{runs: runs, uploads: uploads}, nil
}

// recordKey names a run's record: by lease, epoch included, so that a run
// of an old lease that ends late never removes the record of a newer run
// of the same task.
func recordKey(l nodeproto.Lease) string {
	return strings.ToLower(l.JobID) + "/" + strings.ToLower(l.TaskID) + "#" + strconv.FormatInt(l.Epoch, 10)
}

// uploadsOf is where the uploads of the lease's task journal their blocks.
func (j *runJournal) uploadsOf(l nodeproto.Lease) *journal.Dir { return j.uploads.Sub(recordKey(l)) }

func (j *runJournal) save(r *runRecord) error { return j.runs.Save(recordKey(r.Lease), r) }

// discard removes the record of the lease's task and its upload journals.
func (j *runJournal) discard(l nodeproto.Lease) error {
	return errors.Join(j.runs.Delete(recordKey(l)), j.uploadsOf(l).RemoveAll())
}

// pending returns the records left by an earlier agent on this root.
// Records that cannot be used (damaged, of an unknown version) are removed
// with a warning: their tasks are requeued by the server as after any
// restart, so the worst case is the behaviour without a journal.
func (j *runJournal) pending(log *slog.Logger) []*runRecord {
	var out []*runRecord
	err := j.runs.Scan(func() any { return new(runRecord) }, func(e journal.Entry, v any) {
		r := v.(*runRecord)
		if e.Err != nil || r.Lease.JobID == "" || r.Lease.TaskID == "" {
			log.Warn("run journal record unusable; its task is left to the server to requeue", "file", e.File, "err", e.Err)
			_ = os.Remove(e.File)
			return
		}
		out = append(out, r)
	})
	if err != nil {
		log.Warn("read run journal", "err", err)
	}
	return out
}

// prune removes the upload journals of every task but those of keep: left
// by records that were damaged or discarded before their journals were.
func (j *runJournal) prune(keep []nodeproto.Lease) {
	want := map[string]bool{}
	for _, l := range keep {
		want[j.uploadsOf(l).Path()] = true
	}
	des, err := os.ReadDir(j.uploads.Path())
	if err != nil {
		return
	}
	for _, de := range des {
		if p := filepath.Join(j.uploads.Path(), de.Name()); !want[p] {
			_ = os.RemoveAll(p)
		}
	}
}

// runRecorder records one run in the run journal: set on the TaskRun of a
// worker's task (TaskRun.rec), it is called by the runner when the process
// step has ended and by the output-files step when it has planned.
type runRecorder struct {
	j   *runJournal
	rec runRecord
	// resumed is set on a run resumed from its record: the output-files
	// step uploads the recorded files.
	resumed bool
}

// exited records that the run's process ended, with the outcome so far.
func (r *runRecorder) exited(run *TaskRun) error {
	res := run.Result
	r.rec.StartTime, r.rec.ExitedAt = res.StartTime, time.Now().UTC()
	r.rec.ExitCode, r.rec.FailureInfo, r.rec.PreProcessingError, r.rec.Stats = res.ExitCode, res.FailureInfo, res.PreProcessingError, res.Stats
	r.rec.Retryable, r.rec.OutputFiles, r.rec.Env = run.Spec.Retryable, run.Spec.OutputFiles, map[string]string(run.Env)
	return r.j.save(&r.rec)
}

// planned records the files the output-files step is about to upload.
func (r *runRecorder) planned(uploads []outputfiles.Mapping) error {
	if r.resumed {
		return nil // already recorded
	}
	r.rec.Planned, r.rec.Uploads = true, uploads
	return r.j.save(&r.rec)
}

// uploads is where the run's uploads journal their blocks.
func (r *runRecorder) uploads() *journal.Dir { return r.j.uploadsOf(r.rec.Lease) }
