package httpapi

import (
	"errors"

	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/odata"
)

// entityKind names a listed entity type, for $filter and $select. The
// filterable properties of each kind are defined in filterprops.
type entityKind = filterprops.Kind

const (
	kindPool        = filterprops.Pool
	kindJob         = filterprops.Job
	kindTask        = filterprops.Task
	kindNode        = filterprops.Node
	kindJobSchedule = filterprops.JobSchedule
)

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

// compileFilter parses a $filter for kind. The store runs it (in SQL where
// it can); lists that are not paged by the store evaluate it with
// filterprops.Accessor.
func compileFilter(kind entityKind, expr string) (*odata.Filter, error) {
	f, err := odata.ParseFilter(expr, filterprops.Schemas[kind])
	if err != nil {
		var oe *odata.Error
		if errors.As(err, &oe) {
			return nil, errors.New(oe.Error())
		}
		return nil, err
	}
	return f, nil
}

func parseSelect(kind entityKind, v string) ([]string, error) {
	return odata.ParseSelect(v, selectable[kind])
}
