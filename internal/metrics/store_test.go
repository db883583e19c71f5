package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openbatch/openbatch/api"
)

func TestLabelValueBoundsReportedCodes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{api.FailureFileUploadContainerNotFound, api.FailureFileUploadContainerNotFound},
		{"FailureExitCode", "FailureExitCode"},
		{"has space", "Other"},
		{"sig=abc", "Other"},
		{strings.Repeat("A", 65), "Other"},
	}
	for _, tt := range tests {
		if got := labelValue(tt.in); got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTaskChangedRecordsLatencyAndOutcome(t *testing.T) {
	m := New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(3*time.Second), t0.Add(10*time.Second)
	m.TaskChanged("", &api.Task{ID: "a", State: api.TaskActive, CreationTime: &t0, StateTransitionTime: &t0})
	m.TaskChanged(api.TaskActive, &api.Task{ID: "a", State: api.TaskRunning, CreationTime: &t0,
		StateTransitionTime: &t1, PreviousStateTransitionTime: &t0})
	m.TaskChanged(api.TaskRunning, &api.Task{ID: "a", State: api.TaskCompleted, CreationTime: &t0,
		StateTransitionTime: &t2, PreviousStateTransitionTime: &t1,
		ExecutionInfo: &api.TaskExecutionInformation{Result: api.ResultFailure,
			FailureInfo: &api.TaskFailureInformation{Code: api.FailureExitCode}}})
	m.TaskChanged(api.TaskCompleted, &api.Task{ID: "a", State: api.TaskCompleted}) // no change: ignored

	if got := testutil.ToFloat64(m.transitions.WithLabelValues("none", "active")); got != 1 {
		t.Errorf("none→active = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.outcomes.WithLabelValues("failure", api.FailureExitCode)); got != 1 {
		t.Errorf("failure outcomes = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.schedLatency); got != 1 {
		t.Errorf("scheduling latency series = %d", got)
	}
	var nilM *Metrics
	nilM.TaskChanged("", &api.Task{State: api.TaskActive}) // must not panic
}
