package app

import (
	"net/http"
	"testing"

	"github.com/openbatch/openbatch/api"
)

// TestPoolJobDefaultOrder pins taskSchedulingPolicy.jobDefaultOrder
// (api-version 2025-06-01): accepted in any case, stored and returned in
// Azure's lower-case form; any other value is refused and creates nothing.
func TestPoolJobDefaultOrder(t *testing.T) {
	srv, _ := startDev(t)
	ep := srv.Endpoint
	for _, tc := range []struct {
		name, id, order string
		want            string // "" means refused
	}{
		{"CreationTime", "p-ct", "CreationTime", "creationtime"},
		{"none", "p-none", "none", "none"},
		{"unknown", "p-bad", "fifo", ""},
	} {
		body := `{"id":"` + tc.id + `","vmSize":"standard_d2s_v3","targetDedicatedNodes":0,"taskSchedulingPolicy":{"nodeFillType":"Pack","jobDefaultOrder":"` + tc.order + `"}}`
		w := send(t, ep, "POST", "/pools?api-version=2025-06-01", body)
		if tc.want == "" {
			wantError(t, tc.name, w, http.StatusBadRequest, api.CodeInvalidPropertyValue, "jobDefaultOrder")
			wantError(t, tc.name+" not created", send(t, ep, "GET", "/pools/"+tc.id, nil), http.StatusNotFound, api.CodePoolNotFound)
			continue
		}
		wantStatus(t, tc.name, w, http.StatusCreated)
		got := get(send(t, ep, "GET", "/pools/"+tc.id, nil).JSON(t), "taskSchedulingPolicy", "jobDefaultOrder")
		if got != tc.want {
			t.Errorf("%s: jobDefaultOrder = %v, want %q", tc.name, got, tc.want)
		}
	}
}
