package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob/s3"
)

// Defaults of Config.
const (
	DefaultKillGrace           = 5 * time.Second
	DefaultDownloadConcurrency = 4
	DefaultDownloadTimeout     = 30 * time.Minute
	// DefaultEvictUploadGrace bounds the output upload of an evicted run:
	// long enough for logs and checkpoints of a few GiB, short enough that a
	// node being removed or drained goes within minutes.
	DefaultEvictUploadGrace = 2 * time.Minute
)

// StorageAccount is the storage account that resolves a resource file's
// autoStorageContainerName (the Batch account's "auto-storage" account).
type StorageAccount struct {
	// BlobEndpoint is the blob service URL, e.g.
	// https://acct.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1.
	BlobEndpoint string
	AccountName  string
	AccountKey   string
}

// Config configures a Runner. The zero value works: every field has a
// documented default. A Config is read-only once given to NewRunner.
type Config struct {
	// Logger receives one line per step; nil means slog.Default().
	Logger *slog.Logger
	// Path is the PATH of tasks; "" means DefaultPath.
	Path string
	// PassEnv names agent environment variables copied into every task's
	// environment when set (e.g. "TZ", "http_proxy"). Nothing else of the
	// agent's environment reaches a task.
	PassEnv []string
	// ExtraEnv is added to every task's base environment.
	ExtraEnv map[string]string
	// KillGrace is how long a process group gets between SIGTERM and
	// SIGKILL when a run is cancelled or exceeds its wall clock time;
	// 0 means DefaultKillGrace (5 s, short enough for terminate to feel
	// immediate, long enough for a shell trap to flush its files).
	KillGrace time.Duration
	// HTTPClient downloads httpUrl resource files that are not blob URLs;
	// nil means a client with no overall timeout (DownloadTimeout bounds
	// each file).
	HTTPClient *http.Client
	// AutoStorage resolves autoStorageContainerName; nil makes such
	// resource files fail with ResourceContainerListMiscError.
	AutoStorage *StorageAccount
	// StorageServiceVersion is the x-ms-version of resource-file downloads
	// from blob storage; "" means azure.DefaultServiceVersion.
	StorageServiceVersion string
	// S3, when set, is an S3-compatible endpoint (blob/s3): resource files
	// whose storageContainerUrl is on its host (http(s)://host/bucket/prefix)
	// are listed and downloaded from it with these credentials.
	S3 *s3.Options
	// DownloadConcurrency bounds the files downloaded at once per run;
	// 0 means DefaultDownloadConcurrency.
	DownloadConcurrency int
	// DownloadTimeout bounds each file download and each container
	// listing (BlobDownloadTimedOut / ResourceContainerListTimedOut);
	// 0 means DefaultDownloadTimeout.
	DownloadTimeout time.Duration
	// BeforeProcess are steps run after the resource files are downloaded
	// and before the process starts, in order, under the wall-clock limit,
	// such as the upload preflight (PreflightStep). They are skipped once
	// the run has failed.
	BeforeProcess []Step
	// AfterProcess are steps run after the process step, in order, such as
	// output-file upload. See Step and RunsAfterFailure.
	AfterProcess []Step
	// EvictUploadGrace bounds the AfterProcess steps (the output upload) of
	// an evicted run, one whose context was cancelled (see Runner.Run);
	// 0 means DefaultEvictUploadGrace.
	EvictUploadGrace time.Duration
	// Groups, when set, is told about every task process group started and
	// emptied (see Reaper): it kills them if the agent dies.
	Groups GroupTracker
	// Users, when enabled (the agent runs as root), runs each process as
	// the user its userIdentity names and gives that user its task
	// directory; nil or disabled runs every task as the agent's user.
	Users *Users
}

// GroupTracker is told about every task process group the process step
// starts and empties, so that something outside the agent can kill the
// groups if the agent itself dies. Methods must not block for long.
type GroupTracker interface {
	// Started records a new process group.
	Started(pgid int)
	// Ended records that a process group has been emptied (killed or exited).
	Ended(pgid int)
}

// maxWallClockLimit is the largest wall-clock limit enforced; longer ones
// (api.Infinite included) mean "no limit" and cannot overflow a deadline.
const maxWallClockLimit = 100 * 365 * 24 * time.Hour

