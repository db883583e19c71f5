package service

import (
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

func completedRow(id string, exit int32) *store.TaskRow {
	return &store.TaskRow{Task: &api.Task{ID: id, State: api.TaskCompleted,
		ExecutionInfo: &api.TaskExecutionInformation{ExitCode: api.I32(exit)}}}
}

// TestDependencyIDs pins range expansion, including a range ending at the
// largest int32 (which wrapped an int32 loop forever) and ranges over the
// limit from older data, which expand to nothing.
func TestDependencyIDs(t *testing.T) {
	cases := []struct {
		name string
		d    *api.TaskDependencies
		want int
	}{
		{"nil", nil, 0},
		{"ids", &api.TaskDependencies{TaskIDs: []string{"a", "b"}}, 2},
		{"range", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 1, End: 3}}}, 3},
		{"range at int32 max", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 2147483645, End: 2147483647}}}, 3},
		{"range over the limit", &api.TaskDependencies{TaskIDs: []string{"a"}, TaskIDRanges: []api.TaskIDRange{{Start: 1, End: 2147483647}}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dependencyIDs(tc.d); len(got) != tc.want {
				t.Fatalf("dependencyIDs = %d IDs, want %d", len(got), tc.want)
			}
		})
	}
}

// TestDependenciesSatisfied pins the release rule over a set of looked-up
// tasks: listed IDs must exist and succeed, missing range IDs are ignored.
func TestDependenciesSatisfied(t *testing.T) {
	deps := map[string]*store.TaskRow{
		"a": completedRow("A", 0),
		"1": completedRow("1", 0),
		"2": completedRow("2", 1),
		"3": {Task: &api.Task{ID: "3", State: api.TaskRunning}},
	}
	cases := []struct {
		name string
		d    *api.TaskDependencies
		want bool
	}{
		{"none", nil, true},
		{"id done, case-insensitive", &api.TaskDependencies{TaskIDs: []string{"A"}}, true},
		{"id missing", &api.TaskDependencies{TaskIDs: []string{"zz"}}, false},
		{"range with missing IDs", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 0, End: 1}}}, true},
		{"range with a failure", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 1, End: 2}}}, false},
		{"range with a running task", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 3, End: 3}}}, false},
		{"range at int32 max", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 2147483640, End: 2147483647}}}, true},
		{"range over the limit", &api.TaskDependencies{TaskIDRanges: []api.TaskIDRange{{Start: 0, End: 2147483647}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dependenciesSatisfied(tc.d, deps); got != tc.want {
				t.Fatalf("dependenciesSatisfied = %v, want %v", got, tc.want)
			}
		})
	}
}
