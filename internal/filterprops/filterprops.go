// Package filterprops is the one definition of what a $filter can read
// on each Batch entity: the schema of its filterable properties (paths and
// types) and the accessor that reads them from the wire type. The HTTP
// layer parses filters against the schemas; the store fills its filter
// columns and evaluates what it cannot run in SQL through the same
// accessors, so both give one answer.
package filterprops

import (
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/odata"
)

// Kind names a listed entity type.
type Kind int

// Entity kinds.
const (
	Pool Kind = iota
	Job
	Task
	Node
	JobSchedule
)

// Schemas holds the filterable properties of each kind: the ones the Azure
// docs filter on, with their types.
var Schemas = map[Kind]odata.Schema{
	Task: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "previousState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"previousStateTransitionTime": odata.DateTime, "commandLine": odata.String, "requiredSlots": odata.Int,
		"executionInfo/exitCode": odata.Int, "executionInfo/result": odata.Enum, "executionInfo/startTime": odata.DateTime,
		"executionInfo/endTime": odata.DateTime, "executionInfo/retryCount": odata.Int, "executionInfo/requeueCount": odata.Int,
		"executionInfo/failureInfo/code": odata.String, "executionInfo/failureInfo/category": odata.Enum,
		"nodeInfo/nodeId": odata.String, "nodeInfo/poolId": odata.String,
	},
	Job: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "previousState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"priority": odata.Int, "poolInfo/poolId": odata.String, "executionInfo/poolId": odata.String,
		"executionInfo/startTime": odata.DateTime, "executionInfo/endTime": odata.DateTime,
		"executionInfo/terminateReason": odata.String, "onAllTasksComplete": odata.Enum, "onTaskFailure": odata.Enum,
		"usesTaskDependencies": odata.Bool,
	},
	JobSchedule: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "previousState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"executionInfo/nextRunTime": odata.DateTime, "executionInfo/endTime": odata.DateTime,
		"executionInfo/recentJob/id": odata.String, "jobSpecification/poolInfo/poolId": odata.String,
		"jobSpecification/priority": odata.Int,
	},
	Pool: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "allocationState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"vmSize": odata.String, "currentDedicatedNodes": odata.Int, "targetDedicatedNodes": odata.Int,
		"taskSlotsPerNode": odata.Int,
	},
	Node: {
		"id": odata.String, "state": odata.Enum, "schedulingState": odata.Enum, "stateTransitionTime": odata.DateTime,
		"ipAddress": odata.String, "isDedicated": odata.Bool, "runningTasksCount": odata.Int, "totalTasksRun": odata.Int,
	},
}

func tp(t *time.Time) (any, bool) {
	if t == nil {
		return nil, false
	}
	return *t, true
}

func str(s string) (any, bool) {
	if s == "" {
		return nil, false
	}
	return s, true
}

func i32(p *int32) (any, bool) {
	if p == nil {
		return nil, false
	}
	return int64(*p), true
}

// Accessor exposes the filterable properties of an entity (*api.Task,
// *api.Job, *api.Pool, *api.ComputeNode or *api.JobSchedule) by path, as
// odata.Filter.Eval reads them. A property that is absent reads as missing
// (null). Both the HTTP layer and the store read entities through it, so the
// Go evaluator and the store's SQL columns agree by construction.
func Accessor(v any) odata.Accessor {
	switch e := v.(type) {
	case *api.Task:
		return func(p string) (any, bool) { return taskProp(e, p) }
	case *api.Job:
		return func(p string) (any, bool) { return jobProp(e, p) }
	case *api.Pool:
		return func(p string) (any, bool) { return poolProp(e, p) }
	case *api.ComputeNode:
		return func(p string) (any, bool) { return nodeProp(e, p) }
	case *api.JobSchedule:
		return func(p string) (any, bool) { return jobScheduleProp(e, p) }
	}
	return func(string) (any, bool) { return nil, false }
}

func taskProp(t *api.Task, p string) (any, bool) {
	switch p {
	case "id":
		return t.ID, true
	case "displayName":
		return str(t.DisplayName)
	case "state":
		return string(t.State), true
	case "previousState":
		return str(string(t.PreviousState))
	case "creationTime":
		return tp(t.CreationTime)
	case "stateTransitionTime":
		return tp(t.StateTransitionTime)
	case "lastModified":
		return tp(t.LastModified)
	case "previousStateTransitionTime":
		return tp(t.PreviousStateTransitionTime)
	case "commandLine":
		return t.CommandLine, true
	case "requiredSlots":
		return i32(t.RequiredSlots)
	case "nodeInfo/nodeId", "nodeInfo/poolId":
		if t.NodeInfo == nil {
			return nil, false
		}
		if p == "nodeInfo/nodeId" {
			return str(t.NodeInfo.NodeID)
		}
		return str(t.NodeInfo.PoolID)
	}
	ei := t.ExecutionInfo
	if ei == nil {
		return nil, false
	}
	switch p {
	case "executionInfo/exitCode":
		return i32(ei.ExitCode)
	case "executionInfo/result":
		return str(string(ei.Result))
	case "executionInfo/startTime":
		return tp(ei.StartTime)
	case "executionInfo/endTime":
		return tp(ei.EndTime)
	case "executionInfo/retryCount":
		return int64(ei.RetryCount), true
	case "executionInfo/requeueCount":
		return int64(ei.RequeueCount), true
	case "executionInfo/failureInfo/code", "executionInfo/failureInfo/category":
		if ei.FailureInfo == nil {
			return nil, false
		}
		if p == "executionInfo/failureInfo/code" {
			return str(ei.FailureInfo.Code)
		}
		return str(string(ei.FailureInfo.Category))
	}
	return nil, false
}