// Step is one stage of a task run.
type Step interface {
	// Name names the step in logs ("resourcefiles", "outputfiles").
	Name() string
	// Run performs the step on run. Returning a *Failure (possibly wrapped)
	// ends the run with that failure; any other error ends it with an
	// Unknown server error. Cancellation of ctx means the task is being
	// terminated: return promptly.
	Run(ctx context.Context, run *TaskRun) error
}

// RunsAfterFailure is implemented by steps that must run even when an
// earlier step failed, for example an output-files step honouring
// uploadCondition "taskfailure" or "taskcompletion". Such a step inspects
// run.Result to decide what to do. Steps that do not implement it are
// skipped once the run has failed.
type RunsAfterFailure interface {
	RunsAfterFailure() bool
}

// TaskRun is the state of one run as it moves through the steps.
type TaskRun struct {
	// Spec is the run's specification (read-only for steps).
	Spec *Spec
	// Paths are the run's task directory paths.
	Paths TaskPaths
	// Env is the task's environment, set by the environment step. Output
	// steps use it to expand $VAR in file patterns.
	Env Environment
	// Result is the outcome so far: after the process step it holds the
	// exit code, and FailureInfo if an earlier step failed.
	Result *Result
	// Log is the run's logger (with job and task attributes).
	Log *slog.Logger
	// User is the account the process runs as, set by the task directory
	// step; nil means the agent's own user.
	User *Identity
	// Evicted is set, before the AfterProcess steps run, when the run was
	// stopped by something other than its own exit or its wall clock time
	// (terminate, node removal, drain): it is the cancellation cause, which
	// says why. The output-files step then uploads what outputFiles say for
	// a failure, unless the task opted out (EvictUploadEnv).
	Evicted error

	cfg *Config
	// rec, when set, records the run in the node's run journal (a
	// worker's task with output files): see runjournal.go.
	rec *runRecorder
	// freshDir says the task directory step created the task directory
	// in this run and nothing but the agent has written into it since (no
	// resource files): the owner step then gives the task's user only the
	// files it creates, without walking the directory.
	freshDir bool
}

// ResumesAfterRestart is implemented by steps that finish a run an agent
// restart interrupted after its process had exited (the output-files
// step): Runner.resume runs only those, on a TaskRun rebuilt from the run
// journal.
type ResumesAfterRestart interface {
	ResumesAfterRestart() bool
}

// Runner runs task specs on this machine. It holds no per-run state and is
// safe for concurrent use: one Runner can serve many nodes and tasks.
type Runner struct {
	cfg Config
	log *slog.Logger
}

