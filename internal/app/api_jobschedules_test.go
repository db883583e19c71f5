package app

import (
	"net/http"
	"testing"

	"github.com/openbatch/openbatch/api"
)

// Every job schedule operation over HTTP, with the status codes and error
// codes Azure gives.
func TestJobScheduleOperations(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, nil)

	body := `{"id":"s1","schedule":{"recurrenceInterval":"PT1H"},"jobSpecification":{"poolInfo":{"poolId":"p1"},"priority":5}}`
	wantStatus(t, "add", send(t, ep, "POST", "/jobschedules", body), http.StatusCreated)
	wantError(t, "add again", send(t, ep, "POST", "/jobschedules", body), http.StatusConflict, api.CodeJobScheduleExists, "s1")
	wantError(t, "add with an unknown property", send(t, ep, "POST", "/jobschedules", `{"id":"s2","schedule":{},"jobSpecification":{"poolInfo":{"poolId":"p1"}},"color":"red"}`),
		http.StatusBadRequest, api.CodeInvalidRequestBody, "color")
	wantStatus(t, "exists", send(t, ep, "HEAD", "/jobschedules/s1", nil), http.StatusOK)
	wantStatus(t, "exists (no)", send(t, ep, "HEAD", "/jobschedules/nope", nil), http.StatusNotFound)
	wantError(t, "get missing", send(t, ep, "GET", "/jobschedules/nope", nil), http.StatusNotFound, api.CodeJobScheduleNotFound)

	m := send(t, ep, "GET", "/jobschedules/s1", nil).JSON(t)
	if m["state"] != "active" || get(m, "executionInfo", "recentJob", "id") != "s1:job-1" || get(m, "executionInfo", "nextRunTime") == nil ||
		get(m, "jobSpecification", "priority") != float64(5) {
		t.Fatalf("schedule: %v", m)
	}
	list := send(t, ep, "GET", "/jobschedules?$filter=state%20eq%20'active'&$select=id,state", nil).JSON(t)
	if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != "s1" {
		t.Fatalf("list: %v", list)
	}
	jobs := send(t, ep, "GET", "/jobschedules/s1/jobs", nil).JSON(t)
	if v := jobs["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != "s1:job-1" || v[0].(map[string]any)["priority"] != float64(5) {
		t.Fatalf("jobs of s1: %v", jobs)
	}

	wantStatus(t, "disable", send(t, ep, "POST", "/jobschedules/s1/disable", nil), http.StatusNoContent)
	if m := send(t, ep, "GET", "/jobschedules/s1", nil).JSON(t); m["state"] != "disabled" || m["previousState"] != "active" {
		t.Fatalf("after disable: %v", m)
	}
	wantStatus(t, "enable", send(t, ep, "POST", "/jobschedules/s1/enable", nil), http.StatusNoContent)
	wantError(t, "enable an active schedule", send(t, ep, "POST", "/jobschedules/s1/enable", nil), http.StatusConflict, api.CodeJobScheduleNotActive)
	wantStatus(t, "patch", send(t, ep, "PATCH", "/jobschedules/s1", `{"metadata":[{"name":"team","value":"ops"}]}`), http.StatusOK)
	if m := send(t, ep, "GET", "/jobschedules/s1", nil).JSON(t); get(m, "metadata", 0, "value") != "ops" {
		t.Fatalf("after patch: %v", m)
	}
	wantError(t, "update without schedule", send(t, ep, "PUT", "/jobschedules/s1", `{"jobSpecification":{"poolInfo":{"poolId":"p1"}}}`),
		http.StatusBadRequest, api.CodeMissingRequiredProperty, "schedule")

	wantStatus(t, "terminate", send(t, ep, "POST", "/jobschedules/s1/terminate", nil), http.StatusAccepted)
	if m := send(t, ep, "GET", "/jobschedules/s1", nil).JSON(t); m["state"] != "completed" {
		t.Fatalf("after terminate: %v", m)
	}
	if m := send(t, ep, "GET", "/jobs/s1:job-1", nil).JSON(t); m["state"] != "completed" || get(m, "executionInfo", "terminateReason") != "TerminateJobSchedule" {
		t.Fatalf("its job after terminate: %v", m)
	}
	wantError(t, "disable completed", send(t, ep, "POST", "/jobschedules/s1/disable", nil), http.StatusConflict, api.CodeJobScheduleCompleted)

	wantStatus(t, "delete", send(t, ep, "DELETE", "/jobschedules/s1", nil), http.StatusAccepted)
	wantError(t, "get deleted", send(t, ep, "GET", "/jobschedules/s1", nil), http.StatusNotFound, api.CodeJobScheduleNotFound)
	wantError(t, "its job", send(t, ep, "GET", "/jobs/s1:job-1", nil), http.StatusNotFound, api.CodeJobNotFound)
}
