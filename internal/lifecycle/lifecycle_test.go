package lifecycle

import (
	"fmt"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

func TestNextTask(t *testing.T) {
	tests := []struct {
		from api.TaskState
		ev   TaskEvent
		want api.TaskState
		ok   bool
	}{
		{api.TaskActive, Start, api.TaskRunning, true},
		{api.TaskActive, Prepare, api.TaskPreparing, true},
		{api.TaskPreparing, Start, api.TaskRunning, true},
		{api.TaskRunning, Retry, api.TaskActive, true},
		{api.TaskRunning, Requeue, api.TaskActive, true},
		{api.TaskRunning, Finish, api.TaskCompleted, true},
		{api.TaskRunning, Terminate, api.TaskCompleted, true},
		{api.TaskActive, Terminate, api.TaskCompleted, true},
		{api.TaskCompleted, Reactivate, api.TaskActive, true},
		{api.TaskCompleted, Terminate, "", false},
		{api.TaskCompleted, Start, "", false},
		{api.TaskActive, Reactivate, "", false},
		{api.TaskActive, Retry, "", false},
	}
	for _, tt := range tests {
		got, err := NextTask(tt.from, tt.ev)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NextTask(%s, %s) = %q, %v; want %q ok=%v", tt.from, tt.ev, got, err, tt.want, tt.ok)
		}
	}
}

func TestNextJob(t *testing.T) {
	tests := []struct {
		from api.JobState
		ev   JobEvent
		want api.JobState
	}{
		{api.JobActive, Disable, api.JobDisabling},
		{api.JobDisabling, Disabled, api.JobDisabled},
		{api.JobDisabled, Enable, api.JobEnabling},
		{api.JobEnabling, Enabled, api.JobActive},
		{api.JobActive, TerminateJ, api.JobTerminating},
		{api.JobTerminating, Terminated, api.JobCompleted},
		{api.JobCompleted, Delete, api.JobDeleting},
		{api.JobCompleted, TerminateJ, ""},
		{api.JobCompleted, Disable, ""},
		{api.JobDeleting, Delete, ""},
	}
	for _, tt := range tests {
		got, _ := NextJob(tt.from, tt.ev)
		if got != tt.want {
			t.Errorf("NextJob(%s, %s) = %q; want %q", tt.from, tt.ev, got, tt.want)
		}
	}
}

func code(c int32) *int32 { return &c }

