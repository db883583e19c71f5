package filterprops

import (
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/odata"
)

// Every property a schema lets a $filter name is read by the accessor, as
// the schema's type (odata.Normalize accepts it), from an entity that has
// it; a property the accessor cannot read would silently never match.
func TestEverySchemaPathIsReadable(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	tp := &now
	one := api.I32(1)
	entities := map[Kind]any{
		Task: &api.Task{ID: "t", DisplayName: "d", State: api.TaskCompleted, PreviousState: api.TaskRunning, CreationTime: tp,
			StateTransitionTime: tp, LastModified: tp, PreviousStateTransitionTime: tp, CommandLine: "c", RequiredSlots: one,
			ExecutionInfo: &api.TaskExecutionInformation{ExitCode: one, Result: api.ResultFailure, StartTime: tp, EndTime: tp,
				FailureInfo: &api.TaskFailureInformation{Code: "x", Category: "usererror"}},
			NodeInfo: &api.ComputeNodeInformation{NodeID: "n", PoolID: "p"}},
		Job: &api.Job{ID: "j", DisplayName: "d", State: api.JobActive, PreviousState: api.JobDisabled, CreationTime: tp,
			StateTransitionTime: tp, LastModified: tp, Priority: one, PoolInfo: &api.PoolInformation{PoolID: "p"},
			OnAllTasksComplete: api.OnAllTasksCompleteNoAction, OnTaskFailure: "noaction",
			ExecutionInfo: &api.JobExecutionInformation{PoolID: "p", StartTime: now, EndTime: tp, TerminateReason: "r"}},
		Pool: &api.Pool{ID: "p", DisplayName: "d", State: "active", AllocationState: "steady", CreationTime: tp, StateTransitionTime: tp,
			LastModified: tp, VMSize: "v", CurrentDedicatedNodes: one, TargetDedicatedNodes: one, TaskSlotsPerNode: one},
		Node: &api.ComputeNode{ID: "n", State: api.NodeIdle, SchedulingState: api.SchedulingEnabled, StateTransitionTime: tp,
			IPAddress: "10.0.0.1", IsDedicated: true},
		JobSchedule: &api.JobSchedule{ID: "s", DisplayName: "d", State: "active", PreviousState: "disabled", CreationTime: tp,
			StateTransitionTime: tp, LastModified: tp,
			JobSpecification: &api.JobSpecification{Priority: one, PoolInfo: &api.PoolInformation{PoolID: "p"}},
			ExecutionInfo:    &api.JobScheduleExecutionInformation{NextRunTime: tp, EndTime: tp, RecentJob: &api.RecentJob{ID: "j"}}},
	}
	for kind, schema := range Schemas {
		e, ok := entities[kind]
		if !ok {
			t.Fatalf("no test entity for kind %d", kind)
		}
		get := Accessor(e)
		for path, typ := range schema {
			v, ok := get(path)
			if !ok {
				t.Errorf("kind %d: %s not read", kind, path)
				continue
			}
			if _, ok := odata.Normalize(typ, v); !ok {
				t.Errorf("kind %d: %s read as %T, not as a %s", kind, path, v, typ)
			}
		}
	}
}
