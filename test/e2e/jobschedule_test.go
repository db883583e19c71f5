package e2e

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// az batch job-schedule end to end: a schedule made with the CLI makes its
// first job at once, can be disabled, enabled, stopped and deleted, and
// deleting it deletes its jobs.
func TestAzureCLIJobSchedule(t *testing.T) {
	t.Parallel()
	bin := requireAz(t)
	tmp := t.TempDir()
	srv := startDev(t, filepath.Join(tmp, "data"))
	az := newAz(t, bin, filepath.Join(tmp, "azconfig"), srv, srv.Key)

	az.ok("batch", "pool", "create", "--id", "p1", "--vm-size", "standard_d2s_v3", "--target-dedicated-nodes", "1",
		"--image", "canonical:0001-com-ubuntu-server-focal:20_04-lts", "--node-agent-sku-id", "batch.node.ubuntu 20.04")
	file := writeJSONFile(t, tmp, "schedule.json", map[string]any{
		"id":       "nightly",
		"schedule": map[string]any{"recurrenceInterval": "PT1M", "startWindow": "PT1M"},
		"jobSpecification": map[string]any{
			"poolInfo":           map[string]any{"poolId": "p1"},
			"onAllTasksComplete": "terminatejob",
			"jobManagerTask":     map[string]any{"id": "jm", "commandLine": "/bin/sh -c 'echo made by $AZ_BATCH_JOB_ID'"},
		},
	})
	az.ok("batch", "job-schedule", "create", "--json-file", file)

	type schedule struct {
		ID            string `json:"id"`
		State         string `json:"state"`
		ExecutionInfo struct {
			NextRunTime string `json:"nextRunTime"`
			RecentJob   struct {
				ID string `json:"id"`
			} `json:"recentJob"`
		} `json:"executionInfo"`
	}
	var s schedule
	az.json(&s, "batch", "job-schedule", "show", "--job-schedule-id", "nightly")
	if s.State != "active" || s.ExecutionInfo.RecentJob.ID != "nightly:job-1" || s.ExecutionInfo.NextRunTime == "" {
		t.Fatalf("job-schedule show = %+v", s)
	}
	var ids []string
	az.json(&ids, "batch", "job", "list", "--job-schedule-id", "nightly", "--query", "[].id")
	if len(ids) != 1 || ids[0] != "nightly:job-1" {
		t.Fatalf("jobs of the schedule = %v", ids)
	}
	// The job manager ran in the schedule's job.
	eventually(t, 60*time.Second, 300*time.Millisecond, "nightly:job-1 completed", func() error {
		var state string
		az.json(&state, "batch", "job", "show", "--job-id", "nightly:job-1", "--query", "state")
		if state != "completed" {
			return fmt.Errorf("state %s", state)
		}
		return nil
	})
	az.ok("batch", "job-schedule", "disable", "--job-schedule-id", "nightly")
	az.json(&s, "batch", "job-schedule", "show", "--job-schedule-id", "nightly")
	if s.State != "disabled" {
		t.Fatalf("after disable: %+v", s)
	}
	az.ok("batch", "job-schedule", "enable", "--job-schedule-id", "nightly")
	az.ok("batch", "job-schedule", "stop", "--job-schedule-id", "nightly")
	az.json(&s, "batch", "job-schedule", "show", "--job-schedule-id", "nightly")
	if s.State != "completed" {
		t.Fatalf("after stop: %+v", s)
	}
	az.ok("batch", "job-schedule", "delete", "--job-schedule-id", "nightly", "--yes")
	eventually(t, 30*time.Second, 300*time.Millisecond, "schedule deleted", func() error {
		_, errOut, err := az.run("batch", "job-schedule", "show", "--job-schedule-id", "nightly")
		if err == nil {
			return errors.New("still there")
		}
		if !strings.Contains(errOut, "does not exist") {
			return fmt.Errorf("show after delete: %s", errOut)
		}
		return nil
	})
	az.json(&ids, "batch", "job", "list", "--query", "[].id")
	if len(ids) != 0 {
		t.Fatalf("jobs left after the schedule was deleted: %v", ids)
	}
}
