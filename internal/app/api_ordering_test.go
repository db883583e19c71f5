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

// TestPoolCloudServiceConfigurationRemoved pins that api-versions from
// 2024-07-01.20.0 on refuse cloudServiceConfiguration, which they removed,
// as an undefined property, creating nothing; earlier versions accept it.
func TestPoolCloudServiceConfigurationRemoved(t *testing.T) {
	srv, _ := startDev(t)
	ep := srv.Endpoint
	for _, tc := range []struct {
		version string
		refused bool
	}{
		{"2024-07-01.20.0", true},
		{"2025-06-01", true},
		{"2025-06-01.21.0", true},
		{"2024-02-01.19.0", false},
		{"2023-05-01.17.0", false},
	} {
		id := "p-" + tc.version[:10]
		body := `{"id":"` + id + `","vmSize":"standard_d2s_v3","targetDedicatedNodes":0,"cloudServiceConfiguration":{"osFamily":"6"}}`
		w := send(t, ep, "POST", "/pools?api-version="+tc.version, body)
		if !tc.refused {
			wantStatus(t, tc.version, w, http.StatusCreated)
			continue
		}
		wantError(t, tc.version, w, http.StatusBadRequest, api.CodeInvalidRequestBody, "cloudServiceConfiguration")
		wantError(t, tc.version+" not created", send(t, ep, "GET", "/pools/"+id, nil), http.StatusNotFound, api.CodePoolNotFound)
	}
}