func jobProp(j *api.Job, p string) (any, bool) {
	switch p {
	case "id":
		return j.ID, true
	case "displayName":
		return str(j.DisplayName)
	case "state":
		return string(j.State), true
	case "previousState":
		return str(string(j.PreviousState))
	case "creationTime":
		return tp(j.CreationTime)
	case "stateTransitionTime":
		return tp(j.StateTransitionTime)
	case "lastModified":
		return tp(j.LastModified)
	case "priority":
		return i32(j.Priority)
	case "poolInfo/poolId":
		if j.PoolInfo == nil {
			return nil, false
		}
		return str(j.PoolInfo.PoolID)
	case "onAllTasksComplete":
		return str(string(j.OnAllTasksComplete))
	case "onTaskFailure":
		return str(string(j.OnTaskFailure))
	case "usesTaskDependencies":
		if j.UsesTaskDependencies == nil {
			return false, true
		}
		return *j.UsesTaskDependencies, true
	}
	ei := j.ExecutionInfo
	if ei == nil {
		return nil, false
	}
	switch p {
	case "executionInfo/poolId":
		return str(ei.PoolID)
	case "executionInfo/startTime":
		return ei.StartTime, true
	case "executionInfo/endTime":
		return tp(ei.EndTime)
	case "executionInfo/terminateReason":
		return str(ei.TerminateReason)
	}
	return nil, false
}

func poolProp(pl *api.Pool, p string) (any, bool) {
	switch p {
	case "id":
		return pl.ID, true
	case "displayName":
		return str(pl.DisplayName)
	case "state":
		return string(pl.State), true
	case "allocationState":
		return string(pl.AllocationState), true
	case "creationTime":
		return tp(pl.CreationTime)
	case "stateTransitionTime":
		return tp(pl.StateTransitionTime)
	case "lastModified":
		return tp(pl.LastModified)
	case "vmSize":
		return pl.VMSize, true
	case "currentDedicatedNodes":
		return i32(pl.CurrentDedicatedNodes)
	case "targetDedicatedNodes":
		return i32(pl.TargetDedicatedNodes)
	case "taskSlotsPerNode":
		return i32(pl.TaskSlotsPerNode)
	}
	return nil, false
}

func nodeProp(n *api.ComputeNode, p string) (any, bool) {
	switch p {
	case "id":
		return n.ID, true
	case "state":
		return string(n.State), true
	case "schedulingState":
		return string(n.SchedulingState), true
	case "stateTransitionTime":
		return tp(n.StateTransitionTime)
	case "ipAddress":
		return str(n.IPAddress)
	case "isDedicated":
		return n.IsDedicated, true
	case "runningTasksCount":
		return int64(n.RunningTasksCount), true
	case "totalTasksRun":
		return int64(n.TotalTasksRun), true
	}
	return nil, false
}

func jobScheduleProp(js *api.JobSchedule, p string) (any, bool) {
	switch p {
	case "id":
		return js.ID, true
	case "displayName":
		return str(js.DisplayName)
	case "state":
		return string(js.State), true
	case "previousState":
		return str(string(js.PreviousState))
	case "creationTime":
		return tp(js.CreationTime)
	case "stateTransitionTime":
		return tp(js.StateTransitionTime)
	case "lastModified":
		return tp(js.LastModified)
	case "jobSpecification/poolInfo/poolId":
		if js.JobSpecification == nil || js.JobSpecification.PoolInfo == nil {
			return nil, false
		}
		return str(js.JobSpecification.PoolInfo.PoolID)
	case "jobSpecification/priority":
		if js.JobSpecification == nil {
			return nil, false
		}
		return i32(js.JobSpecification.Priority)
	}
	ei := js.ExecutionInfo
	if ei == nil {
		return nil, false
	}
	switch p {
	case "executionInfo/nextRunTime":
		return tp(ei.NextRunTime)
	case "executionInfo/endTime":
		return tp(ei.EndTime)
	case "executionInfo/recentJob/id":
		if ei.RecentJob == nil {
			return nil, false
		}
		return str(ei.RecentJob.ID)
	}
	return nil, false
}
