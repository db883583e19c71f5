package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// TestJobForceParameter pins the force query parameter of job delete and
// terminate (api-version 2024-07-01.20.0): true and false are accepted (in
// any case, as the SDKs send "true"), anything else is refused with
// InvalidQueryParameterValue and leaves the job as it was.
func TestJobForceParameter(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	ctx := ctxT(t, time.Minute)
	for _, id := range []string{"j-term", "j-term-false", "j-del", "j-bad"} {
		if err := c.AddJob(ctx, &api.Job{ID: id, PoolInfo: &api.PoolInformation{PoolID: "p"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"terminate force=true", "POST", "/jobs/j-term/terminate?force=true", http.StatusAccepted, ""},
		{"terminate force=False", "POST", "/jobs/j-term-false/terminate?force=False", http.StatusAccepted, ""},
		{"delete force=TRUE", "DELETE", "/jobs/j-del?force=TRUE", http.StatusAccepted, ""},
		{"terminate force=yes", "POST", "/jobs/j-bad/terminate?force=yes", http.StatusBadRequest, api.CodeInvalidQueryParameterValue},
		{"delete force=1", "DELETE", "/jobs/j-bad?force=1", http.StatusBadRequest, api.CodeInvalidQueryParameterValue},
		{"delete force empty", "DELETE", "/jobs/j-bad?force=", http.StatusBadRequest, api.CodeInvalidQueryParameterValue},
	} {
		w := send(t, ep, tc.method, tc.path, nil)
		if tc.code != "" {
			wantError(t, tc.name, w, tc.status, tc.code, "force")
			continue
		}
		wantStatus(t, tc.name, w, tc.status)
	}
	j, err := c.GetJob(ctx, "j-bad")
	if err != nil {
		t.Fatalf("j-bad after refused requests: %v", err)
	}
	if j.State != api.JobActive {
		t.Errorf("j-bad state %s after refused requests, want active", j.State)
	}
	if j, err := c.GetJob(ctx, "j-term"); err != nil || (j.State != api.JobTerminating && j.State != api.JobCompleted) {
		t.Errorf("j-term after terminate?force=true: %+v, %v", j, err)
	}
}