// NewRunner returns a Runner with cfg's defaults filled in.
func NewRunner(cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	if cfg.DownloadConcurrency <= 0 {
		cfg.DownloadConcurrency = DefaultDownloadConcurrency
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = DefaultDownloadTimeout
	}
	if cfg.EvictUploadGrace <= 0 {
		cfg.EvictUploadGrace = DefaultEvictUploadGrace
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	cfg.AfterProcess = append([]Step(nil), cfg.AfterProcess...)
	cfg.BeforeProcess = append([]Step(nil), cfg.BeforeProcess...)
	return &Runner{cfg: cfg, log: cfg.Logger}
}

// builtinSteps are the steps up to and including the process; they run
// under the wall-clock limit.
func builtinSteps() []Step {
	return []Step{taskDirStep{}, environmentStep{}, resourceFilesStep{}, ownerStep{}, processStep{}}
}

// Run runs spec to completion and reports what happened. It blocks until
// the process and its whole process group are gone and every step has
// finished. The wall-clock limit covers the built-in steps; steps in
// Config.AfterProcess run under ctx alone so that, for example, outputs of
// a task killed for exceeding its wall clock time can still be uploaded.
//
// Cancelling ctx evicts the run (its cause, e.g. ErrTerminated, says why):
// the process is stopped, the run ends with TaskEnded, and the
// AfterProcess steps still run, on a context of their own that ends after
// Config.EvictUploadGrace, so that the outputs the task's outputFiles name
// for a failure are kept (upload on eviction, as HTCondor's
// ON_EXIT_OR_EVICT). Closing spec.Abort gives the run up at once instead:
// the process is stopped and the AfterProcess steps get an ended context
// (an upload underway stops), for a node that no longer holds the task's
// lease.
func (r *Runner) Run(ctx context.Context, spec Spec) Result {
	res := &Result{StartTime: time.Now().UTC()}
	if spec.TaskID == "" {
		switch spec.Kind {
		case KindJobPreparation:
			spec.TaskID = DefaultJobPreparationTaskID
		case KindJobRelease:
			spec.TaskID = DefaultJobReleaseTaskID
		}
	}
	log := r.log.With("kind", spec.Kind.String(), "job", spec.JobID, "task", spec.TaskID, "node", spec.Node.NodeID)
	run := &TaskRun{Spec: &spec, Result: res, Log: log, cfg: &r.cfg, rec: spec.recorder}

	limited := ctx
	if d := spec.MaxWallClockTime; d > 0 && d < maxWallClockLimit {
		var cancel context.CancelFunc
		limited, cancel = context.WithDeadlineCause(ctx, res.StartTime.Add(d), errWallClock)
		defer cancel()
	}
	if spec.Abort != nil {
		var stop context.CancelFunc
		limited, stop = withAbort(limited, spec.Abort)
		defer stop()
	}

	paths, err := spec.Node.Layout.PathsFor(spec.Kind, spec.JobID, spec.TaskID)
	if err != nil {
		r.fail(run, NewFailure(api.ServerError, api.FailureUnknown, "The task directory could not be determined", true, err))
		res.EndTime = time.Now().UTC()
		return *res
	}
	run.Paths = paths

	builtin := builtinSteps()
	if len(r.cfg.BeforeProcess) > 0 { // insert before the process step (the last)
		n := len(builtin)
		builtin = append(append(append([]Step(nil), builtin[:n-1]...), r.cfg.BeforeProcess...), builtin[n-1])
	}
	steps := append(builtin, r.cfg.AfterProcess...)
	var afterCtx context.Context // of the AfterProcess steps, made before the first
	for i, step := range steps {
		if i == len(builtin) {
			r.recordExit(ctx, run)
		}
		after := i >= len(builtin)
		if res.FailureInfo != nil {
			if ra, ok := step.(RunsAfterFailure); !after || !ok || !ra.RunsAfterFailure() {
				continue
			}
		}
		sctx := limited
		if after {
			if afterCtx == nil {
				var cancel context.CancelFunc
				afterCtx, cancel = r.afterContext(ctx, spec.Abort, run)
				defer cancel()
			}
			sctx = afterCtx
		}
		t0 := time.Now()
		var err error
		if sctx.Err() != nil && !after {
			err = endedFailure(sctx, res.ExitCode == nil)
		} else {
			err = step.Run(sctx, run)
		}
		if err != nil {
			f := asFailure(sctx, err, res.ExitCode == nil)
			log.Info("step failed", "step", step.Name(), "code", f.Info.Code, "err", f.Error(), "elapsed", time.Since(t0))
			r.fail(run, f)
			continue
		}
		log.Debug("step done", "step", step.Name(), "elapsed", time.Since(t0))
	}
	res.EndTime = time.Now().UTC()
	return *res
}

// recordExit records in the run journal, before any output is uploaded or
// anything reported, that the run's process has ended and how. A run being
// cancelled is not recorded, and that includes an evicted run that uploads
// on eviction (task or job terminated, node drained or removed): the
// journal exists so that a restarted agent finishes a run the server still
// leases to it, and an evicted run's lease is already gone (the task
// completed as terminated, or is requeued when the node leaves), so a
// restarted agent could only have its record discarded. Its upload on
// eviction is best effort within Config.EvictUploadGrace instead. A run
// that exceeded its wall clock time ended by itself (ctx is not the
// limited context) and is recorded. Failing to record only loses the
// crash guarantee.
func (r *Runner) recordExit(ctx context.Context, run *TaskRun) {
	if run.rec == nil {
		return
	}
	if ctx.Err() != nil {
		run.rec = nil
		return
	}
	if err := run.rec.exited(run); err != nil {
		run.Log.Warn("cannot record the task's exit: were the agent to crash before the task is reported, it would run again", "err", err)
		run.rec = nil
	}
}

// resume finishes a run recorded in the run journal by an agent that
// stopped after the run's process had ended: it runs the steps of
// Config.AfterProcess that resume (ResumesAfterRestart), with the
// recorded outcome, and returns the run's result with the recorded exit
// code and start time; its end time is when the resumed steps finished.
func (r *Runner) resume(ctx context.Context, spec Spec, rec *runRecorder) Result {
	res := &Result{StartTime: rec.rec.StartTime, ExitCode: rec.rec.ExitCode, FailureInfo: rec.rec.FailureInfo,
		PreProcessingError: rec.rec.PreProcessingError, Stats: rec.rec.Stats}
	log := r.log.With("kind", spec.Kind.String(), "job", spec.JobID, "task", spec.TaskID, "node", spec.Node.NodeID)
	run := &TaskRun{Spec: &spec, Result: res, Log: log, cfg: &r.cfg, rec: rec, Env: Environment(rec.rec.Env)}
	paths, err := spec.Node.Layout.PathsFor(spec.Kind, spec.JobID, spec.TaskID)
	if err != nil {
		r.fail(run, NewFailure(api.ServerError, api.FailureUnknown, "The task directory could not be determined", false, err))
		res.EndTime = time.Now().UTC()
		return *res
	}
	run.Paths = paths
	for _, step := range r.cfg.AfterProcess {
		if rs, ok := step.(ResumesAfterRestart); !ok || !rs.ResumesAfterRestart() {
			continue
		}
		if res.FailureInfo != nil {
			if ra, ok := step.(RunsAfterFailure); !ok || !ra.RunsAfterFailure() {
				continue
			}
		}
		t0 := time.Now()
		if err := step.Run(ctx, run); err != nil {
			f := asFailure(ctx, err, res.ExitCode == nil)
			log.Info("step failed", "step", step.Name(), "code", f.Info.Code, "err", f.Error(), "elapsed", time.Since(t0))
			r.fail(run, f)
			continue
		}
		log.Info("resumed step done", "step", step.Name(), "elapsed", time.Since(t0))
	}
	res.EndTime = time.Now().UTC()
	return *res
}

// afterContext returns the context of the AfterProcess steps. A run that
// ended by itself (or by its wall clock time) gets ctx. An evicted run (ctx
// ended) gets a context that ctx's cancellation does not reach, ending
// after Config.EvictUploadGrace or when abort is closed, and run.Evicted is
// set. A run given up (abort closed) gets an ended context, so that steps
// that must run whatever happened (stopping streams) still run but upload
// nothing.
func (r *Runner) afterContext(ctx context.Context, abort <-chan struct{}, run *TaskRun) (context.Context, context.CancelFunc) {
	if isClosed(abort) {
		actx, cancel := context.WithCancelCause(ctx)
		cancel(errAborted)
		return actx, func() {}
	}
	if ctx.Err() == nil {
		if abort == nil {
			return ctx, func() {}
		}
		return withAbort(ctx, abort)
	}
	run.Evicted = context.Cause(ctx)
	if run.Evicted == nil || errors.Is(run.Evicted, context.Canceled) {
		run.Evicted = errEvicted
	}
	grace := r.cfg.EvictUploadGrace
	run.Log.Info("task evicted: after-process steps (output upload) run within the grace", "cause", run.Evicted.Error(), "grace", grace)
	tctx, cancelT := context.WithTimeoutCause(context.WithoutCancel(ctx), grace, errEvictGraceOver)
	actx, cancelA := withAbort(tctx, abort)
	return actx, func() { cancelA(); cancelT() }
}

// withAbort returns a child of ctx that also ends when abort is closed.
// The goroutine that watches abort is owned by the returned cancel
// function, which stops it (and waits for it).
func withAbort(ctx context.Context, abort <-chan struct{}) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(ctx)
	if abort == nil {
		return actx, func() { cancel(nil) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-abort:
			cancel(errAborted)
		case <-actx.Done():
		}
	}()
	return actx, func() { cancel(nil); <-done }
}

// fail records f unless an earlier failure is already recorded: the first
// failure of a run is the one reported.
func (r *Runner) fail(run *TaskRun, f *Failure) {
	if run.Result.FailureInfo != nil {
		run.Log.Warn("later failure not reported: an earlier one wins", "code", f.Info.Code, "err", f.Error())
		return
	}
	info := f.Info
	run.Result.FailureInfo = &info
	run.Result.PreProcessingError = f.PreProcessing
}

// asFailure turns a step's error into a Failure.
func asFailure(ctx context.Context, err error, preProcessing bool) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if ctx.Err() != nil {
		return endedFailure(ctx, preProcessing)
	}
	return NewFailure(api.ServerError, api.FailureUnknown, "The node could not run the task: "+scrubSecrets(err.Error()), preProcessing, err)
}
