package agent

import (
	"context"
	"errors"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/outputfiles"
)

// PreflightEnv is the task environment variable that controls the
// destination preflight: unset, "warn" (default) or "1"/"true" check and
// only report; "fail" also fails the task before its command runs, with the
// FileUpload* failure code the upload would have ended with; "off" skips
// the check.
const PreflightEnv = "OPENBATCH_UPLOAD_PREFLIGHT"

// PreflightStep checks a task's output-file destinations before its command
// runs (outputfiles.Preflight): a SAS that has expired or expires before
// the task's maxWallClockTime ends, a SAS without write permission, or a
// missing container are written to fileuploadout.txt at start instead of
// being found after the task ran. By default it only warns, because Azure
// Batch runs such a task and fails it at upload time; OPENBATCH_UPLOAD_PREFLIGHT=fail
// opts in to failing early. Install it in Config.BeforeProcess.
type PreflightStep struct {
	// Opener opens destinations, as OutputFilesStep's does.
	Opener blob.Opener
}

// Name implements Step.
func (PreflightStep) Name() string { return "preflight" }

// Run implements Step.
func (s PreflightStep) Run(ctx context.Context, run *TaskRun) error {
	spec := run.Spec
	mode := strings.ToLower(strings.TrimSpace(run.Env[PreflightEnv]))
	if spec.Kind != KindTask || len(spec.OutputFiles) == 0 || mode == "off" {
		return nil
	}
	probs, err := outputfiles.Preflight(ctx, s.Opener, outputfiles.PreflightRequest{
		TaskDir: run.Paths.Dir, OutputFiles: spec.OutputFiles,
		Start: run.Result.StartTime, MaxWallClockTime: spec.MaxWallClockTime,
	})
	if err != nil {
		run.Log.Warn("upload preflight could not run", "err", err)
		return nil
	}
	for _, p := range probs {
		run.Log.Warn("upload preflight found a problem", "container", p.Container, "err", p.Err)
	}
	if len(probs) == 0 || mode != "fail" {
		return nil
	}
	code, cat, msg := outputfiles.FailureCode(probs[0].Err)
	return NewFailure(cat, code, msg+" (found before the task ran: "+PreflightEnv+"=fail)", true,
		errors.New("upload preflight failed"),
		api.NameValuePair{Name: "ContainerUrl", Value: probs[0].Container},
		api.NameValuePair{Name: "Message", Value: blob.RedactText(probs[0].Err.Error())})
}
