package agent

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/outputfiles"
)

// OutputFilesStep uploads a task's outputFiles once its process has exited,
// through the outputfiles engine. It runs after failures too, so that
// taskfailure and taskcompletion files are uploaded; it does nothing for a
// run whose non-zero exit the service will retry (Azure uploads only on the
// final attempt).
type OutputFilesStep struct {
	// Opener opens upload destinations (outputfiles.NewOpener).
	Opener blob.Opener
	// Options configure the engine; ExtraRoots gains the node directories
	// tasks use (Layout.TaskVisibleDirs) so that absolute patterns may name
	// files there (e.g. $AZ_BATCH_NODE_SHARED_DIR), as on Azure, but never
	// the agent's own files in the node root.
	Options outputfiles.Options
	// NoUploadOnEvict turns upload on eviction off for every task of this
	// node (the node's default, e.g. from the agent's own
	// OPENBATCH_UPLOAD_ON_EVICT=false); a task's or job's EvictUploadEnv
	// setting overrides it either way.
	NoUploadOnEvict bool
}

// Name implements Step.
func (OutputFilesStep) Name() string { return "outputfiles" }

// RunsAfterFailure implements RunsAfterFailure.
func (OutputFilesStep) RunsAfterFailure() bool { return true }

// ResumesAfterRestart implements ResumesAfterRestart: after an agent
// restart the step uploads the files recorded when the process ended,
// resuming large uploads from their staged blocks.
func (OutputFilesStep) ResumesAfterRestart() bool { return true }

// Run implements Step.
func (s OutputFilesStep) Run(ctx context.Context, run *TaskRun) error {
	spec := run.Spec
	if spec.Kind != KindTask || len(spec.OutputFiles) == 0 {
		return nil
	}
	res := run.Result
	outcome := outputfiles.Outcome{}
	if res.ExitCode != nil {
		outcome = outputfiles.ExitedWith(int(*res.ExitCode))
		if *res.ExitCode != 0 && res.FailureInfo == nil && spec.Retryable {
			run.Log.Info("output files not uploaded: the task will be retried")
			return nil
		}
	}
	if res.FailureInfo != nil && outcome.Succeeded() {
		// A process that exits 0 when stopped (a trap) still ended a failed
		// run: taskfailure and taskcompletion entries apply, never
		// tasksuccess ones.
		outcome = outputfiles.Outcome{}
	}
	evicted := ""
	if run.Evicted != nil {
		if !uploadOnEvict(run.Env, !s.NoUploadOnEvict) {
			run.Log.Info("output files not uploaded: the task was evicted and upload on eviction is off ("+EvictUploadEnv+")", "cause", run.Evicted.Error())
			return nil
		}
		evicted = run.Evicted.Error()
	} else if f := res.FailureInfo; f != nil && f.Code == api.FailureTaskEnded {
		// Stopped at its maxWallClockTime: uploaded as Azure does for a
		// failure, whatever EvictUploadEnv says; noted all the same.
		evicted = f.Message
	}
	if ctx.Err() != nil {
		// Given up (the node no longer holds the lease): nothing to do.
		run.Log.Info("output files not uploaded: the node gave the task up", "cause", context.Cause(ctx))
		return nil
	}
	opts := s.Options
	opts.ExtraRoots = append(append([]string(nil), opts.ExtraRoots...), spec.Node.Layout.TaskVisibleDirs()...)
	if opts.Logger == nil {
		opts.Logger = run.Log
	}
	req := outputfiles.Request{
		TaskDir: run.Paths.Dir, WorkingDir: run.Paths.WorkingDir, Env: map[string]string(run.Env),
		OutputFiles: spec.OutputFiles, Outcome: outcome, Evicted: evicted,
	}
	if rr := run.rec; rr != nil {
		req.Journal = rr.uploads()
		req.Planned = func(uploads []outputfiles.Mapping) error {
			if err := rr.planned(uploads); err != nil {
				// The exit is recorded: a resumed upload re-matches the files.
				run.Log.Warn("cannot record the planned uploads", "err", err)
			}
			return nil
		}
		req.Resumed = rr.resumed
		if rr.resumed && rr.rec.Planned {
			req.Recorded = append([]outputfiles.Mapping{}, rr.rec.Uploads...)
		}
	}
	up, err := outputfiles.New(s.Opener, opts).Upload(ctx, req)
	if err == nil && manifestWanted(run.Env) {
		if merr := outputfiles.WriteManifest(run.Paths.Dir, up, time.Now()); merr != nil {
			run.Log.Warn("write upload manifest", "err", merr)
		}
	}
	if up != nil {
		res.Uploads = uploadStats(up)
	}
	releaseUploadMemory(up)
	if err != nil {
		return NewFailure(api.ServerError, api.FailureFileUploadMiscError,
			"The output files could not be uploaded: "+blob.RedactText(err.Error()), false, err)
	}
	if up.FailureInfo != nil {
		return &Failure{Info: *up.FailureInfo, Err: errors.New("output file upload failed")}
	}
	return nil
}

// uploadStats summarises an upload for the task's report.
func uploadStats(up *outputfiles.Result) *nodeproto.UploadStats {
	st := &nodeproto.UploadStats{Uploaded: up.Uploaded, Failed: up.Failed, Bytes: up.Bytes,
		Retries: up.Retries, Duration: up.Duration}
	if up.FailureInfo != nil {
		st.FailureCode = up.FailureInfo.Code
	}
	return st
}

// ManifestEnv is the task environment variable that asks for an upload
// manifest (fileuploadmanifest.json in the task directory): "true" or "1".
const ManifestEnv = "OPENBATCH_UPLOAD_MANIFEST"

func manifestWanted(env Environment) bool {
	v := strings.ToLower(env[ManifestEnv])
	return v == "true" || v == "1"
}

// EvictUploadEnv is the task (or job) environment variable that turns
// upload on eviction off: "false" or "0". By default the outputs of a task
// stopped before it exited (terminate, job terminate, node removal, agent
// drain) are uploaded as for a failure, which Azure Batch does not do;
// see docs/compatibility.md, "Upload on eviction".
const EvictUploadEnv = "OPENBATCH_UPLOAD_ON_EVICT"

// uploadOnEvict says whether an evicted run's outputs are uploaded: the
// task's setting when it has one ("true"/"1" or "false"/"0"), else def.
func uploadOnEvict(env Environment, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(env[EvictUploadEnv])) {
	case "false", "0", "no", "off":
		return false
	case "true", "1", "yes", "on":
		return true
	}
	return def
}