func TestDecide(t *testing.T) {
	job := &api.Job{Constraints: &api.JobConstraints{MaxTaskRetryCount: api.I32(2)}}
	uploadFail := &api.TaskFailureInformation{Category: api.UserError, Code: api.FailureFileUploadContainerNotFound}
	ec := &api.ExitConditions{
		ExitCodes:       []api.ExitCodeMapping{{Code: 3, ExitOptions: api.ExitOptions{DependencyAction: api.DependencySatisfy}}},
		ExitCodeRanges:  []api.ExitCodeRangeMapping{{Start: 10, End: 20, ExitOptions: api.ExitOptions{JobAction: api.JobActionDisable}}},
		FileUploadError: &api.ExitOptions{JobAction: api.JobActionNone},
		Default:         &api.ExitOptions{DependencyAction: api.DependencySatisfy},
	}
	tests := []struct {
		name      string
		task      *api.Task
		o         Outcome
		retry     bool
		result    api.TaskExecutionResult
		code      string
		jobAction api.JobAction
		depAction api.DependencyAction
	}{
		{"success", &api.Task{}, Outcome{ExitCode: code(0)}, false, api.ResultSuccess, "", api.JobActionNone, api.DependencySatisfy},
		{"retry from job constraint", &api.Task{}, Outcome{ExitCode: code(1)}, true, "", "", "", ""},
		{"retries exhausted", &api.Task{ExecutionInfo: &api.TaskExecutionInformation{RetryCount: 2}}, Outcome{ExitCode: code(1)},
			false, api.ResultFailure, api.FailureExitCode, api.JobActionTerminate, api.DependencyBlock},
		{"task constraint overrides job", &api.Task{Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(0)}}, Outcome{ExitCode: code(1)},
			false, api.ResultFailure, api.FailureExitCode, api.JobActionTerminate, api.DependencyBlock},
		{"unlimited retries", &api.Task{Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(-1)}, ExecutionInfo: &api.TaskExecutionInformation{RetryCount: 99}},
			Outcome{ExitCode: code(1)}, true, "", "", "", ""},
		{"upload failure never retried", &api.Task{}, Outcome{ExitCode: code(0), FailureInfo: uploadFail, Kind: FileUpload},
			false, api.ResultFailure, api.FailureFileUploadContainerNotFound, api.JobActionTerminate, api.DependencyBlock},
		{"exit code mapping", &api.Task{ExitConditions: ec, Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(0)}}, Outcome{ExitCode: code(3)},
			false, api.ResultFailure, api.FailureExitCode, api.JobActionTerminate, api.DependencySatisfy},
		{"exit code range", &api.Task{ExitConditions: ec, Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(0)}}, Outcome{ExitCode: code(15)},
			false, api.ResultFailure, api.FailureExitCode, api.JobActionDisable, api.DependencyBlock},
		{"file upload error options", &api.Task{ExitConditions: ec}, Outcome{ExitCode: code(0), FailureInfo: uploadFail, Kind: FileUpload},
			false, api.ResultFailure, api.FailureFileUploadContainerNotFound, api.JobActionNone, api.DependencyBlock},
		{"exit code entry wins over fileUploadError", &api.Task{ExitConditions: ec, Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(0)}},
			Outcome{ExitCode: code(3), FailureInfo: uploadFail, Kind: FileUpload},
			false, api.ResultFailure, api.FailureFileUploadContainerNotFound, api.JobActionTerminate, api.DependencySatisfy},
		{"default for unlisted code", &api.Task{ExitConditions: ec, Constraints: &api.TaskConstraints{MaxTaskRetryCount: api.I32(0)}}, Outcome{ExitCode: code(7)},
			false, api.ResultFailure, api.FailureExitCode, api.JobActionTerminate, api.DependencySatisfy},
		{"pre-processing failure uses default", &api.Task{ExitConditions: ec},
			Outcome{FailureInfo: &api.TaskFailureInformation{Code: api.FailureBlobNotFound}, Kind: PreProcessing},
			false, api.ResultFailure, api.FailureBlobNotFound, api.JobActionTerminate, api.DependencySatisfy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.task, job, tt.o)
			if d.Retry != tt.retry {
				t.Fatalf("retry = %v, want %v", d.Retry, tt.retry)
			}
			if tt.retry {
				return
			}
			gotCode := ""
			if d.FailureInfo != nil {
				gotCode = d.FailureInfo.Code
			}
			if d.Result != tt.result || gotCode != tt.code || d.Options.JobAction != tt.jobAction || d.Options.DependencyAction != tt.depAction {
				t.Fatalf("got result=%s code=%s options=%+v; want %s %s %s %s", d.Result, gotCode, d.Options, tt.result, tt.code, tt.jobAction, tt.depAction)
			}
		})
	}
}

func BenchmarkApplyTask(b *testing.B) {
	now := time.Now()
	r := &store.TaskRow{Task: &api.Task{State: api.TaskActive}}
	node := &api.ComputeNodeInformation{NodeID: "n1"}
	for b.Loop() {
		_ = ApplyTask(r, Start, Change{Now: now, Node: node})
		_ = ApplyTask(r, Retry, Change{Now: now})
	}
}

func TestNextETag(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	fresh := NextETag("", now)
	cases := []struct {
		name string
		prev string
		now  time.Time
		want string
	}{
		{"new entity: the time", "", now, fresh},
		{"later clock: the time", "0x8DE0000000000000", now, fresh},
		{"same tick: one after", fresh, now, "0x" + fmt.Sprintf("%015X", mustTick(t, fresh)+1)},
		{"clock behind (another server): one after", fresh, now.Add(-time.Hour), "0x" + fmt.Sprintf("%015X", mustTick(t, fresh)+1)},
		{"malformed previous: the time", "W/\"abc\"", now, fresh},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := NextETag(c.prev, c.now)
			if got != c.want {
				t.Fatalf("NextETag(%q) = %s, want %s", c.prev, got, c.want)
			}
			if len(got) != 17 {
				t.Fatalf("%s is not 0x and 15 hex digits", got)
			}
		})
	}
}

func mustTick(t *testing.T, etag string) int64 {
	t.Helper()
	v, ok := parseETag(etag)
	if !ok {
		t.Fatalf("unparsable %s", etag)
	}
	return v
}
