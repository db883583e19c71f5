package httpapi

import (
	"errors"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/odata"
)

// entityKind names a listed entity type, for $filter and $select.
type entityKind int

const (
	kindPool entityKind = iota
	kindJob
	kindTask
	kindNode
	kindJobSchedule
)

// Filterable properties per entity: the ones the Azure docs filter on.
var schemas = map[entityKind]odata.Schema{
	kindTask: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "previousState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"previousStateTransitionTime": odata.DateTime, "commandLine": odata.String, "requiredSlots": odata.Int,
		"executionInfo/exitCode": odata.Int, "executionInfo/result": odata.Enum, "executionInfo/startTime": odata.DateTime,
		"executionInfo/endTime": odata.DateTime, "executionInfo/retryCount": odata.Int, "executionInfo/requeueCount": odata.Int,
		"executionInfo/failureInfo/code": odata.String, "executionInfo/failureInfo/category": odata.Enum,
		"nodeInfo/nodeId": odata.String, "nodeInfo/poolId": odata.String,
	},
	kindJob: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "previousState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"priority": odata.Int, "poolInfo/poolId": odata.String, "executionInfo/poolId": odata.String,
		"executionInfo/startTime": odata.DateTime, "executionInfo/endTime": odata.DateTime,
		"executionInfo/terminateReason": odata.String, "onAllTasksComplete": odata.Enum, "onTaskFailure": odata.Enum,
		"usesTaskDependencies": odata.Bool,
	},
	kindJobSchedule: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "previousState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"executionInfo/nextRunTime": odata.DateTime, "executionInfo/endTime": odata.DateTime,
		"executionInfo/recentJob/id": odata.String, "jobSpecification/poolInfo/poolId": odata.String,
		"jobSpecification/priority": odata.Int,
	},
	kindPool: {
		"id": odata.String, "displayName": odata.String, "state": odata.Enum, "allocationState": odata.Enum,
		"creationTime": odata.DateTime, "stateTransitionTime": odata.DateTime, "lastModified": odata.DateTime,
		"vmSize": odata.String, "currentDedicatedNodes": odata.Int, "targetDedicatedNodes": odata.Int,
		"taskSlotsPerNode": odata.Int,
	},
	kindNode: {
		"id": odata.String, "state": odata.Enum, "schedulingState": odata.Enum, "stateTransitionTime": odata.DateTime,
		"ipAddress": odata.String, "isDedicated": odata.Bool, "runningTasksCount": odata.Int, "totalTasksRun": odata.Int,
	},
}

// Selectable top-level properties per entity (the JSON names).
var selectable = map[entityKind][]string{
	kindTask: {"id", "displayName", "url", "eTag", "lastModified", "creationTime", "exitConditions", "state",
		"stateTransitionTime", "previousState", "previousStateTransitionTime", "commandLine", "containerSettings",
		"resourceFiles", "outputFiles", "environmentSettings", "affinityInfo", "constraints", "requiredSlots",
		"userIdentity", "executionInfo", "nodeInfo", "multiInstanceSettings", "stats", "dependsOn",
		"applicationPackageReferences", "authenticationTokenSettings"},
	kindJob: {"id", "displayName", "usesTaskDependencies", "url", "eTag", "lastModified", "creationTime", "state",
		"stateTransitionTime", "previousState", "previousStateTransitionTime", "priority", "allowTaskPreemption",
		"maxParallelTasks", "constraints", "jobManagerTask", "jobPreparationTask", "jobReleaseTask",
		"commonEnvironmentSettings", "poolInfo", "onAllTasksComplete", "onTaskFailure", "networkConfiguration",
		"metadata", "executionInfo", "stats"},
	kindJobSchedule: {"id", "displayName", "url", "eTag", "lastModified", "creationTime", "state",
		"stateTransitionTime", "previousState", "previousStateTransitionTime", "schedule", "jobSpecification",
		"executionInfo", "metadata", "stats"},
	kindPool: {"id", "displayName", "url", "eTag", "lastModified", "creationTime", "state", "stateTransitionTime",
		"allocationState", "allocationStateTransitionTime", "vmSize", "cloudServiceConfiguration",
		"virtualMachineConfiguration", "resizeTimeout", "resizeErrors", "currentDedicatedNodes",
		"currentLowPriorityNodes", "targetDedicatedNodes", "targetLowPriorityNodes", "enableAutoScale",
		"autoScaleFormula", "autoScaleEvaluationInterval", "autoScaleRun", "enableInterNodeCommunication", "networkConfiguration",
		"startTask", "certificateReferences", "applicationPackageReferences", "applicationLicenses",
		"taskSlotsPerNode", "taskSchedulingPolicy", "userAccounts", "metadata", "stats", "mountConfiguration",
		"identity", "targetNodeCommunicationMode", "currentNodeCommunicationMode"},
	kindNode: {"id", "url", "state", "schedulingState", "stateTransitionTime", "lastBootTime", "allocationTime",
		"ipAddress", "affinityId", "vmSize", "totalTasksRun", "runningTasksCount", "runningTaskSlotsCount",
		"totalTasksSucceeded", "recentTasks", "startTask", "startTaskInfo", "certificateReferences", "errors",
		"isDedicated", "endpointConfiguration", "nodeAgentInfo", "virtualMachineInfo"},
}

// compileFilter parses a $filter for kind. It returns the predicate and,
// when the filter requires "state eq 'x'" at top level, that state so the
// store can narrow its query.
func compileFilter(kind entityKind, expr string) (func(any) bool, string, error) {
	f, err := odata.ParseFilter(expr, schemas[kind])
	if err != nil {
		var oe *odata.Error
		if errors.As(err, &oe) {
			return nil, "", errors.New(oe.Error())
		}
		return nil, "", err
	}
	if f == nil {
		return nil, "", nil
	}
	state := ""
	if v, ok := f.EqualityConjunct("state"); ok {
		if s, ok := v.(string); ok {
			state = lowerASCII(s)
		}
	}
	return func(v any) bool { return f.Eval(accessor(v)) }, state, nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
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

// accessor exposes an entity's filterable properties by path.
func accessor(v any) odata.Accessor {
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

func parseSelect(kind entityKind, v string) ([]string, error) {
	return odata.ParseSelect(v, selectable[kind])
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
