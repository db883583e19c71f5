package app

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/openbatch/openbatch/api"
)

// The work a job's transitional state records is stored with the job but
// is openbatch's own bookkeeping: a client can neither set nor see it.
func TestJobPendingWorkIsNotOnTheWire(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, &api.Job{ID: "j0"})

	w := send(t, ep, "POST", "/jobs", `{"id":"j1","poolInfo":{"poolId":"p1"},"openbatchPending":{"terminateReason":"x"}}`)
	wantError(t, "job add with openbatchPending", w, http.StatusBadRequest, api.CodeInvalidRequestBody, "openbatchPending")
	wantError(t, "refused job", send(t, ep, "GET", "/jobs/j1", nil), http.StatusNotFound, api.CodeJobNotFound)

	wantStatus(t, "disable", send(t, ep, "POST", "/jobs/j0/disable", `{"disableTasks":"terminate"}`), http.StatusAccepted)
	wantStatus(t, "terminate", send(t, ep, "POST", "/jobs/j0/terminate", `{"terminateReason":"cut"}`), http.StatusAccepted)
	for _, path := range []string{"/jobs/j0", "/jobs"} {
		w := send(t, ep, "GET", path, nil)
		if w.Status != http.StatusOK || bytes.Contains(w.Body, []byte("openbatchPending")) || !bytes.Contains(w.Body, []byte(`"cut"`)) {
			t.Fatalf("GET %s: %d %s", path, w.Status, w.Body)
		}
	}
}
